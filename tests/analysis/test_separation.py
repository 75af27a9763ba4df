"""The track-separation number: cross-checked against pairwise distances from scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import cosine_distances

from instanceformer.analysis.separation import pair_distances, track_separation
from instanceformer.core.errors import UserError


def _brute_force(embeddings: np.ndarray, track_ids: np.ndarray) -> tuple[float, float]:
    """Mean intra- and inter-track cosine distance over pairs of distinct rows, from the full matrix."""
    distances = cosine_distances(embeddings)
    same = track_ids[:, None] == track_ids[None, :]
    distinct = ~np.eye(len(track_ids), dtype=bool)
    return float(distances[same & distinct].mean()), float(distances[~same].mean())


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_tracks=st.integers(2, 6),
    rows_per_track=st.integers(2, 5),
    dimension=st.integers(2, 16),
)
def test_the_sum_formula_equals_the_mean_of_the_pairwise_distances(
    seed: int, num_tracks: int, rows_per_track: int, dimension: int
) -> None:
    generator = np.random.default_rng(seed)
    embeddings = generator.normal(size=(num_tracks * rows_per_track, dimension))
    embeddings *= generator.uniform(0.1, 10.0, size=(len(embeddings), 1))  # scale must not matter
    track_ids = generator.permutation(np.repeat(np.arange(num_tracks), rows_per_track))
    result = track_separation(torch.from_numpy(embeddings).float(), torch.from_numpy(track_ids))
    intra, inter = _brute_force(embeddings, track_ids)
    assert result.intra_track_distance == pytest.approx(intra, abs=1e-5)
    assert result.inter_track_distance == pytest.approx(inter, abs=1e-5)
    assert result.separation == pytest.approx(inter / intra, rel=1e-4)
    assert (result.num_rows, result.num_tracks) == (len(embeddings), num_tracks)
    sampled_intra, sampled_inter = pair_distances(torch.from_numpy(embeddings), torch.from_numpy(track_ids))
    assert float(sampled_intra.mean()) == pytest.approx(intra, abs=1e-5)
    assert float(sampled_inter.mean()) == pytest.approx(inter, abs=1e-5)


def clustered_embeddings(num_tracks: int, rows_per_track: int, dimension: int, spread: float, seed: int):
    """Embeddings scattered around one random centre per track: ``([N, dimension], [N] track ids)``."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_tracks, dimension, generator=generator)
    track_ids = torch.arange(num_tracks).repeat_interleave(rows_per_track)
    noise = spread * torch.randn(len(track_ids), dimension, generator=generator)
    return centres[track_ids] + noise, track_ids


def test_clustered_embeddings_separate_far_better_than_random_ones() -> None:
    clustered, track_ids = clustered_embeddings(8, 6, 32, spread=0.2, seed=0)
    random = torch.randn(clustered.shape, generator=torch.Generator().manual_seed(1))
    tight = track_separation(clustered, track_ids).separation
    unrelated = track_separation(random, track_ids).separation
    assert unrelated == pytest.approx(1.0, abs=0.15)
    assert tight > 5 * unrelated


def test_degenerate_inputs_are_user_errors() -> None:
    with pytest.raises(UserError, match="two tracks"):
        track_separation(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(UserError, match="two or more frames"):
        track_separation(torch.randn(3, 3), torch.arange(3))
    with pytest.raises(UserError, match="all zeros"):
        track_separation(torch.zeros(4, 3), torch.tensor([0, 0, 1, 1]))
