"""The scenarios of the synthetic dataset and the knobs of the occlusion scenario, with their validation.

The meaning of every knob is described in :mod:`instanceformer.dataprep.synth.occlusion_scenario`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from instanceformer.core.errors import UserError

SCENARIOS = ("default", "occlusion")
"""``default``: 1-5 objects of random shapes and looks; ``occlusion``: identical objects hiding."""

MAX_IDENTICAL_OBJECTS = 8
MAX_FULL_OCCLUSION_FRAMES = 12
OBJECT_SCALE_RANGE = (0.5, 2.0)
"""The accepted ``object_scale`` (the identical objects' radius over the scenario's base radius)."""
APPROACH_FRAMES = 4
"""The most frames an object takes to go from visible to fully hidden, or back (at any frame size)."""
CROSSING_HALF_SPAN = 2
"""Frames of straight travel on either side of the frame where two crossing objects meet."""

_FRAME_RANGE_PATTERN = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class OcclusionKnobs:
    """What the occlusion scenario draws: identical objects, full occlusions, crossings, exits.

    Construction validates every field and raises :class:`UserError` naming the command-line option.
    """

    identical_objects: int = 3
    full_occlusion_probability: float = 0.5
    full_occlusion_frames: tuple[int, int] = (2, 4)
    crossing_rate: float = 0.5
    exit_probability: float = 0.4
    object_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 2 <= self.identical_objects <= MAX_IDENTICAL_OBJECTS:
            raise UserError(
                f"--identical-objects: expected a number between 2 and {MAX_IDENTICAL_OBJECTS}, "
                f"got {self.identical_objects}"
            )
        for option, value in (
            ("--full-occlusion-probability", self.full_occlusion_probability),
            ("--crossing-rate", self.crossing_rate),
            ("--exit-probability", self.exit_probability),
        ):
            if not 0.0 <= value <= 1.0:
                raise UserError(f"{option}: expected a probability between 0 and 1, got {value}")
        low, high = OBJECT_SCALE_RANGE
        if not low <= self.object_scale <= high:
            raise UserError(
                f"--object-scale: expected a factor between {low} and {high}, got {self.object_scale}"
            )
        shortest, longest = self.full_occlusion_frames
        if not 2 <= shortest <= longest <= MAX_FULL_OCCLUSION_FRAMES:
            raise UserError(
                "--full-occlusion-frames: expected MIN-MAX with 2 <= MIN <= MAX <= "
                f"{MAX_FULL_OCCLUSION_FRAMES}, got {shortest}-{longest}"
            )

    @property
    def min_num_frames(self) -> int:
        """The fewest frames per video that leave room for a full occlusion and a crossing of one object."""
        return self.full_occlusion_frames[1] + 2 * APPROACH_FRAMES + 2 * CROSSING_HALF_SPAN + 4

    def to_json(self) -> dict[str, Any]:
        """The knobs as a JSON object (recorded in the annotation files' ``info``)."""
        knobs = asdict(self)
        knobs["full_occlusion_frames"] = list(self.full_occlusion_frames)
        return knobs


def parse_frame_range(text: str, option: str = "--full-occlusion-frames") -> tuple[int, int]:
    """``"MIN-MAX"`` or ``"N"`` (frames) -> ``(MIN, MAX)``; raises :class:`UserError` naming ``option``."""
    match = _FRAME_RANGE_PATTERN.match(text)
    if match is None:
        raise UserError(f"{option}: expected a frame count N or a range MIN-MAX such as 2-4, got {text!r}")
    shortest = int(match.group(1))
    longest = int(match.group(2)) if match.group(2) is not None else shortest
    return shortest, longest


def occlusion_knobs_from_options(
    scenario: str,
    identical_objects: int | None = None,
    full_occlusion_probability: float | None = None,
    full_occlusion_frames: str | None = None,
    crossing_rate: float | None = None,
    exit_probability: float | None = None,
    object_scale: float | None = None,
) -> OcclusionKnobs:
    """The occlusion knobs given on the command line, the defaults for those left out (None).

    Raises:
        UserError: when a knob is given with a scenario other than ``occlusion``, or is out of range.
    """
    given = {
        "--identical-objects": identical_objects,
        "--full-occlusion-probability": full_occlusion_probability,
        "--full-occlusion-frames": full_occlusion_frames,
        "--crossing-rate": crossing_rate,
        "--exit-probability": exit_probability,
        "--object-scale": object_scale,
    }
    if scenario != "occlusion":
        for option, value in given.items():
            if value is not None:
                raise UserError(f"{option}: applies to --scenario occlusion only, got --scenario {scenario}")
    defaults = OcclusionKnobs()
    return OcclusionKnobs(
        identical_objects=defaults.identical_objects if identical_objects is None else identical_objects,
        full_occlusion_probability=(
            defaults.full_occlusion_probability
            if full_occlusion_probability is None
            else full_occlusion_probability
        ),
        full_occlusion_frames=(
            defaults.full_occlusion_frames
            if full_occlusion_frames is None
            else parse_frame_range(full_occlusion_frames)
        ),
        crossing_rate=defaults.crossing_rate if crossing_rate is None else crossing_rate,
        exit_probability=defaults.exit_probability if exit_probability is None else exit_probability,
        object_scale=defaults.object_scale if object_scale is None else object_scale,
    )
