"""Per-query statistics and the track-selection rule, on crafted class probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from instanceformer.core.engine import QueryStatistics, frame_candidates


def _reference_selection(frames: np.ndarray, num_candidates: int, threshold: float, max_tracks: int):
    """The documented rule written directly over the whole [frames, queries, classes] array."""
    _num_frames, num_queries, num_classes = frames.shape
    sums = np.zeros((num_queries, num_classes))
    counts = np.zeros(num_queries)
    for frame in frames:
        best = frame.max(axis=1)
        order = sorted(range(num_queries), key=lambda query: (-best[query], query))[:num_candidates]
        for query in order:
            if best[query] >= threshold:
                sums[query] += frame[query]
                counts[query] += 1
    tracks = []
    for query in range(num_queries):
        if counts[query] == 0:
            continue
        means = sums[query] / counts[query]
        tracks.append((query, int(means.argmax()), float(means.max())))
    tracks = [track for track in tracks if track[2] >= threshold]
    tracks.sort(key=lambda track: (-track[2], track[0]))
    return tracks[:max_tracks]


def test_an_object_that_appears_late_is_selected() -> None:
    num_frames, num_queries, num_classes = 40, 8, 3
    probabilities = torch.full((num_frames, num_queries, num_classes), 0.02)
    probabilities[:, :4, 0] = 0.5  # four objects visible all along
    probabilities[35:, 6, 2] = 0.95  # an object entering in the last five frames
    statistics = QueryStatistics(num_queries, num_classes)
    for frame in probabilities:
        statistics.update(frame, frame_candidates(frame, num_candidates=5, score_threshold=0.1))
    selected = statistics.select(max_tracks=2, score_threshold=0.0)
    assert selected[0][:2] == (6, 2)
    assert selected[0][2] == pytest.approx(0.95)
    assert selected[1][0] == 0
    assert int(statistics.first_frames[6]) == 35
    assert float(statistics.max_scores[6]) == pytest.approx(0.95)


def test_score_is_the_mean_of_the_category_over_candidate_frames() -> None:
    statistics = QueryStatistics(num_queries=2, num_classes=2)
    for first, second in ((0.9, 0.2), (0.5, 0.8), (0.7, 0.3)):
        frame = torch.tensor([[first, second], [0.01, 0.01]])
        statistics.update(frame, torch.tensor([0]))
    [(query, class_index, score)] = statistics.select(max_tracks=5, score_threshold=0.0)
    assert (query, class_index) == (0, 0)
    assert score == pytest.approx((0.9 + 0.5 + 0.7) / 3)
    scores, _ = statistics.track_scores()
    assert float(scores[1]) == 0.0


def test_candidates_respect_the_threshold_and_count() -> None:
    frame = torch.tensor([[0.1, 0.2], [0.9, 0.0], [0.4, 0.5], [0.05, 0.05]])
    assert frame_candidates(frame, 2, 0.0).tolist() == [1, 2]
    assert frame_candidates(frame, 10, 0.3).tolist() == [1, 2]
    assert frame_candidates(frame, 10, 0.99).tolist() == []


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    num_candidates=st.integers(1, 6),
    threshold=st.sampled_from([0.0, 0.2, 0.6]),
    max_tracks=st.integers(1, 5),
)
def test_selection_matches_the_direct_rule(
    seed: int, num_candidates: int, threshold: float, max_tracks: int
) -> None:
    rng = np.random.default_rng(seed)
    frames = rng.random((7, 6, 3)).astype(np.float32) ** 2
    statistics = QueryStatistics(6, 3)
    for frame in torch.from_numpy(frames):
        statistics.update(frame, frame_candidates(frame, num_candidates, threshold))
    found = statistics.select(max_tracks, threshold)
    expected = _reference_selection(frames, num_candidates, threshold, max_tracks)
    assert [track[:2] for track in found] == [track[:2] for track in expected]
    assert [track[2] for track in found] == pytest.approx([track[2] for track in expected], abs=1e-6)
