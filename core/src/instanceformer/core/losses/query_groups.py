"""The criterion of a model trained with query groups (Group-DETR-style one-to-many supervision; see
:mod:`instanceformer.core.model.query_groups`).

Every query group is matched and supervised on its own against its clip's targets. Each term is
divided by the batch's instance count summed over the groups, so the losses are the mean of the
groups' single-group losses and the loss weights keep their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from instanceformer.core.losses.criterion import InstanceFormerCriterion
from instanceformer.core.model.batch import ClipTargets
from instanceformer.core.model.outputs import FrameOutputs


def targets_per_query_set(targets: Sequence[ClipTargets], num_query_groups: int) -> list[ClipTargets]:
    """Each clip's targets once per query group, in the grouped model's row order (row
    ``v * num_query_groups + g`` is group ``g`` of clip ``v``)."""
    return [target for target in targets for _ in range(num_query_groups)]


class QueryGroupCriterion(nn.Module):
    """Wraps the single-group criterion for the training outputs of a grouped model.

    Args:
        criterion: the single-group criterion (one output row per clip).
        num_query_groups: the model's ``num_query_groups``.
    """

    def __init__(self, criterion: InstanceFormerCriterion, num_query_groups: int):
        super().__init__()
        self.criterion = criterion
        self.num_query_groups = num_query_groups

    def forward(
        self, frames: Sequence[FrameOutputs], targets: Sequence[ClipTargets]
    ) -> dict[str, torch.Tensor]:
        """The losses of one batch (the same terms as the single-group criterion).

        Args:
            frames: the grouped model's training outputs, ``len(targets) * num_query_groups`` rows each.
            targets: one :class:`ClipTargets` per clip.
        """
        num_rows = frames[0].logits.shape[0]
        if num_rows != len(targets) * self.num_query_groups:
            raise ValueError(
                f"outputs hold {num_rows} query sets, targets {len(targets)} clips x "
                f"{self.num_query_groups} query groups"
            )
        device = frames[0].logits.device
        clip_targets = [target.to(device) for target in targets]  # each clip moves once
        return self.criterion(frames, targets_per_query_set(clip_targets, self.num_query_groups))
