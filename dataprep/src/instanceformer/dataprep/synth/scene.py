"""A random video scene: background, objects (shape, look, path) and their depth order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instanceformer.dataprep.synth.appearance import ObjectAppearance, sample_appearance
from instanceformer.dataprep.synth.background import Background, sample_background
from instanceformer.dataprep.synth.motion import Trajectory, sample_motion_plan, simulate_trajectory
from instanceformer.dataprep.synth.occluders import OccluderBand
from instanceformer.dataprep.synth.shapes import SHAPE_KINDS

MAX_OBJECTS = 5
OBJECT_COUNT_WEIGHTS = np.array([0.1, 0.22, 0.28, 0.24, 0.16])  # probabilities of 1..MAX_OBJECTS objects
SAME_CATEGORY_PROBABILITY = 0.35  # chance that a video with 2+ objects holds a forced same-category pair
CROSSING_PROBABILITY = 0.8  # chance that an object heads for where an earlier object will be
RADIUS_RANGE = (0.09, 0.24)  # base radius as a fraction of the frame's shorter side
_BRIGHTNESS_DRIFT = 0.03
_BRIGHTNESS_JITTER = 0.01


@dataclass(frozen=True)
class SceneObject:
    """One object instance of a video."""

    category_id: int  # 1-based; the shape is SHAPE_KINDS[category_id - 1]
    appearance: ObjectAppearance
    trajectory: Trajectory
    depth: int  # 0 is the farthest; a larger depth is drawn on top of (occludes) a smaller one

    @property
    def kind(self) -> str:
        """The shape kind of the object's category."""
        return SHAPE_KINDS[self.category_id - 1]


@dataclass(frozen=True)
class VideoScene:
    """Everything needed to render the frames of one video."""

    height: int
    width: int
    num_frames: int
    background: Background
    objects: tuple[SceneObject, ...]  # in annotation order
    brightness: np.ndarray  # (num_frames,) global illumination gain per frame
    noise_seed: int  # seeds the per-frame sensor noise
    occluders: tuple[OccluderBand, ...] = ()  # drawn in front of every object


def sample_scene(
    rng: np.random.Generator, height: int, width: int, num_frames: int, num_categories: int
) -> VideoScene:
    """Draw a video: a panning textured background and 1 to ``MAX_OBJECTS`` moving objects.

    Categories are drawn uniformly from ``1..num_categories``; with probability
    ``SAME_CATEGORY_PROBABILITY`` two of the objects share a category (tracking must then tell them apart
    by identity). The depth order is a random permutation.
    """
    background = sample_background(rng, height, width, num_frames)
    num_objects = int(rng.choice(np.arange(1, MAX_OBJECTS + 1), p=OBJECT_COUNT_WEIGHTS))
    category_ids = rng.integers(1, num_categories + 1, num_objects)
    if num_objects >= 2 and rng.random() < SAME_CATEGORY_PROBABILITY:
        source, target = rng.choice(num_objects, size=2, replace=False)
        category_ids[target] = category_ids[source]
    depths = rng.permutation(num_objects)
    shorter_side = min(height, width)
    objects: list[SceneObject] = []
    for index in range(num_objects):
        appearance = sample_appearance(rng)
        base_radius = rng.uniform(*RADIUS_RANGE) * shorter_side
        plan = sample_motion_plan(rng, num_frames)
        aim = _crossing_target(rng, objects, plan.enter_frame or 0, num_frames)
        trajectory = simulate_trajectory(rng, plan, num_frames, height, width, base_radius, aim)
        objects.append(
            SceneObject(
                category_id=int(category_ids[index]),
                appearance=appearance,
                trajectory=trajectory,
                depth=int(depths[index]),
            )
        )
    return VideoScene(
        height=height,
        width=width,
        num_frames=num_frames,
        background=background,
        objects=tuple(objects),
        brightness=sample_brightness(rng, num_frames),
        noise_seed=int(rng.integers(2**63 - 1)),
    )


def sample_brightness(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """A global illumination gain per frame ``(num_frames,)`` float32: a slow drift plus jitter around 1."""
    frames = np.arange(num_frames)
    brightness = (
        1.0
        + _BRIGHTNESS_DRIFT * np.sin(rng.uniform(0.05, 0.3) * frames + rng.uniform(0, 2 * np.pi))
        + rng.normal(0.0, _BRIGHTNESS_JITTER, num_frames)
    )
    return brightness.astype(np.float32)


def _crossing_target(
    rng: np.random.Generator, earlier: list[SceneObject], start_frame: int, num_frames: int
) -> tuple[np.ndarray, int] | None:
    """With probability ``CROSSING_PROBABILITY``, a ``(point (2,), frame)`` on an earlier object's path.

    The frame lies at least 3 frames after ``start_frame``; None when there is no earlier object, no such
    frame, or the earlier object is not in the scene then.
    """
    if not earlier or rng.random() >= CROSSING_PROBABILITY or start_frame + 3 >= num_frames:
        return None
    target = earlier[int(rng.integers(len(earlier)))].trajectory
    meeting_frame = int(rng.integers(start_frame + 3, num_frames))
    if not target.active[meeting_frame]:
        return None
    return target.centres[meeting_frame].copy(), meeting_frame
