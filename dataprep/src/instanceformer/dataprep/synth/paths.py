"""Piecewise-straight object paths through waypoints: scripted events joined by wandering.

A path is a set of waypoints ``frame -> centre (2,) (x, y)`` in pixels; between two consecutive
waypoints the centre moves in a straight line at constant speed. Scripted events (passing behind an
occluder, crossing another object, leaving the view) each fix a block of waypoints. :class:`PathPlan`
keeps the blocks of one object apart in time and reachable from one another at a speed limit, and
:meth:`PathPlan.centres` fills the frames around them with a wandering walk that stays in a box.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

Waypoints = dict[int, np.ndarray]
"""Frame index -> centre ``(2,)`` (x, y) in pixels."""

_WALK_STEP_FRAMES = (3, 7)  # frames between two waypoints of a walk (upper bound excluded)
_TURN_STD = 0.5  # radians: the heading change of a walk at each waypoint
_BRIDGE_MIN_FRAMES = 3  # a bridge gets a detour waypoint only if both halves are this long


@dataclass(frozen=True)
class Box:
    """The axis-aligned range ``[low, high]`` (pixels, ``(2,)`` each) that a centre may wander in."""

    low: np.ndarray
    high: np.ndarray

    @property
    def is_empty(self) -> bool:
        """Whether the range is empty along some axis."""
        return bool(np.any(self.low > self.high))

    def contains(self, point: np.ndarray) -> bool:
        """Whether ``point`` ``(2,)`` lies in the box."""
        return bool(np.all(point >= self.low) and np.all(point <= self.high))

    def clip(self, point: np.ndarray) -> np.ndarray:
        """The nearest point ``(2,)`` of the box."""
        return np.clip(point, self.low, self.high)

    def fold(self, point: np.ndarray) -> np.ndarray:
        """``point`` mirrored at the box's sides until it lies inside (never farther from the box)."""
        span = np.maximum(self.high - self.low, 1e-9)
        folded = np.mod(point - self.low, 2.0 * span)
        return self.low + np.where(folded > span, 2.0 * span - folded, folded)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly drawn point ``(2,)`` of the box."""
        return rng.uniform(self.low, self.high)


def interpolate_waypoints(waypoints: Waypoints, num_frames: int) -> np.ndarray:
    """Centres ``(num_frames, 2)`` moving in straight lines between ``waypoints``.

    Frames before the first or after the last waypoint keep that waypoint's centre.
    """
    frames = sorted(waypoints)
    points = np.stack([waypoints[frame] for frame in frames])  # (num_waypoints, 2)
    every_frame = np.arange(num_frames, dtype=np.float64)
    return np.stack([np.interp(every_frame, frames, points[:, axis]) for axis in (0, 1)], axis=1)


def max_speed(waypoints: Waypoints) -> float:
    """The largest speed (pixels per frame) between consecutive waypoints; 0 for a single one."""
    frames = sorted(waypoints)
    speeds = [
        float(np.linalg.norm(waypoints[after] - waypoints[before])) / (after - before)
        for before, after in pairwise(frames)
    ]
    return max(speeds, default=0.0)


class PathPlan:
    """The scripted blocks of one object's path, kept disjoint in time and mutually reachable."""

    def __init__(self, num_frames: int, speed_limit: float):
        """``speed_limit``: the most pixels per frame the object may move between two blocks."""
        self.num_frames = num_frames
        self.speed_limit = speed_limit
        self.blocks: list[Waypoints] = []

    def fits(self, block: Waypoints) -> bool:
        """Whether ``block`` lies in the video, apart from every block, and reachable from its neighbours."""
        first, last = min(block), max(block)
        if first < 0 or last >= self.num_frames:
            return False
        for other in self.blocks:
            other_first, other_last = min(other), max(other)
            if other_first <= last and first <= other_last:
                return False
            if other_last < first and not self._reachable(other, other_last, block, first):
                return False
            if last < other_first and not self._reachable(block, last, other, other_first):
                return False
        return True

    def add(self, block: Waypoints) -> bool:
        """Add ``block`` if it :meth:`fits`; return whether it was added."""
        if not self.fits(block):
            return False
        self.blocks.append(dict(block))
        self.blocks.sort(key=min)
        return True

    def nearest_waypoint(self, frame: int) -> tuple[int, np.ndarray] | None:
        """The scripted waypoint ``(frame, centre (2,))`` nearest in time to ``frame``; None when none is."""
        waypoints = [(other, point) for block in self.blocks for other, point in block.items()]
        if not waypoints:
            return None
        return min(waypoints, key=lambda waypoint: abs(waypoint[0] - frame))

    def block_ends(self) -> list[tuple[int, np.ndarray, bool]]:
        """``(frame, centre (2,), is_last)`` of the first and the last waypoint of every block."""
        ends = []
        for block in self.blocks:
            first, last = min(block), max(block)
            ends += [(first, block[first], False), (last, block[last], True)]
        return ends

    def centres(self, rng: np.random.Generator, box: Box, speed: tuple[float, float]) -> np.ndarray:
        """Centres ``(num_frames, 2)``: the blocks joined by detours, walks in ``box`` before and after.

        A plan without blocks wanders from a random point of ``box`` at a random frame.

        Args:
            rng: the random stream of the object.
            box: where the walks stay (block waypoints may lie outside, e.g. beyond a border).
            speed: the range (pixels per frame) of the walks' speed.
        """
        blocks = self.blocks or [{int(rng.integers(self.num_frames)): box.sample(rng)}]
        waypoints: Waypoints = {}
        for block in blocks:
            waypoints.update(block)
        first_block, last_block = blocks[0], blocks[-1]
        first, last = min(first_block), max(last_block)
        leaving = _heading(first_block, first)
        arriving = None if leaving is None else leaving + np.pi  # walking back in time
        waypoints.update(_walk(rng, first, first_block[first], 0, arriving, box, speed))
        waypoints.update(
            _walk(rng, last, last_block[last], self.num_frames - 1, _heading(last_block, last), box, speed)
        )
        for before, after in pairwise(blocks):
            end, start = max(before), min(after)
            waypoints.update(_detours(rng, end, before[end], start, after[start], box, self.speed_limit))
        return interpolate_waypoints(waypoints, self.num_frames)

    def _reachable(self, before: Waypoints, end: int, after: Waypoints, start: int) -> bool:
        """Whether the object can go from ``before``'s last waypoint to ``after``'s first in time."""
        distance = float(np.linalg.norm(after[start] - before[end]))
        return distance <= self.speed_limit * (start - end)


def _heading(block: Waypoints, frame: int) -> float | None:
    """The direction (radians) of the block's motion at its end ``frame`` (None for a single waypoint).

    For the block's last frame, the direction it moves in when it arrives; for its first frame, the
    direction it moves in when it leaves.
    """
    if len(block) < 2:
        return None
    frames = sorted(block)
    neighbour = frames[-2] if frame == frames[-1] else frames[1]
    step = block[frame] - block[neighbour] if frame == frames[-1] else block[neighbour] - block[frame]
    return float(np.arctan2(step[1], step[0]))


def _walk(
    rng: np.random.Generator,
    start_frame: int,
    start_point: np.ndarray,
    stop_frame: int,
    heading: float | None,
    box: Box,
    speed_range: tuple[float, float],
) -> Waypoints:
    """Waypoints of a wander from ``start_point`` at ``start_frame`` to ``stop_frame`` (either way in time).

    The heading starts at ``heading`` (random when None) and turns a little at every waypoint; the walk is
    folded into ``box``.
    """
    direction = 1 if stop_frame >= start_frame else -1
    angle = rng.uniform(0.0, 2.0 * np.pi) if heading is None else heading
    speed = rng.uniform(*speed_range)
    frame, point = start_frame, start_point
    waypoints: Waypoints = {}
    while frame != stop_frame:
        step = min(int(rng.integers(*_WALK_STEP_FRAMES)), abs(stop_frame - frame))
        angle += rng.normal(0.0, _TURN_STD)
        point = box.fold(point + speed * step * np.array([np.cos(angle), np.sin(angle)]))
        frame += direction * step
        waypoints[frame] = point
    return waypoints


def _detours(
    rng: np.random.Generator,
    start_frame: int,
    start_point: np.ndarray,
    stop_frame: int,
    stop_point: np.ndarray,
    box: Box,
    speed_limit: float,
) -> Waypoints:
    """Waypoints strictly between two frames that bend the straight way between them, within the limit."""
    if stop_frame - start_frame < 2 * _BRIDGE_MIN_FRAMES:
        return {}
    middle = int(rng.integers(start_frame + _BRIDGE_MIN_FRAMES, stop_frame - _BRIDGE_MIN_FRAMES + 1))
    fraction = (middle - start_frame) / (stop_frame - start_frame)
    straight = start_point + fraction * (stop_point - start_point)
    spread = 0.5 * speed_limit * min(middle - start_frame, stop_frame - middle)
    for _ in range(8):
        candidate = straight + rng.normal(0.0, spread, 2)
        if (
            box.contains(candidate)
            and np.linalg.norm(candidate - start_point) <= speed_limit * (middle - start_frame)
            and np.linalg.norm(stop_point - candidate) <= speed_limit * (stop_frame - middle)
        ):
            return {
                **_detours(rng, start_frame, start_point, middle, candidate, box, speed_limit),
                middle: candidate,
                **_detours(rng, middle, candidate, stop_frame, stop_point, box, speed_limit),
            }
    return {}
