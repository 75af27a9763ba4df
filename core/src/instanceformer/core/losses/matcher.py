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
from torchvision.ops import box_convert, generalized_box_iou

from instanceformer.core.config.schema import LossConfig
from instanceformer.core.structures import ClipTargets

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


def _pairwise_frame_costs(
    probabilities: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    target_boxes: torch.Tensor,
    config: LossConfig,
) -> torch.Tensor:
    """Weighted cost of every (query, instance) pair in every frame.

    Args:
        probabilities: ``[num_frames, num_predictions, num_classes]``.
        boxes: ``[num_frames, num_predictions, 4]`` (cx, cy, w, h).
        labels: ``[num_instances]``.
        target_boxes: ``[num_frames, num_instances, 4]``.

    Returns:
        ``[num_frames, num_predictions, num_instances]``.
    """
    class_cost = focal_class_cost(probabilities, labels, config.focal_alpha, config.focal_gamma)
    l1_cost = torch.cdist(boxes, target_boxes, p=1)
    giou = torch.stack(
        [
            generalized_box_iou(box_convert(pred, "cxcywh", "xyxy"), box_convert(gt, "cxcywh", "xyxy"))
            for pred, gt in zip(boxes, target_boxes, strict=True)
        ]
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
    def __call__(
        self, logits: torch.Tensor, boxes: torch.Tensor, targets: Sequence[ClipTargets]
    ) -> list[ClipMatch]:
        """Match every clip of a batch.

        The costs of the whole batch are computed at once (every query against every instance of the
        batch) and cut per clip before the assignment.

        Args:
            logits: ``[num_frames, batch_size, num_queries, num_classes]`` class logits.
            boxes: ``[num_frames, batch_size, num_queries, 4]`` predicted (cx, cy, w, h).
            targets: one :class:`ClipTargets` per clip, ``num_frames`` frames each.

        Returns:
            One :class:`ClipMatch` per clip.
        """
        _, batch_size, num_queries, _ = logits.shape
        if len(targets) != batch_size:
            raise ValueError(f"{len(targets)} targets for a batch of {batch_size}")
        kept = [matchable_instances(target) for target in targets]
        labels = torch.cat([target.labels[index] for target, index in zip(targets, kept, strict=True)])
        target_boxes = torch.cat(
            [target.boxes[:, index] for target, index in zip(targets, kept, strict=True)], dim=1
        )
        present = torch.cat(
            [target.present[:, index] for target, index in zip(targets, kept, strict=True)], dim=1
        )
        empty = torch.empty(0, dtype=torch.long)
        if labels.numel() == 0:
            return [ClipMatch(empty, empty) for _ in targets]
        costs = _pairwise_frame_costs(
            logits.float().sigmoid().flatten(1, 2),
            boxes.float().flatten(1, 2),
            labels,
            target_boxes.float(),
            self.config,
        )  # [T, B*Q, N_all]
        costs = torch.where(present[:, None, :], costs, torch.zeros_like(costs)).sum(dim=0)  # [B*Q, N_all]
        costs = costs.nan_to_num(nan=1e8, posinf=1e8, neginf=-1e8).view(batch_size, num_queries, -1).cpu()
        matches = []
        start = 0
        for batch_index, index in enumerate(kept):
            clip_costs = costs[batch_index, :, start : start + len(index)]
            start += len(index)
            rows, columns = linear_sum_assignment(clip_costs.numpy())
            order = torch.as_tensor(rows, dtype=torch.long).argsort()
            matches.append(
                ClipMatch(
                    query_indices=torch.as_tensor(rows, dtype=torch.long)[order],
                    instance_indices=index.cpu()[torch.as_tensor(columns, dtype=torch.long)[order]],
                )
            )
        return matches
