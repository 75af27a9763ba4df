"""The parameters of a synthetic dataset and their validation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from instanceformer.core.errors import UserError
from instanceformer.dataprep.synth.shapes import SHAPE_KINDS

MIN_FRAME_SIDE = 32
MAX_FRAME_SIDE = 4096
MAX_FRAMES_PER_VIDEO = 99_999

_SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@dataclass(frozen=True)
class SynthSpec:
    """What to generate: split sizes, video length, frame size (pixels), number of categories, seed.

    The first ``num_categories`` entries of :data:`SHAPE_KINDS` are the categories (ids 1..K).
    Construction validates every field and raises :class:`UserError` with a one-line message.
    """

    train_videos: int = 48
    valid_videos: int = 12
    num_frames: int = 24
    height: int = 192
    width: int = 320
    num_categories: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        _require_positive("--videos", self.train_videos)
        _require_positive("--valid-videos", self.valid_videos)
        _require_positive("--frames", self.num_frames)
        if self.num_frames > MAX_FRAMES_PER_VIDEO:
            raise UserError(f"--frames: expected at most {MAX_FRAMES_PER_VIDEO}, got {self.num_frames}")
        for name, side in (("height", self.height), ("width", self.width)):
            if not MIN_FRAME_SIDE <= side <= MAX_FRAME_SIDE:
                raise UserError(
                    f"--size: expected a frame {name} between {MIN_FRAME_SIDE} and {MAX_FRAME_SIDE} "
                    f"pixels, got {side}"
                )
        if not 1 <= self.num_categories <= len(SHAPE_KINDS):
            raise UserError(
                f"--categories: expected a number between 1 and {len(SHAPE_KINDS)} "
                f"(the shape kinds), got {self.num_categories}"
            )
        if self.seed < 0:
            raise UserError(f"--seed: expected a non-negative integer, got {self.seed}")

    @property
    def category_names(self) -> tuple[str, ...]:
        """The category names, index ``k`` holding category id ``k + 1``."""
        return SHAPE_KINDS[: self.num_categories]


def parse_frame_size(text: str) -> tuple[int, int]:
    """Parse a frame size written ``HxW`` (e.g. ``"192x320"``) into ``(height, width)`` in pixels."""
    match = _SIZE_PATTERN.match(text)
    if match is None:
        raise UserError(f"--size: expected HEIGHTxWIDTH in pixels such as 192x320, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _require_positive(option: str, value: int) -> None:
    """Raise :class:`UserError` unless ``value`` is a positive integer."""
    if value < 1:
        raise UserError(f"{option}: expected a positive integer, got {value}")
