"""Bounded retries with exponential backoff for transient HTTP failures."""

from __future__ import annotations

from dataclasses import dataclass

from instanceformer.core.errors import UserError

# Statuses that mean "try again later": rate limiting and server-side or gateway failures.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses a gateway answers without having passed the request on: safe to retry even for a POST
# that creates something on the server.
NOT_FORWARDED_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    ``attempts`` is the total number of tries (1 = no retry). The wait before retry ``k`` (0-based) is
    ``min(max_delay_s, base_delay_s * 2**k)`` seconds, or the server's ``Retry-After`` when that is
    longer (still capped at ``max_delay_s``).
    """

    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UserError(f"retries: expected at least 1 attempt, got {self.attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise UserError("retries: expected non-negative delays")

    def delay_s(self, retry_index: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_index`` (0 for the first retry)."""
        exponential = min(self.max_delay_s, self.base_delay_s * 2.0**retry_index)
        if retry_after_s is None:
            return exponential
        return min(self.max_delay_s, max(exponential, retry_after_s))


def parse_retry_after(value: str | None) -> float | None:
    """The seconds of a ``Retry-After: <seconds>`` header (``None`` when absent or a date)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
