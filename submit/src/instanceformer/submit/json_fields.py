"""Reading typed fields out of the servers' JSON answers (anything unexpected becomes None)."""

from __future__ import annotations

from typing import Any


def optional_int(value: Any) -> int | None:
    """``value`` when it is an integer (bool excluded), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optional_str(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def optional_float(value: Any) -> float | None:
    """``value`` as a float when it is a number or a numeric string (Django REST decimals), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
