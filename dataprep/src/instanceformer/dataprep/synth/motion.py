"""Object motion: smooth paths with bounces, scale change, rotation, entering and leaving the view.

Positions are object centres ``(x, y)`` in pixels (x to the right, y down, pixel centres at ``+0.5``).
An object in view moves with a slowly varying velocity and bounces when its centre comes closer to a
border than a fraction of its radius (so it may be partly cut off by the border). An entering object
starts just outside a border and travels in; a leaving object heads for the nearest border, travels
out, and may come back after a few frames, which leaves a gap in its track.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from instanceformer.dataprep.synth.shapes import SHAPE_EXTENT

REFERENCE_SIDE = 192.0
"""Speeds below are in pixels per frame for a frame whose shorter side is this many pixels."""

_MIN_SPEED, _MAX_SPEED = 0.6, 4.5
_TRAVEL_SPEED = (2.5, 5.0)  # speed range across the border when entering
_EXIT_FRAMES = (4, 10)  # a leaving object is out of view after this many frames (upper bound excluded)
_MAX_EXIT_SPEED = 10.0
_OUTSIDE_FRAMES = (1, 5)  # a returning object stays out of view this many frames (upper bound excluded)
MAX_STEP = float(np.hypot(_MAX_EXIT_SPEED, _MAX_SPEED))
"""The largest centre displacement per frame, in pixels at the reference frame size."""
_ACCELERATION_STD = 0.25
_ACCELERATION_PERSISTENCE = 0.7
_BORDER_INSET = 0.4  # bounce when the centre is closer than this many radii to a border
_SCALE_AMPLITUDE = (0.05, 0.3)  # log-radius oscillation amplitude
_SCALE_FREQUENCY = (0.05, 0.3)  # radians per frame
_SPIN = 0.12  # largest rotation speed, radians per frame


class _Phase(Enum):
    IN_VIEW = "in view"
    ENTERING = "entering"
    LEAVING = "leaving"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class MotionPlan:
    """When an object enters and leaves the view."""

    enter_frame: int | None  # None: in view from frame 0; else the first frame, just outside a border
    leave_frame: int | None  # None: never leaves; else the frame from which it heads out of the view
    returns: bool  # after leaving, comes back into view a few frames later


@dataclass(frozen=True)
class Trajectory:
    """Per-frame pose of one object; frames before ``enter_frame`` are inactive (not in the scene)."""

    centres: np.ndarray  # (num_frames, 2) float (x, y) in pixels
    radii: np.ndarray  # (num_frames,) float nominal radius in pixels
    angles: np.ndarray  # (num_frames,) float rotation in radians
    active: np.ndarray  # (num_frames,) bool whether the object exists in the scene at that frame


def sample_motion_plan(
    rng: np.random.Generator,
    num_frames: int,
    enter_probability: float = 0.25,
    leave_probability: float = 0.3,
    return_probability: float = 0.6,
) -> MotionPlan:
    """Draw when an object enters (frame >= 1) and leaves (from a fifth of the video on), if at all."""
    enter_frame = None
    if num_frames >= 4 and rng.random() < enter_probability:
        enter_frame = int(rng.integers(1, max(2, num_frames // 2)))
    leave_frame = None
    if num_frames >= 6 and rng.random() < leave_probability:
        earliest = max(num_frames // 5, (enter_frame or 0) + 2)
        latest = max(earliest + 1, num_frames // 2)
        leave_frame = int(rng.integers(earliest, latest))
    return MotionPlan(
        enter_frame=enter_frame, leave_frame=leave_frame, returns=bool(rng.random() < return_probability)
    )


def simulate_trajectory(
    rng: np.random.Generator,
    plan: MotionPlan,
    num_frames: int,
    height: int,
    width: int,
    base_radius: float,
    aim: tuple[np.ndarray, int] | None = None,
) -> Trajectory:
    """Simulate one object's path in a ``height x width`` frame over ``num_frames`` frames.

    Args:
        rng: the random stream of the object.
        plan: when the object enters and leaves the view.
        base_radius: the radius in pixels around which the object's size oscillates.
        aim: optional ``(point (2,) (x, y) pixels, frame)``: the initial velocity heads for that point so
            as to reach it around that frame (used to make objects cross, hence occlude, each other).
    """
    unit = min(height, width) / REFERENCE_SIDE
    frames = np.arange(num_frames, dtype=np.float64)
    radii = base_radius * np.exp(
        rng.uniform(*_SCALE_AMPLITUDE)
        * np.sin(rng.uniform(*_SCALE_FREQUENCY) * frames + rng.uniform(0, 2 * np.pi))
    )
    angles = rng.uniform(-np.pi, np.pi) + rng.uniform(-_SPIN, _SPIN) * frames
    frame_size = np.array([width, height], dtype=np.float64)

    centres = np.zeros((num_frames, 2))
    active = np.zeros(num_frames, dtype=bool)
    start = plan.enter_frame if plan.enter_frame is not None else 0
    velocity = _random_velocity(rng, unit)
    acceleration = np.zeros(2)
    position = _uniform_inside(rng, radii[start], frame_size)
    travel_axis, travel_sign, travel_speed = 0, 1.0, rng.uniform(*_TRAVEL_SPEED) * unit
    phase = _Phase.IN_VIEW
    if plan.enter_frame is not None:
        travel_axis = int(rng.integers(2))
        travel_sign = 1.0 if rng.random() < 0.5 else -1.0  # +1: enters through the low border
        position[travel_axis] = _outside_coordinate(-travel_sign, radii[start], frame_size[travel_axis])
        phase = _Phase.ENTERING
    if aim is not None and aim[1] > start:
        aim_point, aim_frame = aim
        velocity = _clamp_speed(
            (aim_point - position) / (aim_frame - start), _MIN_SPEED * unit, _MAX_SPEED * unit
        )
    departed = False
    frames_outside = 0

    for frame in range(start, num_frames):
        active[frame] = True
        centres[frame] = position
        radius = radii[frame]
        if (
            phase is _Phase.IN_VIEW
            and plan.leave_frame is not None
            and frame >= plan.leave_frame
            and not departed
        ):
            travel_axis, travel_sign = _nearest_exit(position, frame_size)
            exit_distance = _distance_to_outside(
                position[travel_axis], travel_sign, radius, frame_size[travel_axis]
            )
            travel_speed = (
                np.clip(exit_distance / rng.integers(*_EXIT_FRAMES), _TRAVEL_SPEED[0], _MAX_EXIT_SPEED) * unit
            )
            phase, departed = _Phase.LEAVING, True
        if phase is _Phase.OUTSIDE:
            frames_outside -= 1
            if not plan.returns or frames_outside > 0:
                continue
            travel_sign = -travel_sign
            travel_speed = rng.uniform(*_TRAVEL_SPEED) * unit
            phase = _Phase.ENTERING
        acceleration = _ACCELERATION_PERSISTENCE * acceleration + rng.normal(0.0, _ACCELERATION_STD * unit, 2)
        velocity = velocity + acceleration
        if phase is _Phase.IN_VIEW:
            velocity = _clamp_speed(velocity, _MIN_SPEED * unit, _MAX_SPEED * unit)
        else:
            sideways = 1 - travel_axis
            velocity[sideways] = np.clip(velocity[sideways], -_MAX_SPEED * unit, _MAX_SPEED * unit)
            velocity[travel_axis] = travel_sign * travel_speed
        low, high = _bounce_limits(radius, frame_size)
        for axis in (0, 1):
            if phase is not _Phase.IN_VIEW and axis == travel_axis:
                continue
            if (position[axis] < low[axis] and velocity[axis] < 0) or (
                position[axis] > high[axis] and velocity[axis] > 0
            ):
                velocity[axis] = -velocity[axis]
                acceleration[axis] = -acceleration[axis]
        position = position + velocity
        if phase is _Phase.ENTERING and low[travel_axis] <= position[travel_axis] <= high[travel_axis]:
            phase = _Phase.IN_VIEW
        elif phase is _Phase.LEAVING and _is_outside(position[travel_axis], radius, frame_size[travel_axis]):
            phase = _Phase.OUTSIDE
            frames_outside = int(rng.integers(*_OUTSIDE_FRAMES))
    return Trajectory(centres=centres, radii=radii, angles=angles, active=active)


def _random_velocity(rng: np.random.Generator, unit: float) -> np.ndarray:
    """A velocity ``(2,)`` (pixels per frame) of random direction and moderate speed."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    speed = rng.uniform(1.0, 3.5) * unit
    return speed * np.array([np.cos(angle), np.sin(angle)])


def _uniform_inside(rng: np.random.Generator, radius: float, frame_size: np.ndarray) -> np.ndarray:
    """A centre ``(2,)`` drawn so that the object's nominal disc lies in the frame when it fits."""
    low = np.minimum(radius, frame_size / 2)
    return rng.uniform(low, frame_size - low)


def _bounce_limits(radius: float, frame_size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre range ``(low (2,), high (2,))`` within which an object in view moves freely."""
    inset = np.minimum(_BORDER_INSET * radius, frame_size / 2)
    return inset, frame_size - inset


def _outside_coordinate(side_sign: float, radius: float, frame_side: float) -> float:
    """A centre coordinate just beyond the low border (``side_sign < 0``) or the high border."""
    distance = SHAPE_EXTENT * radius + 1.0
    return -distance if side_sign < 0 else frame_side + distance


def _is_outside(coordinate: float, radius: float, frame_side: float) -> bool:
    """Whether an object centred at ``coordinate`` on one axis is entirely beyond a border of that axis."""
    distance = SHAPE_EXTENT * radius + 1.0
    return coordinate < -distance or coordinate > frame_side + distance


def _distance_to_outside(coordinate: float, direction: float, radius: float, frame_side: float) -> float:
    """How far (pixels) a centre at ``coordinate`` must travel in ``direction`` (+-1) to be out of view."""
    beyond = SHAPE_EXTENT * radius + 1.0
    return coordinate + beyond if direction < 0 else frame_side + beyond - coordinate


def _nearest_exit(position: np.ndarray, frame_size: np.ndarray) -> tuple[int, float]:
    """The axis (0 x, 1 y) and direction (-1 towards 0, +1 towards the far border) of the nearest border."""
    distances = np.array([position[0], frame_size[0] - position[0], position[1], frame_size[1] - position[1]])
    nearest = int(np.argmin(distances))
    return nearest // 2, -1.0 if nearest % 2 == 0 else 1.0


def _clamp_speed(velocity: np.ndarray, min_speed: float, max_speed: float) -> np.ndarray:
    """``velocity`` ``(2,)`` rescaled so that its length lies in ``[min_speed, max_speed]``."""
    speed = float(np.hypot(velocity[0], velocity[1]))
    if speed < 1e-9:
        return np.array([min_speed, 0.0])
    return velocity * (np.clip(speed, min_speed, max_speed) / speed)
