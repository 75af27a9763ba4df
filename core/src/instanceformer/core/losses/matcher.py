"""Hungarian matching of queries to ground-truth instances over a whole clip.

One assignment per clip: query ``q`` is matched to instance ``n`` in every frame, so a query is one
track. The cost of a pair sums, over the frames where the instance is present, a focal class cost, the
L1 distance of the boxes and the negative generalized IoU, weighted by the ``match_*`` costs of
:class:`~instanceformer.core.config.schema.LossConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment
from torchvision.ops import box_convert

from instanceformer.core.config.schema import LossConfig
from instanceformer.core.model.batch import ClipTargets

_EPSILON = 1e-8


@dataclass(frozen=True)
class ClipMatch:
    """The assignment of one clip.

    Attributes:
        query_indices: ``[num_matched]`` int64, sorted increasing.
        instance_indices: ``[num_matched]`` int64, indices into the clip's :class:`ClipTargets` instances.
    """

    query_indices: torch.Tensor
    instance_indices: torch.Tensor


def matchable_instances(target: ClipTargets) -> torch.Tensor:
    """``[num_kept]`` int64 indices of the instances that take part in matching (crowd ones do not)."""
    keep = torch.ones(target.num_instances, dtype=torch.bool, device=target.labels.device)
    if target.iscrowd is not None:
        keep &= ~target.iscrowd.bool()
    return keep.nonzero().flatten()


def focal_class_cost(
    probabilities: torch.Tensor, labels: torch.Tensor, alpha: float, gamma: float
) -> torch.Tensor:
    """The focal-loss difference between calling a query the instance's class and calling it background.

    Args:
        probabilities: ``[..., num_queries, num_classes]`` sigmoid scores.
        labels: ``[num_instances]`` int64 class indices.

    Returns:
        ``[..., num_queries, num_instances]``.
    """
    selected = probabilities[..., labels]  # [..., Q, N]
    negative = (1 - alpha) * selected**gamma * -(1 - selected + _EPSILON).log()
    positive = alpha * (1 - selected) ** gamma * -(selected + _EPSILON).log()
    return positive - negative


def pairwise_generalized_box_iou(boxes: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Generalized IoU of every box of ``boxes`` with every box of ``other``, with broadcast leading dims.

    Args:
        boxes: ``[..., num_boxes, 4]`` (x0, y0, x1, y1).
        other: ``[..., num_other, 4]`` (x0, y0, x1, y1); leading dims broadcast against ``boxes``'.

    Returns:
        ``[..., num_boxes, num_other]`` in [-1, 1] (NaN for pairs of degenerate boxes).
    """
    first = boxes[..., :, None, :]  # [..., P, 1, 4]
    second = other[..., None, :, :]  # [..., 1, N, 4]
    areas = (first[..., 2] - first[..., 0]) * (first[..., 3] - first[..., 1])  # [..., P, 1]
    other_areas = (second[..., 2] - second[..., 0]) * (second[..., 3] - second[..., 1])  # [..., 1, N]
    overlap = torch.minimum(first[..., 2:], second[..., 2:]) - torch.maximum(first[..., :2], second[..., :2])
    intersection = overlap.clamp(min=0).prod(dim=-1)  # [..., P, N]
    union = areas + other_areas - intersection
    hull = torch.maximum(first[..., 2:], second[..., 2:]) - torch.minimum(first[..., :2], second[..., :2])
    hull_area = hull.clamp(min=0).prod(dim=-1)  # [..., P, N]
    return intersection / union - (hull_area - union) / hull_area


def _pairwise_frame_costs(
    probabilities: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    target_boxes: torch.Tensor,
    config: LossConfig,
) -> torch.Tensor:
    """Weighted cost of every (query, instance) pair in every frame.

    Args:
        probabilities: ``[..., num_frames, num_predictions, num_classes]`` (leading dims: e.g. layers).
        boxes: ``[..., num_frames, num_predictions, 4]`` (cx, cy, w, h).
        labels: ``[num_instances]``.
        target_boxes: ``[num_frames, num_instances, 4]``.

    Returns:
        ``[..., num_frames, num_predictions, num_instances]``.
    """
    class_cost = focal_class_cost(probabilities, labels, config.focal_alpha, config.focal_gamma)
    l1_cost = (boxes[..., :, None, :] - target_boxes[..., None, :, :]).abs().sum(dim=-1)
    giou = pairwise_generalized_box_iou(
        box_convert(boxes, "cxcywh", "xyxy"), box_convert(target_boxes, "cxcywh", "xyxy")
    )
    return (
        config.match_class_cost * class_cost
        + config.match_box_l1_cost * l1_cost
        - config.match_box_giou_cost * giou
    )


class ClipMatcher:
    """Hungarian matching over clips (see the module docstring)."""

    def __init__(self, config: LossConfig):
        self.config = config

    @torch.no_grad()
    def match_layers(
        self, logits: torch.Tensor, boxes: torch.Tensor, targets: Sequence[ClipTargets]
    ) -> list[list[ClipMatch]]:
        """Match every clip of a batch, separately for each of several prediction sets (decoder layers).

        The costs of all layers and clips are computed at once (every query of a layer against every
        instance of the batch), copied to the CPU once, and cut per layer and clip for the assignment.

        Args:
            logits: ``[num_layers, num_frames, batch_size, num_queries, num_classes]`` class logits.
            boxes: ``[num_layers, num_frames, batch_size, num_queries, 4]`` predicted (cx, cy, w, h).
            targets: one :class:`ClipTargets` per clip, ``num_frames`` frames each.

        Returns:
            ``[layer][clip]`` :class:`ClipMatch`.
        """
        num_layers, _, batch_size, num_queries, _ = logits.shape
        if len(targets) != batch_size:
            raise ValueError(f"{len(targets)} targets for a batch of {batch_size}")
        kept = [matchable_instances(target) for target in targets]
        labels = torch.cat([target.labels[index] for target, index in zip(targets, kept, strict=True)])
        empty = torch.empty(0, dtype=torch.long)
        if labels.numel() == 0:
            return [[ClipMatch(empty, empty) for _ in targets] for _ in range(num_layers)]
        target_boxes = torch.cat(
            [target.boxes[:, index] for target, index in zip(targets, kept, strict=True)], dim=1
        )
        present = torch.cat(
            [target.present[:, index] for target, index in zip(targets, kept, strict=True)], dim=1
        )
        costs = _pairwise_frame_costs(
            logits.float().sigmoid().flatten(2, 3),
            boxes.float().flatten(2, 3),
            labels,
            target_boxes.float(),
            self.config,
        )  # [L, T, B*Q, N_all]
        costs = torch.where(present[:, None, :], costs, torch.zeros_like(costs)).sum(dim=1)  # [L, B*Q, N_all]
        costs = costs.nan_to_num(nan=1e8, posinf=1e8, neginf=-1e8)
        cost_matrices = costs.view(num_layers, batch_size, num_queries, -1).cpu().numpy()
        kept = [index.cpu() for index in kept]
        starts = [0]
        for index in kept:
            starts.append(starts[-1] + len(index))
        matches: list[list[ClipMatch]] = []
        for layer_costs in cost_matrices:
            layer_matches = []
            for batch_index, index in enumerate(kept):
                rows, columns = linear_sum_assignment(
                    layer_costs[batch_index, :, starts[batch_index] : starts[batch_index + 1]]
                )
                order = rows.argsort()
                layer_matches.append(
                    ClipMatch(
                        query_indices=torch.as_tensor(rows[order], dtype=torch.long),
                        instance_indices=index[torch.as_tensor(columns[order], dtype=torch.long)],
                    )
                )
            matches.append(layer_matches)
        return matches
