"""Property tests of the occlusion scenario's geometry: shapes, occluder bands, paths, required events."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.dataprep.synth import SHAPE_KINDS, render_frame
from instanceformer.dataprep.synth.appearance import sample_appearance
from instanceformer.dataprep.synth.motion import Trajectory
from instanceformer.dataprep.synth.occluders import OccluderBand, sample_band
from instanceformer.dataprep.synth.occlusion_events import CLEARANCE
from instanceformer.dataprep.synth.occlusion_knobs import OcclusionKnobs, parse_frame_range
from instanceformer.dataprep.synth.occlusion_scenario import COVER_SHAPES, sample_occlusion_scene
from instanceformer.dataprep.synth.paths import Box, PathPlan, interpolate_waypoints, max_speed
from instanceformer.dataprep.synth.render import object_footprint
from instanceformer.dataprep.synth.scene import SceneObject
from instanceformer.dataprep.synth.shapes import SHAPE_EXTENT, shape_mask

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

HEIGHT, WIDTH = 96, 128


def _grid(half_width: float, num_points: int = 401) -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(-half_width, half_width, num_points)
    return np.meshgrid(axis, axis)


@pytest.mark.parametrize("kind", SHAPE_KINDS)
def test_every_shape_lies_within_its_extent_in_every_direction(kind: str) -> None:
    """Occluders hide a shape whose centre is ``SHAPE_EXTENT`` radii inside them, at any rotation."""
    u, v = _grid(2.0)
    inside = shape_mask(kind, u, v)
    assert np.hypot(u[inside], v[inside]).max() <= SHAPE_EXTENT


@pytest.mark.parametrize("kind", sorted(COVER_SHAPES))
def test_cover_shapes_hold_their_inscribed_disc_and_lie_in_their_circumscribed_one(kind: str) -> None:
    inscribed, circumscribed = COVER_SHAPES[kind]
    u, v = _grid(1.5)
    distance = np.hypot(u, v)
    inside = shape_mask(kind, u, v)
    assert inside[distance <= inscribed - 1e-3].all()
    assert distance[inside].max() <= circumscribed + 1e-3


def _disc_object(kind: str, centre: np.ndarray, radius: float, angle: float) -> SceneObject:
    trajectory = Trajectory(
        centres=centre[None, :],
        radii=np.array([radius]),
        angles=np.array([angle]),
        active=np.ones(1, dtype=bool),
    )
    appearance = sample_appearance(np.random.default_rng(0))
    return SceneObject(
        category_id=SHAPE_KINDS.index(kind) + 1, appearance=appearance, trajectory=trajectory, depth=0
    )


def _band(axis: int, centre: float, half_width: float) -> OccluderBand:
    return sample_band(np.random.default_rng(1), HEIGHT, WIDTH, axis, (centre, centre), half_width)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SHAPE_KINDS),
    st.integers(0, 1),
    st.floats(3.0, 20.0),
    st.floats(-np.pi, np.pi),
    st.floats(-1.0, 1.0),
    st.floats(0.0, 12.0),
    st.floats(30.0, 90.0),
)
def test_a_band_hides_an_object_within_its_hiding_zone(
    kind: str, axis: int, radius: float, angle: float, offset: float, slack: float, along: float
) -> None:
    reach = SHAPE_EXTENT * radius
    band = _band(axis, centre=HEIGHT / 2, half_width=reach + slack)
    centre = np.empty(2)
    centre[axis] = band.centre + offset * slack
    centre[1 - axis] = along
    assert band.hides(centre, reach)
    footprint = object_footprint(_disc_object(kind, centre, radius, angle), 0, HEIGHT, WIDTH)
    assert footprint is not None
    full = np.zeros((HEIGHT, WIDTH), dtype=bool)
    full[footprint.rows, footprint.columns] = footprint.mask
    assert not (full & ~band.mask).any()


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SHAPE_KINDS),
    st.integers(0, 1),
    st.floats(4.0, 20.0),
    st.floats(-np.pi, np.pi),
    st.sampled_from([-1.0, 1.0]),
    st.floats(0.0, 8.0),
)
def test_an_object_centred_clear_of_a_band_shows_some_pixels(
    kind: str, axis: int, radius: float, angle: float, side: float, half_width: float
) -> None:
    """The visible ends of a full occlusion: the centre lies outside the band by ``CLEARANCE`` reaches."""
    reach = SHAPE_EXTENT * radius
    band = _band(axis, centre=HEIGHT / 2, half_width=reach + half_width)
    centre = np.full(2, HEIGHT / 2)
    centre[axis] = band.centre + side * (band.half_width + CLEARANCE * reach)
    assert band.clears(centre, CLEARANCE * reach - 1e-9)
    footprint = object_footprint(_disc_object(kind, centre, radius, angle), 0, HEIGHT, WIDTH)
    assert footprint is not None
    full = np.zeros((HEIGHT, WIDTH), dtype=bool)
    full[footprint.rows, footprint.columns] = footprint.mask
    assert (full & ~band.mask).any()


boxes = st.tuples(
    st.floats(0.0, 50.0), st.floats(0.0, 50.0), st.floats(1.0, 100.0), st.floats(1.0, 100.0)
).map(lambda b: Box(low=np.array([b[0], b[1]]), high=np.array([b[0] + b[2], b[1] + b[3]])))
points = st.tuples(st.floats(-300.0, 300.0), st.floats(-300.0, 300.0)).map(np.array)


@settings(max_examples=200, deadline=None)
@given(boxes, points, points)
def test_folding_lands_in_the_box_and_never_lengthens_a_step(
    box: Box, start: np.ndarray, step: np.ndarray
) -> None:
    inside = box.clip(start)
    folded = box.fold(inside + step)
    tolerance = 1e-6 * (1.0 + np.abs(step).max())
    assert np.all(folded >= box.low - tolerance) and np.all(folded <= box.high + tolerance)
    assert np.linalg.norm(folded - inside) <= np.linalg.norm(step) + tolerance
    np.testing.assert_allclose(box.fold(inside), inside, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(12, 40), st.integers(0, 3))
def test_plans_keep_their_blocks_and_speed_limit_and_wander_in_the_box(
    seed: int, num_frames: int, num_blocks: int
) -> None:
    rng = np.random.default_rng(seed)
    box = Box(low=np.array([10.0, 10.0]), high=np.array([110.0, 70.0]))
    plan = PathPlan(num_frames, speed_limit=6.0)
    blocks = []
    for _ in range(num_blocks * 4):
        first = int(rng.integers(num_frames))
        block = {first: box.sample(rng), first + int(rng.integers(1, 4)): box.sample(rng)}
        if plan.add(block):
            blocks.append(block)
    centres = interpolate_waypoints({0: box.low, num_frames - 1: box.high}, num_frames)
    assert centres.shape == (num_frames, 2)
    centres = plan.centres(rng, box, (1.0, 3.0))
    assert centres.shape == (num_frames, 2)
    for block in blocks:
        for frame, point in block.items():
            np.testing.assert_allclose(centres[frame], point)
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    inside_blocks = max((max_speed(block) for block in blocks), default=0.0)
    assert steps.max() <= max(6.0, 3.0, inside_blocks) + 1e-6
    assert all(box.contains(point) for point in centres)


def test_parse_frame_range() -> None:
    assert parse_frame_range("2-4") == (2, 4)
    assert parse_frame_range(" 3 ") == (3, 3)
    assert parse_frame_range("5 - 7") == (5, 7)
    with pytest.raises(Exception, match="--full-occlusion-frames"):
        parse_frame_range("2..4")


def _hidden_then_seen(scene_masks: list[tuple[bool, bool]]) -> bool:
    """Whether ``(visible, in view)`` flags hold a run of 2+ hidden in-view frames between visible ones."""
    hidden = [in_view and not visible for visible, in_view in scene_masks]
    visible = [flag for flag, _ in scene_masks]
    frame = 0
    while frame < len(hidden):
        stop = frame
        while stop < len(hidden) and hidden[stop]:
            stop += 1
        if stop - frame >= 2 and any(visible[:frame]) and any(visible[stop:]):
            return True
        frame = stop + 1
    return False


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(64, 120),
    st.integers(64, 120),
    st.integers(1, len(SHAPE_KINDS)),
    st.integers(2, 5),
    st.tuples(st.integers(2, 5), st.integers(0, 3)).map(lambda pair: (pair[0], pair[0] + pair[1])),
    st.floats(0.0, 1.0),
    st.integers(0, 4),
)
def test_every_scene_has_a_full_occlusion_and_a_crossing_of_identical_objects(
    seed: int,
    height: int,
    width: int,
    num_categories: int,
    identical_objects: int,
    hidden_frames: tuple[int, int],
    probability: float,
    extra_frames: int,
) -> None:
    knobs = OcclusionKnobs(
        identical_objects=identical_objects,
        full_occlusion_frames=hidden_frames,
        full_occlusion_probability=probability,
        crossing_rate=probability,
        exit_probability=probability,
    )
    num_frames = knobs.min_num_frames + extra_frames
    scene = sample_occlusion_scene(
        np.random.default_rng(seed), height, width, num_frames, num_categories, knobs
    )
    frames = [render_frame(scene, index) for index in range(num_frames)]
    flags = [
        [(frame.visible_masks[index].any(), frame.full_masks[index].any()) for frame in frames]
        for index in range(len(scene.objects))
    ]
    assert any(_hidden_then_seen(object_flags) for object_flags in flags)
    twins = [obj for obj in scene.objects if obj.appearance is scene.objects[0].appearance]
    twins = twins if len(twins) > 1 else [obj for obj in scene.objects if obj is not scene.objects[0]]
    assert len(twins) == identical_objects
    crossed = False
    for position, first in enumerate(twins):
        for second in twins[position + 1 :]:
            offsets = first.trajectory.centres - second.trajectory.centres
            crossed = crossed or any(
                np.linalg.norm(offsets[frame]) < 0.5 * first.trajectory.radii[frame]
                and float(offsets[frame - 2] @ offsets[frame + 2]) < 0.0
                for frame in range(2, num_frames - 2)
            )
    assert crossed
