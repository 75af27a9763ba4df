"""Frame sizes on the command line and in messages: always ``WIDTHxHEIGHT`` in pixels, e.g. ``320x192``."""

from __future__ import annotations

import re

from instanceformer.core.errors import UserError

_SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_frame_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``"WIDTHxHEIGHT"`` (e.g. ``"320x192"``) -> ``(height, width)`` in pixels.

    Raises:
        UserError: naming ``option``, when ``text`` is not two positive integers joined by ``x``.
    """
    match = _SIZE_PATTERN.match(text)
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise UserError(f"{option}: expected WIDTHxHEIGHT in pixels such as 320x192, got {text!r}")
    return int(match.group(2)), int(match.group(1))


def format_frame_size(height: int, width: int) -> str:
    """``(height, width)`` written as on the command line: ``"WIDTHxHEIGHT"``."""
    return f"{width}x{height}"
