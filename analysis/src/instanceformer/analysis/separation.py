"""How well instance embeddings separate by track: mean intra-track vs inter-track cosine distance.

The cosine distance of two embeddings is ``1 - cos(angle)``. Over all pairs of distinct rows, ``intra``
is the mean distance of pairs of the same track and ``inter`` the mean distance of pairs of different
tracks; the separation is ``inter / intra``. Embeddings that keep an instance coherent across frames and
apart from the others give a separation well above 1; unrelated embeddings give about 1.

The means are computed from per-track sums in ``O(N * d_model)``: for unit vectors the sum of
``cos`` over all ordered pairs of a set equals the squared norm of the set's vector sum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from instanceformer.core.errors import UserError

MIN_INTRA_DISTANCE = 1e-12


@dataclass(frozen=True)
class Separation:
    """Intra- and inter-track cosine distances of a set of embeddings.

    Attributes:
        intra_track_distance: mean cosine distance over pairs of rows of the same track.
        inter_track_distance: mean cosine distance over pairs of rows of different tracks.
        separation: ``inter / intra`` (intra clamped at :data:`MIN_INTRA_DISTANCE`).
        num_rows: the number of embeddings.
        num_tracks: the number of tracks.
    """

    intra_track_distance: float
    inter_track_distance: float
    separation: float
    num_rows: int
    num_tracks: int

    def to_json(self) -> dict[str, float | int]:
        """The fields as a JSON object."""
        return asdict(self)


def track_separation(embeddings: torch.Tensor, track_ids: torch.Tensor) -> Separation:
    """Mean intra-track and inter-track cosine distance and their ratio.

    Args:
        embeddings: ``[N, d_model]`` instance embeddings (any scale; zero rows are not allowed).
        track_ids: ``[N]`` int64 track of each row.

    Raises:
        UserError: fewer than two tracks, no track with two rows, or a zero embedding.
    """
    vectors = embeddings.double()  # [N, d_model]
    norms = vectors.norm(dim=1, keepdim=True)  # [N, 1]
    if bool((norms == 0).any()):
        raise UserError("embeddings: a row is all zeros (its cosine distance is undefined)")
    unit = vectors / norms  # [N, d_model]
    tracks, inverse, counts = torch.unique(track_ids, return_inverse=True, return_counts=True)
    num_rows, num_tracks = int(unit.shape[0]), int(tracks.shape[0])
    if num_tracks < 2:
        raise UserError(f"embeddings: need at least two tracks to compare, got {num_tracks}")
    counts = counts.double()  # [num_tracks]
    intra_pairs = float((counts * (counts - 1)).sum())
    if intra_pairs == 0:
        raise UserError("embeddings: need a track with rows on two or more frames")
    track_sums = torch.zeros(num_tracks, unit.shape[1], dtype=torch.float64).index_add_(0, inverse, unit)
    same_track_cosine = float((track_sums * track_sums).sum())  # ordered pairs incl. each row with itself
    total = unit.sum(dim=0)  # [d_model]
    all_cosine = float(total @ total)
    intra_cosine = (same_track_cosine - num_rows) / intra_pairs
    inter_pairs = float(num_rows**2 - (counts * counts).sum())
    inter_cosine = (all_cosine - same_track_cosine) / inter_pairs
    intra, inter = 1.0 - intra_cosine, 1.0 - inter_cosine
    intra = max(intra, 0.0)
    return Separation(
        intra_track_distance=intra,
        inter_track_distance=inter,
        separation=inter / max(intra, MIN_INTRA_DISTANCE),
        num_rows=num_rows,
        num_tracks=num_tracks,
    )


def pair_distances(
    embeddings: torch.Tensor, track_ids: torch.Tensor, max_rows: int = 2000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine distances of intra-track and inter-track pairs, for a histogram.

    Args:
        embeddings: ``[N, d_model]``.
        track_ids: ``[N]``.
        max_rows: above this many rows a random subset (fixed ``seed``) is used.

    Returns:
        ``(intra [P], inter [Q])`` distances of unordered pairs of distinct rows.
    """
    if embeddings.shape[0] > max_rows:
        keep = torch.randperm(embeddings.shape[0], generator=torch.Generator().manual_seed(seed))[:max_rows]
        embeddings, track_ids = embeddings[keep], track_ids[keep]
    unit = torch.nn.functional.normalize(embeddings.double(), dim=1)  # [M, d_model]
    distances = 1.0 - unit @ unit.T  # [M, M]
    upper = torch.triu(torch.ones_like(distances, dtype=torch.bool), diagonal=1)  # [M, M]
    same = track_ids[:, None] == track_ids[None, :]  # [M, M]
    return distances[upper & same].float(), distances[upper & ~same].float()
