"""Property tests of the synthetic generator's building blocks: boxes, shapes, motion, labels.

Its masks are encoded by ``instanceformer.core.formats.rle`` (tests/core/test_formats_rle.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.path import Path as PolygonPath
from pycocotools import mask as coco_mask

from instanceformer.core.errors import UserError
from instanceformer.core.runtime.frame_size import format_frame_size, parse_frame_size
from instanceformer.dataprep.synth import (
    SHAPE_KINDS,
    SynthSpec,
    mask_bbox,
    occlusion_label,
    render_frame,
    sample_scene,
)
from instanceformer.dataprep.synth.appearance import sample_appearance
from instanceformer.dataprep.synth.motion import (
    MAX_STEP,
    REFERENCE_SIDE,
    MotionPlan,
    simulate_trajectory,
)
from instanceformer.dataprep.synth.render import object_footprint
from instanceformer.dataprep.synth.scene import SceneObject
from instanceformer.dataprep.synth.shapes import (
    SHAPE_EXTENT,
    inside_polygon,
    regular_polygon,
    shape_mask,
    star_polygon,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

masks = st.integers(1, 12).flatmap(
    lambda height: st.integers(1, 12).flatmap(lambda width: arrays(np.bool_, (height, width)))
)


@settings(max_examples=200, deadline=None)
@given(masks)
def test_bbox_and_area_match_pycocotools(mask: np.ndarray) -> None:
    reference = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert mask_bbox(mask) == pytest.approx(coco_mask.toBbox(reference).tolist())
    assert int(mask.sum()) == int(coco_mask.area(reference))


polygons = st.sampled_from(
    [regular_polygon(3), regular_polygon(6), star_polygon(5, 1.0, 0.45), star_polygon(7, 1.1, 0.3)]
) | st.lists(
    st.tuples(st.floats(-1, 1, allow_nan=False), st.floats(-1, 1, allow_nan=False)), min_size=3, max_size=9
).map(np.array)


@settings(max_examples=100, deadline=None)
@given(polygons, st.integers(0, 2**32 - 1))
def test_inside_polygon_matches_matplotlib(vertices: np.ndarray, seed: int) -> None:
    points = np.random.default_rng(seed).uniform(-1.3, 1.3, (200, 2))
    ours = inside_polygon(points[:, 0], points[:, 1], vertices)
    reference = PolygonPath(vertices, closed=False).contains_points(points)
    # Points within a hair of an edge may go either way; compare the others.
    clear = _distance_to_edges(points, vertices) > 1e-6
    np.testing.assert_array_equal(ours[clear], reference[clear])


def _distance_to_edges(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Distance ``(num_points,)`` from every point to the nearest polygon edge."""
    starts, ends = vertices, np.roll(vertices, -1, axis=0)
    edge = ends - starts  # (num_edges, 2)
    relative = points[:, None, :] - starts[None, :, :]  # (num_points, num_edges, 2)
    length_squared = np.maximum((edge**2).sum(axis=1), 1e-12)
    along = np.clip((relative * edge[None]).sum(axis=2) / length_squared, 0.0, 1.0)
    nearest = starts[None] + along[..., None] * edge[None]
    return np.linalg.norm(points[:, None, :] - nearest, axis=2).min(axis=1)


def _local_grid(half_width: float, num_points: int = 241) -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(-half_width, half_width, num_points)
    return np.meshgrid(axis, axis)


@pytest.mark.parametrize("kind", SHAPE_KINDS)
def test_shapes_lie_within_their_extent_and_cover_a_fair_area(kind: str) -> None:
    u, v = _local_grid(2.0)
    mask = shape_mask(kind, u, v)
    outside = (np.abs(u) > SHAPE_EXTENT) | (np.abs(v) > SHAPE_EXTENT)
    assert not mask[outside].any()
    cell_area = (u[0, 1] - u[0, 0]) ** 2
    area = mask.sum() * cell_area  # in squared radii; a unit disc is pi
    assert 0.8 < area < 3.5


def test_shapes_are_pairwise_distinct() -> None:
    u, v = _local_grid(SHAPE_EXTENT)
    shape_masks = {kind: shape_mask(kind, u, v) for kind in SHAPE_KINDS}
    for first in SHAPE_KINDS:
        for second in SHAPE_KINDS:
            if first < second:
                a, b = shape_masks[first], shape_masks[second]
                assert (a & b).sum() / (a | b).sum() < 0.85, (first, second)


def test_ring_has_a_hole_and_crescent_a_bite() -> None:
    assert not shape_mask("ring", np.zeros(1), np.zeros(1))[0]
    assert shape_mask("ring", np.array([0.75]), np.zeros(1))[0]
    assert not shape_mask("crescent", np.array([0.5]), np.zeros(1))[0]
    assert shape_mask("crescent", np.array([-0.8]), np.zeros(1))[0]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([None, 1, 4]),
    st.sampled_from([None, 5, 9]),
    st.booleans(),
)
def test_trajectories_move_smoothly(
    seed: int, enter_frame: int | None, leave_frame: int | None, returns: bool
) -> None:
    height, width, num_frames = 96, 160, 20
    plan = MotionPlan(enter_frame=enter_frame, leave_frame=leave_frame, returns=returns)
    trajectory = simulate_trajectory(np.random.default_rng(seed), plan, num_frames, height, width, 15.0)
    start = enter_frame or 0
    assert not trajectory.active[:start].any() and trajectory.active[start:].all()
    steps = np.linalg.norm(np.diff(trajectory.centres[start:], axis=0), axis=1)
    assert steps.max(initial=0.0) <= MAX_STEP * min(height, width) / REFERENCE_SIDE + 1e-9
    assert np.all(trajectory.radii >= 15.0 * np.exp(-0.3)) and np.all(trajectory.radii <= 15.0 * np.exp(0.3))
    if enter_frame is not None:
        x, y = trajectory.centres[start]
        reach = SHAPE_EXTENT * trajectory.radii[start]
        assert x < -reach or x > width + reach or y < -reach or y > height + reach


def _in_view_frames(plan: MotionPlan, seed: int, num_frames: int) -> list[bool]:
    """Whether a disc following ``plan`` in a 96x160 frame covers any pixel, per frame."""
    rng = np.random.default_rng(seed)
    trajectory = simulate_trajectory(rng, plan, num_frames, 96, 160, 15.0)
    disc = SceneObject(category_id=1, appearance=sample_appearance(rng), trajectory=trajectory, depth=0)
    return [object_footprint(disc, frame, 96, 160) is not None for frame in range(num_frames)]


@pytest.mark.parametrize("seed", range(8))
def test_objects_enter_leave_and_return(seed: int) -> None:
    entering = _in_view_frames(MotionPlan(enter_frame=3, leave_frame=None, returns=False), seed, 40)
    assert not any(entering[:4]) and all(entering[20:])
    leaving = _in_view_frames(MotionPlan(enter_frame=None, leave_frame=5, returns=False), seed, 40)
    assert all(leaving[:5]) and not any(leaving[25:])
    returning = _in_view_frames(MotionPlan(enter_frame=None, leave_frame=5, returns=True), seed, 40)
    first_gap = returning.index(False)
    assert 5 < first_gap < 25 and any(returning[first_gap:])


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 10))
def test_visible_masks_partition_the_union_of_full_masks(seed: int, num_categories: int) -> None:
    scene = sample_scene(np.random.default_rng(seed), 48, 64, 6, num_categories)
    assert 1 <= len(scene.objects) <= 5
    assert all(1 <= obj.category_id <= num_categories for obj in scene.objects)
    for frame_index in range(scene.num_frames):
        frame = render_frame(scene, frame_index)
        assert frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
        full = np.stack(frame.full_masks)  # (num_objects, height, width)
        visible = np.stack(frame.visible_masks)
        assert not (visible & ~full).any()
        assert (visible.sum(axis=0) <= 1).all()
        np.testing.assert_array_equal(visible.any(axis=0), full.any(axis=0))
        nearest = int(np.argmax([obj.depth for obj in scene.objects]))
        np.testing.assert_array_equal(visible[nearest], full[nearest])


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_occlusion_label_follows_the_visible_fraction(visible_area: int, full_area: int) -> None:
    visible_area = min(visible_area, full_area)
    label = occlusion_label(visible_area, full_area)
    if full_area == 0 or visible_area >= 0.9 * full_area:
        assert label == "no_occlusion"
    elif visible_area >= 0.5 * full_area:
        assert label == "slight_occlusion"
    else:
        assert label == "severe_occlusion"


def test_occlusion_label_boundaries() -> None:
    assert occlusion_label(90, 100) == "no_occlusion"
    assert occlusion_label(89, 100) == "slight_occlusion"
    assert occlusion_label(50, 100) == "slight_occlusion"
    assert occlusion_label(49, 100) == "severe_occlusion"
    assert occlusion_label(0, 100) == "severe_occlusion"
    assert occlusion_label(0, 0) == "no_occlusion"


def test_parse_frame_size_reads_width_then_height() -> None:
    assert parse_frame_size("320x192") == (192, 320)
    assert parse_frame_size(" 96X64 ") == (64, 96)
    assert format_frame_size(192, 320) == "320x192"
    for text in ("192", "192x", "x320", "192*320", "-1x20", "1.5x20", "0x20"):
        with pytest.raises(UserError, match="--size: expected WIDTHxHEIGHT"):
            parse_frame_size(text)


@pytest.mark.parametrize(
    ("field", "value", "option"),
    [
        ("train_videos", 0, "--videos"),
        ("valid_videos", -1, "--valid-videos"),
        ("num_frames", 0, "--frames"),
        ("height", 8, "--size"),
        ("width", 5000, "--size"),
        ("num_categories", 0, "--num-categories"),
        ("num_categories", len(SHAPE_KINDS) + 1, "--num-categories"),
        ("seed", -3, "--seed"),
    ],
)
def test_spec_rejects_bad_values(field: str, value: int, option: str) -> None:
    with pytest.raises(UserError, match=option) as raised:
        SynthSpec(**{field: value})
    assert "\n" not in str(raised.value)


def test_spec_categories_are_the_first_shape_kinds() -> None:
    assert len(SHAPE_KINDS) >= 8
    assert SynthSpec(num_categories=3).category_names == SHAPE_KINDS[:3]
