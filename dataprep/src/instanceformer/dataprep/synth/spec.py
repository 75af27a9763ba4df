"""The parameters of a synthetic dataset and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from instanceformer.core.errors import UserError
from instanceformer.dataprep.synth.occlusion_knobs import SCENARIOS, OcclusionKnobs
from instanceformer.dataprep.synth.shapes import SHAPE_KINDS

MIN_FRAME_SIDE = 32
# Smaller frames leave too little room to place the occlusion scenario's guaranteed events.
MIN_OCCLUSION_FRAME_SIDE = 64
MAX_FRAME_SIDE = 4096
MAX_FRAMES_PER_VIDEO = 99_999


@dataclass(frozen=True)
class SynthSpec:
    """What to generate: split sizes, video length, frame size (pixels), number of categories, seed.

    The first ``num_categories`` entries of :data:`SHAPE_KINDS` are the categories (ids 1..K).
    ``scenario`` is one of :data:`SCENARIOS`; ``occlusion`` holds the knobs of the ``occlusion`` scenario
    (see :mod:`instanceformer.dataprep.synth.occlusion_scenario`), unused by the default scenario.
    Construction validates every field and raises :class:`UserError` with a one-line message.
    """

    train_videos: int = 48
    valid_videos: int = 12
    num_frames: int = 24
    height: int = 192
    width: int = 320
    num_categories: int = 6
    seed: int = 0
    scenario: str = "default"
    occlusion: OcclusionKnobs = field(default_factory=OcclusionKnobs)

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
                f"--num-categories: expected a number between 1 and {len(SHAPE_KINDS)} "
                f"(the shape kinds), got {self.num_categories}"
            )
        if self.seed < 0:
            raise UserError(f"--seed: expected a non-negative integer, got {self.seed}")
        if self.scenario not in SCENARIOS:
            raise UserError(f"--scenario: expected one of {', '.join(SCENARIOS)}, got {self.scenario!r}")
        if self.scenario == "occlusion" and self.num_frames < self.occlusion.min_num_frames:
            shortest, longest = self.occlusion.full_occlusion_frames
            raise UserError(
                f"--frames: the occlusion scenario with --full-occlusion-frames {shortest}-{longest} needs "
                f"at least {self.occlusion.min_num_frames} frames per video, got {self.num_frames}"
            )
        if self.scenario == "occlusion" and min(self.width, self.height) < MIN_OCCLUSION_FRAME_SIDE:
            raise UserError(
                f"--size: the occlusion scenario needs frames of at least {MIN_OCCLUSION_FRAME_SIDE} pixels "
                f"a side (room to hide and cross), got {self.width}x{self.height}"
            )

    @property
    def category_names(self) -> tuple[str, ...]:
        """The category names, index ``k`` holding category id ``k + 1``."""
        return SHAPE_KINDS[: self.num_categories]


def _require_positive(option: str, value: int) -> None:
    """Raise :class:`UserError` unless ``value`` is a positive integer."""
    if value < 1:
        raise UserError(f"{option}: expected a positive integer, got {value}")
