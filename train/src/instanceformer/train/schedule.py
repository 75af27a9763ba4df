"""The step learning-rate schedule, counted in optimiser steps.

Epochs map to optimiser steps through the data: one epoch is ``steps_per_epoch`` optimiser steps, the
clips of one process per epoch divided by ``train.batch_size`` x the accumulation steps (incomplete
groups at the end of an epoch are dropped). The rate of every parameter group is multiplied by
``train.lr_drop_factor`` at each drop step: ``train.lr_drop_steps`` when set, else
``train.lr_drop_epochs`` x ``steps_per_epoch``. Training stops after ``train.max_steps`` optimiser steps
when set (whatever ``train.epochs`` says), else after ``train.epochs`` x ``steps_per_epoch``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import torch

from instanceformer.core.config import TrainConfig


def drop_steps(train: TrainConfig, steps_per_epoch: int) -> tuple[int, ...]:
    """The optimiser steps after which the learning rate drops (sorted)."""
    if train.lr_drop_steps is not None:
        return tuple(train.lr_drop_steps)
    return tuple(epoch * steps_per_epoch for epoch in train.lr_drop_epochs)


def total_steps(train: TrainConfig, steps_per_epoch: int) -> int:
    """The number of optimiser steps of the whole run: ``max_steps``, else ``epochs`` x steps per epoch."""
    if train.max_steps is not None:
        return train.max_steps
    return train.epochs * steps_per_epoch


class StepLearningRate:
    """Sets each parameter group's rate to ``base_lr x factor ** (drops passed)`` for the current step.

    The state is the optimiser step count alone, so a resumed run continues the schedule exactly; a
    resume that trains longer keeps the same drop steps.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, drops: Sequence[int], factor: float, step: int = 0):
        self.optimizer = optimizer
        self.drops = tuple(drops)
        self.factor = factor
        self.base_rates = [group["initial_lr"] for group in optimizer.param_groups]
        self.step_count = step
        self._apply()

    def factor_at(self, step: int) -> float:
        """The multiplier of the base rates at optimiser step ``step`` (steps already taken)."""
        return self.factor ** bisect.bisect_right(self.drops, step)

    def step(self) -> None:
        """Advance by one optimiser step and update the rates."""
        self.step_count += 1
        self._apply()

    def _apply(self) -> None:
        multiplier = self.factor_at(self.step_count)
        for group, base in zip(self.optimizer.param_groups, self.base_rates, strict=True):
            group["lr"] = base * multiplier

    def rates(self) -> dict[str, float]:
        """The current rate of each named parameter group."""
        return {group["name"]: float(group["lr"]) for group in self.optimizer.param_groups}

    def state_dict(self) -> dict[str, Any]:
        """Plain values: the step count, the drop steps and the factor."""
        return {"step": self.step_count, "drops": list(self.drops), "factor": self.factor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the step count (the drops and factor come from the configuration)."""
        self.step_count = int(state["step"])
        self._apply()
