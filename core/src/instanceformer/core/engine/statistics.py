"""Per-query statistics over a whole video, and the track-selection rule built on them.

Each query of the model is one track candidate (the queries carry their identity from frame to frame).
In every frame the ``num_candidates`` queries with the highest class probability (at least the score
threshold) are that frame's *candidates*: only they get a mask for the frame. Over the video each query
accumulates, on the frames where it was a candidate, the sum of its class probabilities, the number of
such frames, and its best single-frame score. At the end of the video:

- a query's category is the class with the highest mean probability over its candidate frames;
- its score is that mean probability (a query never a candidate scores 0 and is not kept);
- the ``max_tracks`` queries with the highest scores (ties: lower query index first) whose score is at
  least the score threshold become the video's tracks.

Because the statistics cover every frame, an object that enters late is kept as soon as its query is
confident on the frames where it is visible.
"""

from __future__ import annotations

import torch


def frame_candidates(
    probabilities: torch.Tensor, num_candidates: int, score_threshold: float
) -> torch.Tensor:
    """The queries that get a mask in this frame.

    Args:
        probabilities: ``[num_queries, num_classes]`` sigmoid class scores of one frame.
        num_candidates: at most this many queries (the highest scoring).
        score_threshold: a candidate's best class probability is at least this.

    Returns:
        ``[num_selected]`` int64 query indices in increasing order.
    """
    frame_scores = probabilities.max(dim=-1).values  # [Q]
    count = min(num_candidates, frame_scores.shape[0])
    top_scores, top_queries = frame_scores.topk(count)
    kept = top_queries[top_scores >= score_threshold]
    return kept.sort().values


class QueryStatistics:
    """Running statistics of every query over the frames of one video (fixed size, any video length).

    Attributes:
        probability_sums: ``[num_queries, num_classes]`` sum of class probabilities over candidate frames.
        candidate_frames: ``[num_queries]`` int64, frames on which the query was a candidate.
        max_scores: ``[num_queries]`` best single-frame class probability on a candidate frame.
        first_frames: ``[num_queries]`` int64, the first candidate frame (-1 if none yet).
    """

    def __init__(self, num_queries: int, num_classes: int, device: torch.device | str | None = None):
        self.probability_sums = torch.zeros(num_queries, num_classes, device=device)
        self.candidate_frames = torch.zeros(num_queries, dtype=torch.long, device=device)
        self.max_scores = torch.zeros(num_queries, device=device)
        self.first_frames = torch.full((num_queries,), -1, dtype=torch.long, device=device)
        self.num_frames = 0

    def update(self, probabilities: torch.Tensor, candidates: torch.Tensor) -> None:
        """Add one frame.

        Args:
            probabilities: ``[num_queries, num_classes]`` class probabilities of the frame.
            candidates: ``[num_selected]`` int64 query indices that are the frame's candidates.
        """
        selected = probabilities[candidates].float()  # [K, C]
        self.probability_sums[candidates] += selected
        self.candidate_frames[candidates] += 1
        self.max_scores[candidates] = torch.maximum(self.max_scores[candidates], selected.max(dim=-1).values)
        new = candidates[self.first_frames[candidates] < 0]
        self.first_frames[new] = self.num_frames
        self.num_frames += 1

    def track_scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per query the score and class of the track it would become.

        Returns:
            ``([num_queries] float scores, [num_queries] int64 contiguous class indices)``; the score is
            the mean probability of the class over the query's candidate frames (0 if it has none).
        """
        frames = self.candidate_frames.clamp(min=1).to(self.probability_sums.dtype)  # [Q]
        means = self.probability_sums / frames[:, None]  # [Q, C]
        scores, classes = means.max(dim=-1)
        scores = torch.where(self.candidate_frames > 0, scores, torch.zeros_like(scores))
        return scores, classes

    def select(self, max_tracks: int, score_threshold: float) -> list[tuple[int, int, float]]:
        """The video's tracks as ``(query index, contiguous class index, score)``, best score first."""
        scores, classes = self.track_scores()
        eligible = (self.candidate_frames > 0) & (scores >= score_threshold)
        ranked = sorted(
            (query for query in range(scores.shape[0]) if bool(eligible[query])),
            key=lambda query: (-float(scores[query]), query),
        )
        return [(query, int(classes[query]), float(scores[query])) for query in ranked[:max_tracks]]

    def num_bytes(self) -> int:
        """Bytes held by the statistics tensors (independent of the number of frames)."""
        tensors = (self.probability_sums, self.candidate_frames, self.max_scores, self.first_frames)
        return sum(tensor.numel() * tensor.element_size() for tensor in tensors)
