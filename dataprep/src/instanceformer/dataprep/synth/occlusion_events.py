"""The scripted events of the occlusion scenario, each a block of waypoints of one object's path.

- :func:`hide_block`: the object goes behind the occluder band or the cover object, stays entirely hidden
  for a given number of frames and comes out again; its centre lies outside every occluder (so some of it
  shows) at the block's first and last waypoints.
- :func:`crossing_pair` and :func:`crossing_with`: the object passes in a straight line, at an angle,
  through the place where another identical object is at the same frame.
- :func:`exit_block`: the object leaves the view through a border and comes back through it elsewhere.

A :class:`Stage` holds what the events need to know: the frame, the identical objects' size, the band and
the cover. Every function returns None when its draw does not fit (the caller draws again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from instanceformer.dataprep.synth.occluders import OccluderBand
from instanceformer.dataprep.synth.occlusion_knobs import APPROACH_FRAMES, CROSSING_HALF_SPAN
from instanceformer.dataprep.synth.paths import Box, PathPlan, Waypoints, interpolate_waypoints
from instanceformer.dataprep.synth.scene import SceneObject
from instanceformer.dataprep.synth.shapes import SHAPE_EXTENT

CLEARANCE = 0.25
"""A visible point's centre lies outside every occluder by at least this fraction of the object's reach."""
CROSSING_CLEARANCE = 0.75
"""The meeting point of a required crossing lies outside every occluder by this fraction of the reach."""
# Speeds in pixels per frame at the reference frame size.
WANDER_SPEED = (1.0, 3.5)
"""The speed range of an identical object between its events."""
SPEED_LIMIT = 4.5
"""The most an identical object moves per frame between two events."""
_HIDE_SPEED = (5.0, 8.0)
_EXIT_SPEED = (5.0, 9.0)
_CROSSING_SPEED = (2.5, 4.5)
_CROSSING_ANGLE = (np.radians(50.0), np.radians(130.0))
_CROSSING_OFFSET = 0.15  # largest miss distance at the meeting frame, in object radii
_OUTSIDE_FRAMES = (1, 4)  # frames out of view when leaving (upper bound excluded)
_POINT_TRIES = 16


@dataclass(frozen=True)
class Cover:
    """The cover object and what its shape can hide."""

    scene_object: SceneObject
    radius: float  # pixels, constant
    inscribed: float  # radius units
    circumscribed: float  # radius units

    def centre(self, frame: int) -> np.ndarray:
        """The cover's centre ``(2,)`` in pixels at ``frame``."""
        return self.scene_object.trajectory.centres[frame]


@dataclass(frozen=True)
class Stage:
    """What the identical objects move among: the frame, their common size, the band and the cover."""

    num_frames: int
    frame_size: np.ndarray  # (2,) width, height
    unit: float  # pixels per reference pixel
    radius: float  # the identical objects' largest radius, pixels
    box: Box  # where an identical object lies entirely in view
    band: OccluderBand
    cover: Cover | None

    @property
    def reach(self) -> float:
        """How far (pixels) an identical object's pixels lie from its centre at most."""
        return SHAPE_EXTENT * self.radius

    def is_clear(self, point: np.ndarray, frame: int, margin: float) -> bool:
        """Whether an object centred at ``point`` lies outside the band and the cover by ``margin``."""
        if not self.band.clears(point, margin):
            return False
        if self.cover is None:
            return True
        distance = float(np.linalg.norm(point - self.cover.centre(frame)))
        return distance >= self.cover.circumscribed * self.cover.radius + margin


def hide_block(rng: np.random.Generator, stage: Stage, window: tuple[int, int]) -> Waypoints | None:
    """Waypoints that take an object behind the band or the cover for ``window = (first, count)`` frames.

    The object is visible (its centre outside every occluder) at the block's first and last waypoints.
    None when the block would leave the video or the frame, or not be visible at its ends.
    """
    use_cover = stage.cover is not None and rng.random() < 0.5
    hidden = _cover_hiding(rng, stage, window) if use_cover else _band_hiding(rng, stage, window)
    first, last = min(hidden), max(hidden)
    speed = rng.uniform(*_HIDE_SPEED) * stage.unit
    approach = _visible_beside(rng, stage, use_cover, hidden[first], first, speed, before=True)
    departure = _visible_beside(rng, stage, use_cover, hidden[last], last, speed, before=False)
    if approach is None or departure is None:
        return None
    return {**hidden, **approach, **departure}


def _band_hiding(rng: np.random.Generator, stage: Stage, window: tuple[int, int]) -> Waypoints:
    """The hidden stretch behind the band: two waypoints inside its hiding zone (a straight line)."""
    band, (first, count) = stage.band, window
    along_axis = 1 - band.axis
    zone = band.half_width - stage.reach
    drift = WANDER_SPEED[1] * stage.unit * (count - 1)
    start = np.empty(2)
    start[band.axis] = band.centre + rng.uniform(-zone, zone)
    start[along_axis] = rng.uniform(stage.box.low[along_axis], stage.box.high[along_axis])
    stop = start.copy()
    stop[band.axis] = band.centre + np.clip(
        start[band.axis] - band.centre + rng.uniform(-drift, drift), -zone, zone
    )
    stop[along_axis] = np.clip(
        start[along_axis] + rng.uniform(-drift, drift), stage.box.low[along_axis], stage.box.high[along_axis]
    )
    return {first: start, first + count - 1: stop}


def _cover_hiding(rng: np.random.Generator, stage: Stage, window: tuple[int, int]) -> Waypoints:
    """The hidden stretch behind the cover: one waypoint per frame, following the cover."""
    assert stage.cover is not None
    cover, (first, count) = stage.cover, window
    zone = cover.inscribed * cover.radius - stage.reach
    start, stop = _point_in_disc(rng, zone), _point_in_disc(rng, zone)
    last = min(first + count - 1, stage.num_frames - 1)
    return {
        frame: cover.centre(frame) + start + (stop - start) * (frame - first) / max(count - 1, 1)
        for frame in range(first, last + 1)
    }


def _point_in_disc(rng: np.random.Generator, radius: float) -> np.ndarray:
    """A point ``(2,)`` uniformly drawn in the disc of ``radius`` around the origin."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return radius * math.sqrt(rng.random()) * np.array([np.cos(angle), np.sin(angle)])


def _visible_beside(
    rng: np.random.Generator,
    stage: Stage,
    use_cover: bool,
    hidden_point: np.ndarray,
    hidden_frame: int,
    speed: float,
    before: bool,
) -> Waypoints | None:
    """A waypoint where the object is visible, reached from (or leading to) a hidden waypoint at ``speed``."""
    margin = CLEARANCE * stage.reach
    direction = -1 if before else 1
    if use_cover:
        assert stage.cover is not None
        cover = stage.cover
        angle = rng.uniform(0.0, 2.0 * np.pi)
        offset = (cover.circumscribed * cover.radius + margin + 0.5) * np.array(
            [np.cos(angle), np.sin(angle)]
        )
        relative = offset - (hidden_point - cover.centre(hidden_frame))
        frame = hidden_frame + direction * _travel_frames(float(np.linalg.norm(relative)), speed)
        if not 0 <= frame < stage.num_frames:
            return None
        point = cover.centre(frame) + offset
    else:
        band, along_axis = stage.band, 1 - stage.band.axis
        point = hidden_point.copy()
        nearer_side = 1.0 if hidden_point[band.axis] >= band.centre else -1.0
        side = nearer_side if before or rng.random() < 0.5 else -nearer_side
        point[band.axis] = band.centre + side * (band.half_width + margin + 0.5)
        point[along_axis] += rng.uniform(-0.5, 0.5) * stage.reach
        frame = hidden_frame + direction * _travel_frames(float(np.linalg.norm(point - hidden_point)), speed)
    if not 0 <= frame < stage.num_frames or not stage.box.contains(point):
        return None
    if not stage.is_clear(point, frame, margin):
        return None
    return {frame: point}


def _travel_frames(distance: float, speed: float) -> int:
    """Frames to travel ``distance`` at ``speed``: at least 1, at most :data:`APPROACH_FRAMES`."""
    return int(np.clip(math.ceil(distance / speed), 1, APPROACH_FRAMES))


def crossing_pair(
    rng: np.random.Generator, stage: Stage, first_plan: PathPlan, meeting_frame: int
) -> list[Waypoints] | None:
    """Straight passes of two objects through one point in clear view at ``meeting_frame``, at an angle.

    The point is drawn within reach of the nearest scripted waypoint of ``first_plan`` (the first object's
    plan). None when the passes would leave the frame or the video.
    """
    meeting_point = _clear_point_near(rng, stage, first_plan, meeting_frame)
    if meeting_point is None:
        return None
    heading = rng.uniform(0.0, 2.0 * np.pi)
    first = _straight_pass(meeting_point, _crossing_velocity(rng, stage, heading), meeting_frame)
    second = _crossing_block(rng, stage, first, meeting_point, heading, meeting_frame)
    if second is None or not _within(stage, first):
        return None
    return [first, second]


def _clear_point_near(
    rng: np.random.Generator, stage: Stage, plan: PathPlan, frame: int
) -> np.ndarray | None:
    """A point ``(2,)`` in clear view at ``frame`` that ``plan``'s object can reach from its nearest waypoint.

    Drawn uniformly within reach (at the plan's speed limit) of that waypoint, or anywhere in view when the
    plan has none; None when a few draws find no point in clear view.
    """
    nearest = plan.nearest_waypoint(frame)
    for _ in range(_POINT_TRIES):
        if nearest is None:
            candidate = stage.box.sample(rng)
        else:
            waypoint_frame, waypoint = nearest
            reach = plan.speed_limit * (abs(frame - waypoint_frame) - CROSSING_HALF_SPAN)
            if reach <= 0.0:
                return None
            candidate = waypoint + _point_in_disc(rng, reach)
        if stage.box.contains(candidate) and stage.is_clear(
            candidate, frame, CROSSING_CLEARANCE * stage.reach
        ):
            return candidate
    return None


def crossing_with(
    rng: np.random.Generator, stage: Stage, partner: np.ndarray, meeting_frame: int
) -> Waypoints | None:
    """A straight pass through ``partner``'s centre ``(num_frames, 2)`` at ``meeting_frame``, at an angle.

    None when ``partner`` is not in view there, the pass would leave the frame or the video, or the two
    would not swap sides.
    """
    if not 1 <= meeting_frame < stage.num_frames - 1:
        return None
    meeting_point = partner[meeting_frame]
    if not stage.box.contains(meeting_point) or not stage.is_clear(
        meeting_point, meeting_frame, CLEARANCE * stage.reach
    ):
        return None
    velocity = (partner[meeting_frame + 1] - partner[meeting_frame - 1]) / 2.0
    if np.linalg.norm(velocity) > 0.3 * stage.unit:
        heading = float(np.arctan2(velocity[1], velocity[0]))
    else:
        heading = rng.uniform(0.0, 2.0 * np.pi)
    partner_path = dict(enumerate(partner))
    return _crossing_block(rng, stage, partner_path, meeting_point, heading, meeting_frame)


def _crossing_block(
    rng: np.random.Generator,
    stage: Stage,
    partner: Waypoints,
    meeting_point: np.ndarray,
    partner_heading: float,
    meeting_frame: int,
) -> Waypoints | None:
    """A straight pass near ``meeting_point`` at ``meeting_frame``, at an angle to ``partner_heading``.

    None when the pass would leave the frame or the video, or it and ``partner`` (waypoints that cover
    the frames two before and after the meeting) would not swap sides.
    """
    turn = (1.0 if rng.random() < 0.5 else -1.0) * rng.uniform(*_CROSSING_ANGLE)
    velocity = _crossing_velocity(rng, stage, partner_heading + turn)
    centre = meeting_point + _point_in_disc(rng, _CROSSING_OFFSET * stage.radius)
    block = _straight_pass(centre, velocity, meeting_frame)
    if not _within(stage, block):
        return None
    partner_centres = interpolate_waypoints(partner, stage.num_frames)
    before = partner_centres[meeting_frame - 2] - (centre - 2 * velocity)
    after = partner_centres[meeting_frame + 2] - (centre + 2 * velocity)
    return block if float(before @ after) < 0.0 else None


def _crossing_velocity(rng: np.random.Generator, stage: Stage, heading: float) -> np.ndarray:
    """A velocity ``(2,)`` (pixels per frame) along ``heading`` (radians) at a crossing speed."""
    return rng.uniform(*_CROSSING_SPEED) * stage.unit * np.array([np.cos(heading), np.sin(heading)])


def _straight_pass(centre: np.ndarray, velocity: np.ndarray, meeting_frame: int) -> Waypoints:
    """Waypoints of a straight pass through ``centre`` at ``meeting_frame`` at constant ``velocity``."""
    span = CROSSING_HALF_SPAN
    return {
        frame: centre + (frame - meeting_frame) * velocity
        for frame in (meeting_frame - span, meeting_frame, meeting_frame + span)
    }


def _within(stage: Stage, block: Waypoints) -> bool:
    """Whether every waypoint of ``block`` lies in the video and entirely in view."""
    return all(0 <= frame < stage.num_frames and stage.box.contains(point) for frame, point in block.items())


def exit_block(rng: np.random.Generator, stage: Stage, plan: PathPlan) -> Waypoints | None:
    """Waypoints that take an object out through a border and back in: visible, out of view, visible.

    The exit starts anywhere when ``plan`` is empty; otherwise it goes right before or after one of the
    plan's blocks, through the border nearest to that block's end, a few frames apart from it. None when
    the block would leave the video or is not visible at its ends.
    """
    ends = plan.block_ends()
    if not ends:
        path = _exit_path(rng, stage, stage.box.sample(rng))
        shift = int(rng.integers(0, max(1, stage.num_frames - max(path))))
    else:
        frame, point, is_last = ends[int(rng.integers(len(ends)))]
        path = _exit_path(rng, stage, point)
        near = path[0] if is_last else path[max(path)]
        gap = math.ceil(float(np.linalg.norm(near - point)) / plan.speed_limit) + int(rng.integers(1, 3))
        shift = frame + gap if is_last else frame - gap - max(path)
    block = {shift + offset: point for offset, point in path.items()}
    first, last = min(block), max(block)
    if first < 0 or last >= stage.num_frames:
        return None
    margin = CLEARANCE * stage.reach
    if not (stage.is_clear(block[first], first, margin) and stage.is_clear(block[last], last, margin)):
        return None
    return block


def _exit_path(rng: np.random.Generator, stage: Stage, near: np.ndarray) -> Waypoints:
    """The waypoints of an exit through the border nearest to ``near`` ``(2,)``, from frame 0 on."""
    reach, box = stage.reach, stage.box
    start = box.clip(near)
    # (4,) distances to the low x, low y, high x and high y sides
    distances = np.concatenate([start - box.low, box.high - start])
    side = int(np.argmin(distances))
    axis, low_side = side % 2, side < 2
    along_axis = 1 - axis
    inside = np.empty(2)
    inset = rng.uniform(0.0, 0.5 * reach)
    inside[axis] = box.low[axis] + inset if low_side else box.high[axis] - inset
    inside[along_axis] = np.clip(
        start[along_axis] + rng.uniform(-reach, reach), box.low[along_axis], box.high[along_axis]
    )
    beyond = reach + 1.0 + rng.uniform(0.0, 0.5 * reach)
    outside = inside.copy()
    outside[axis] = -beyond if low_side else stage.frame_size[axis] + beyond
    outside_frames = int(rng.integers(*_OUTSIDE_FRAMES))
    outside_later = outside.copy()
    drift = SPEED_LIMIT * stage.unit * (outside_frames - 1)
    outside_later[along_axis] = np.clip(
        outside[along_axis] + rng.uniform(-drift, drift), box.low[along_axis], box.high[along_axis]
    )
    back = inside.copy()
    back[along_axis] = np.clip(
        outside_later[along_axis] + rng.uniform(-reach, reach), box.low[along_axis], box.high[along_axis]
    )
    speed = rng.uniform(*_EXIT_SPEED) * stage.unit
    gone = _travel_frames(float(np.linalg.norm(outside - inside)), speed)
    still_gone = gone + outside_frames - 1
    comes_back = still_gone + _travel_frames(float(np.linalg.norm(back - outside_later)), speed)
    return {0: inside, gone: outside, still_gone: outside_later, comes_back: back}
