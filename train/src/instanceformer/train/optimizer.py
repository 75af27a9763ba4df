"""AdamW with the published parameter groups."""

from __future__ import annotations

import torch

from instanceformer.core.config import TrainConfig
from instanceformer.core.model import InstanceFormer


def build_optimizer(model: InstanceFormer, train: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :meth:`InstanceFormer.parameter_groups`.

    Groups (each named in ``param_group["name"]``): ``backbone`` at ``train.lr_backbone``,
    ``linear_projection`` (sampling offsets and reference points) at ``train.lr`` x
    ``train.lr_linear_projection_scale``, ``other`` at ``train.lr``; weight decay on all. Empty groups are
    left out. Each group's ``initial_lr`` holds its base rate for the schedule.

    The fused implementation updates all parameters in one kernel per group and dtype, on the CPU as on
    CUDA; the per-parameter loop PyTorch picks on the CPU by default costs about 15 ms per step of the
    tiny preset's 216 tensors, against under 2 ms fused.
    """
    rates = {
        "backbone": train.lr_backbone,
        "linear_projection": train.lr * train.lr_linear_projection_scale,
        "other": train.lr,
    }
    groups = [
        {"params": parameters, "lr": rates[name], "initial_lr": rates[name], "name": name}
        for name, parameters in model.parameter_groups().items()
        if parameters
    ]
    return torch.optim.AdamW(groups, lr=train.lr, weight_decay=train.weight_decay, fused=True)
