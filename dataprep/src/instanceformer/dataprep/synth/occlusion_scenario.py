"""The occlusion scenario: identical objects that only their motion and memory tell apart.

Every video holds ``identical_objects`` objects of one category with one look: shape, colour, texture,
size and rotation are shared, so in any frame two of them differ only in where they are. An occluder band
(:mod:`~instanceformer.dataprep.synth.occluders`) runs across the frame in front of everything, and with
probability :data:`COVER_PROBABILITY` a larger object of another category (a disc, square or hexagon,
when the categories hold one) drifts slowly in front of the identical objects. The identical objects move
in straight stretches between waypoints (:mod:`~instanceformer.dataprep.synth.paths`) and act out
scripted events:

- full occlusion: the object goes behind the band or the cover object, stays entirely hidden for k frames,
  and comes out again on either side (k drawn uniformly from ``full_occlusion_frames``);
- crossing: the object passes, at an angle, through the place where an earlier identical object is at
  that moment, so that one hides most or all of the other and the two swap sides;
- exit and re-entry: the object leaves the view through a border, stays out of view for 1-3 frames and
  comes back through the same border elsewhere.

Every video has at least one full occlusion of at least two frames between frames where the object is
visible, and at least one crossing of two identical objects. The knobs
(:class:`~instanceformer.dataprep.synth.occlusion_knobs.OcclusionKnobs`, options of ``ifm-prep synth``):

- ``identical_objects`` (``--identical-objects``, 2-8, default 3): identical objects per video.
- ``full_occlusion_probability`` (``--full-occlusion-probability``, default 0.5): the chance that each
  identical object besides the one with the guaranteed full occlusion has one too.
- ``full_occlusion_frames`` (``--full-occlusion-frames``, ``MIN-MAX``, default ``2-4``): how many frames
  a fully occluded object stays hidden; videos need at least ``MAX + 16`` frames.
- ``crossing_rate`` (``--crossing-rate``, default 0.5): the chance that each identical object besides
  the two of the guaranteed crossing crosses an earlier one.
- ``exit_probability`` (``--exit-probability``, default 0.4): the chance that an identical object leaves
  the view and comes back.
- ``object_scale`` (``--object-scale``, 0.5-2, default 1): multiplies the identical objects' base radius
  (drawn from :data:`IDENTICAL_RADIUS_RANGE` of the shorter frame side): larger objects are easier to
  detect at low resolution, and their crossings hide more of each other.

An optional event is left out when it does not fit into the object's path (the time is taken by another
event, or the object could not get there at its speed limit). Annotations are those of the default
scenario: one track per object, with the same annotation id through full occlusions and exits, a null
segmentation in every frame where the object is hidden or out of view, and the OVIS occlusion label of
every frame computed from the visible fraction.
"""

from __future__ import annotations

import numpy as np

from instanceformer.core.errors import UserError
from instanceformer.dataprep.synth.appearance import sample_appearance
from instanceformer.dataprep.synth.background import sample_background
from instanceformer.dataprep.synth.motion import REFERENCE_SIDE, Trajectory
from instanceformer.dataprep.synth.occluders import OccluderBand, sample_band
from instanceformer.dataprep.synth.occlusion_events import (
    CROSSING_CLEARANCE,
    SPEED_LIMIT,
    WANDER_SPEED,
    Cover,
    Stage,
    crossing_pair,
    crossing_with,
    exit_block,
    hide_block,
)
from instanceformer.dataprep.synth.occlusion_knobs import CROSSING_HALF_SPAN, OcclusionKnobs
from instanceformer.dataprep.synth.paths import Box, PathPlan, Waypoints
from instanceformer.dataprep.synth.scene import SceneObject, VideoScene, sample_brightness
from instanceformer.dataprep.synth.shapes import SHAPE_EXTENT, SHAPE_KINDS

IDENTICAL_RADIUS_RANGE = (0.06, 0.1)  # base radius of the identical objects, fraction of the shorter side
COVER_PROBABILITY = 0.5
COVER_SHAPES = {"disc": (1.0, 1.0), "square": (0.82, 1.16), "hexagon": (0.866, 1.0)}
"""Shapes that can hide an object: (inscribed radius, circumscribed radius) in radius units."""

_SIZE_WOBBLE = 0.08  # largest amplitude of the shared log-radius oscillation
_SIZE_FREQUENCY = (0.05, 0.25)  # radians per frame
_SPIN = 0.08  # largest shared rotation speed, radians per frame
_BAND_HIDDEN_ZONE = (0.2, 0.5)  # half width of the band's hiding zone, in object radii
_COVER_HIDDEN_ZONE = 0.3  # radius of the cover's hiding zone, in object radii
_COVER_SPEED = (0.4, 1.2)  # pixels per frame at the reference frame size
_OPTIONAL_TRIES = 60
_REQUIRED_TRIES = 40
_STAGE_TRIES = 20


def sample_occlusion_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    num_frames: int,
    num_categories: int,
    knobs: OcclusionKnobs,
) -> VideoScene:
    """Draw a video of the occlusion scenario (see the module docstring).

    Args:
        rng: the video's random stream.
        height, width: the frame size in pixels.
        num_frames: at least ``knobs.min_num_frames``.
        num_categories: the identical objects' category and the cover's are drawn from ``1..num_categories``.
        knobs: the scenario's parameters.
    """
    background = sample_background(rng, height, width, num_frames)
    unit = min(height, width) / REFERENCE_SIDE
    category_id = int(rng.integers(1, num_categories + 1))
    look = sample_appearance(rng)
    radii, angles = _shared_pose(rng, num_frames, min(height, width), knobs.object_scale)
    frame_size = np.array([width, height], dtype=np.float64)
    radius = float(radii.max())
    reach = SHAPE_EXTENT * radius
    box = Box(low=np.full(2, reach + 1.0), high=frame_size - reach - 1.0)
    for _ in range(_STAGE_TRIES):
        band = _sample_stage_band(rng, frame_size, box, radius)
        cover = _sample_cover(
            rng, category_id, num_categories, num_frames, frame_size, unit, radius, knobs.identical_objects
        )
        stage = Stage(num_frames, frame_size, unit, radius, box, band, cover)
        plans = _plans_with_required_events(rng, stage, knobs)
        if plans is not None:
            break
    else:
        raise UserError(
            "--size/--frames: the occlusion scenario found no room for a full occlusion and a crossing; "
            "use larger or longer frames"
        )
    paths: list[np.ndarray] = []
    for index, plan in enumerate(plans):
        _add_optional_events(rng, stage, knobs, plan, paths, index)
        paths.append(plan.centres(rng, box, (WANDER_SPEED[0] * unit, WANDER_SPEED[1] * unit)))

    depths = rng.permutation(knobs.identical_objects)
    objects = [
        SceneObject(
            category_id=category_id,
            appearance=look,
            trajectory=Trajectory(
                centres=centres, radii=radii, angles=angles, active=np.ones(num_frames, dtype=bool)
            ),
            depth=int(depth),
        )
        for centres, depth in zip(paths, depths, strict=True)
    ]
    if cover is not None:
        objects.append(cover.scene_object)
    order = rng.permutation(len(objects))
    return VideoScene(
        height=height,
        width=width,
        num_frames=num_frames,
        background=background,
        objects=tuple(objects[index] for index in order),
        brightness=sample_brightness(rng, num_frames),
        noise_seed=int(rng.integers(2**63 - 1)),
        occluders=(band,),
    )


def _shared_pose(
    rng: np.random.Generator, num_frames: int, shorter_side: int, object_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The radii and angles ``(num_frames,)`` that all identical objects share."""
    frames = np.arange(num_frames, dtype=np.float64)
    base_radius = rng.uniform(*IDENTICAL_RADIUS_RANGE) * shorter_side * object_scale
    radii = base_radius * np.exp(
        rng.uniform(0.0, _SIZE_WOBBLE)
        * np.sin(rng.uniform(*_SIZE_FREQUENCY) * frames + rng.uniform(0, 2 * np.pi))
    )
    angles = rng.uniform(-np.pi, np.pi) + rng.uniform(-_SPIN, _SPIN) * frames
    return radii, angles


def _sample_stage_band(
    rng: np.random.Generator, frame_size: np.ndarray, box: Box, radius: float
) -> OccluderBand:
    """A band across a ``frame_size`` (width, height) frame, wide enough to hide an identical object.

    It leaves room on both sides where the object is seen clear of it.
    """
    reach = SHAPE_EXTENT * radius
    half_width = reach + rng.uniform(*_BAND_HIDDEN_ZONE) * radius
    room = half_width + 2.0 * CROSSING_CLEARANCE * reach + 1.0  # leaves a strip of clear view on both sides
    axis = int(rng.integers(2))
    height, width = int(frame_size[1]), int(frame_size[0])
    return sample_band(rng, height, width, axis, (box.low[axis] + room, box.high[axis] - room), half_width)


def _sample_cover(
    rng: np.random.Generator,
    identical_category: int,
    num_categories: int,
    num_frames: int,
    frame_size: np.ndarray,
    unit: float,
    radius: float,
    in_front_of: int,
) -> Cover | None:
    """With probability :data:`COVER_PROBABILITY`, a slow object large enough to hide an identical one.

    Its depth is ``in_front_of``, the number of identical objects: it is drawn in front of them all.
    """
    wanted = rng.random() < COVER_PROBABILITY
    candidates = [
        category_id
        for category_id in range(1, num_categories + 1)
        if category_id != identical_category and SHAPE_KINDS[category_id - 1] in COVER_SHAPES
    ]
    if not wanted or not candidates:
        return None
    category_id = int(rng.choice(candidates))
    inscribed, circumscribed = COVER_SHAPES[SHAPE_KINDS[category_id - 1]]
    cover_radius = (SHAPE_EXTENT + _COVER_HIDDEN_ZONE) * radius / inscribed
    reach = circumscribed * cover_radius
    box = Box(low=np.full(2, reach + 1.0), high=frame_size - reach - 1.0)
    if box.is_empty:
        return None
    appearance = sample_appearance(rng)
    plan = PathPlan(num_frames, _COVER_SPEED[1] * unit)
    centres = plan.centres(rng, box, (_COVER_SPEED[0] * unit, _COVER_SPEED[1] * unit))
    frames = np.arange(num_frames, dtype=np.float64)
    trajectory = Trajectory(
        centres=centres,
        radii=np.full(num_frames, cover_radius),
        angles=rng.uniform(-np.pi, np.pi) + rng.uniform(-_SPIN, _SPIN) * frames,
        active=np.ones(num_frames, dtype=bool),
    )
    scene_object = SceneObject(
        category_id=category_id, appearance=appearance, trajectory=trajectory, depth=in_front_of
    )
    return Cover(scene_object, cover_radius, inscribed, circumscribed)


def _plans_with_required_events(
    rng: np.random.Generator, stage: Stage, knobs: OcclusionKnobs
) -> list[PathPlan] | None:
    """One plan per identical object: the first fully occluded, the first and second crossing.

    Some draws of the full occlusion leave no room for a crossing; those are drawn again. None when a few
    draws find no fit.
    """
    for _ in range(_REQUIRED_TRIES):
        plans = [PathPlan(stage.num_frames, SPEED_LIMIT * stage.unit) for _ in range(knobs.identical_objects)]
        hide = _first_hide_block(rng, stage, knobs)
        if hide is None or not plans[0].add(hide):
            continue
        for _ in range(_REQUIRED_TRIES):
            pair = crossing_pair(rng, stage, plans[0], _random_frame(rng, stage))
            if pair is not None and plans[0].fits(pair[0]) and plans[1].fits(pair[1]):
                plans[0].add(pair[0])
                plans[1].add(pair[1])
                return plans
    return None


def _add_optional_events(
    rng: np.random.Generator,
    stage: Stage,
    knobs: OcclusionKnobs,
    plan: PathPlan,
    paths: list[np.ndarray],
    index: int,
) -> None:
    """Draw the object's optional events from the knobs and add those that fit, in random order."""
    hides = rng.random() < knobs.full_occlusion_probability and index >= 1
    crosses = rng.random() < knobs.crossing_rate and index >= 2
    leaves = rng.random() < knobs.exit_probability
    events = [name for name, wanted in (("hide", hides), ("cross", crosses), ("exit", leaves)) if wanted]
    for event in rng.permutation(events) if events else []:
        for _ in range(_OPTIONAL_TRIES):
            if event == "hide":
                block = hide_block(rng, stage, _random_hide_start(rng, stage, knobs))
            elif event == "cross":
                partner = paths[int(rng.integers(len(paths)))]
                block = crossing_with(rng, stage, partner, _random_frame(rng, stage))
            else:
                block = exit_block(rng, stage, plan)
            if block is not None and plan.add(block):
                break


def _random_frame(rng: np.random.Generator, stage: Stage) -> int:
    """A frame index of the video, uniformly drawn."""
    return int(rng.integers(stage.num_frames))


def _random_hide_start(rng: np.random.Generator, stage: Stage, knobs: OcclusionKnobs) -> tuple[int, int]:
    """A first hidden frame and a number of hidden frames, uniformly drawn."""
    hidden_frames = int(rng.integers(knobs.full_occlusion_frames[0], knobs.full_occlusion_frames[1] + 1))
    return int(rng.integers(1, max(2, stage.num_frames - hidden_frames))), hidden_frames


def _first_hide_block(rng: np.random.Generator, stage: Stage, knobs: OcclusionKnobs) -> Waypoints | None:
    """A :func:`hide_block` that leaves room for the required crossing before or after it (else None)."""
    block = hide_block(rng, stage, _random_hide_start(rng, stage, knobs))
    room = 2 * CROSSING_HALF_SPAN + 3
    if block is None or (min(block) < room and max(block) >= stage.num_frames - room):
        return None
    return block
