"""The learning-rate schedule, counted in optimiser steps.

Epochs map to optimiser steps through the data: one epoch is ``steps_per_epoch`` optimiser steps, the
clips of one process per epoch divided by ``train.batch_size`` x the accumulation steps (incomplete
groups at the end of an epoch are dropped). Training stops after ``train.max_steps`` optimiser steps
when set (whatever ``train.epochs`` says), else after ``train.epochs`` x ``steps_per_epoch``.

Every parameter group's rate is its base rate times one multiplier of the step:

- ``train.lr_schedule: step`` multiplies by ``train.lr_drop_factor`` at each drop step
  (``train.lr_drop_steps`` when set, else ``train.lr_drop_epochs`` x ``steps_per_epoch``);
- ``train.lr_schedule: cosine`` follows half a cosine from 1 after the warm-up to 0 at the last step.

``train.warmup_steps`` > 0 ramps the multiplier linearly over the first steps, in both schedules.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from instanceformer.core.config import TrainConfig


def drop_steps(train: TrainConfig, steps_per_epoch: int) -> tuple[int, ...]:
    """The optimiser steps after which the step schedule's learning rate drops (sorted)."""
    if train.lr_drop_steps is not None:
        return tuple(train.lr_drop_steps)
    return tuple(epoch * steps_per_epoch for epoch in train.lr_drop_epochs)


def total_steps(train: TrainConfig, steps_per_epoch: int) -> int:
    """The number of optimiser steps of the whole run: ``max_steps``, else ``epochs`` x steps per epoch."""
    if train.max_steps is not None:
        return train.max_steps
    return train.epochs * steps_per_epoch


def step_multiplier(drops: Sequence[int], factor: float, warmup_steps: int = 0) -> Callable[[int], float]:
    """``factor ** (drops passed)``, times the linear warm-up, as a function of the steps taken."""
    drops = tuple(drops)

    def multiplier(step: int) -> float:
        return _warmup(step, warmup_steps) * factor ** bisect.bisect_right(drops, step)

    return multiplier


def cosine_multiplier(num_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """Half a cosine from 1 at the end of the warm-up to 0 at step ``num_steps``, after the warm-up ramp."""
    decay_steps = max(num_steps - warmup_steps, 1)

    def multiplier(step: int) -> float:
        progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
        return _warmup(step, warmup_steps) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return multiplier


def rate_multiplier(train: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The multiplier of the base rates that ``train`` asks for, as a function of the steps taken."""
    if train.lr_schedule == "cosine":
        return cosine_multiplier(total_steps(train, steps_per_epoch), train.warmup_steps)
    return step_multiplier(drop_steps(train, steps_per_epoch), train.lr_drop_factor, train.warmup_steps)


def _warmup(step: int, warmup_steps: int) -> float:
    """The linear ramp ``(step + 1) / warmup_steps`` capped at 1; 1 without warm-up."""
    if warmup_steps <= 0:
        return 1.0
    return min((step + 1) / warmup_steps, 1.0)


class ScheduledLearningRate:
    """Sets each parameter group's rate to ``base_lr x multiplier(steps taken)``.

    The state is the optimiser step count alone, so a resumed run continues the schedule exactly; the
    schedule's shape itself comes from the configuration.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, multiplier: Callable[[int], float], step: int = 0):
        self.optimizer = optimizer
        self.multiplier = multiplier
        self.base_rates = [group["initial_lr"] for group in optimizer.param_groups]
        self.step_count = step
        self._apply()

    def step(self) -> None:
        """Advance by one optimiser step and update the rates."""
        self.step_count += 1
        self._apply()

    def _apply(self) -> None:
        multiplier = self.multiplier(self.step_count)
        for group, base in zip(self.optimizer.param_groups, self.base_rates, strict=True):
            group["lr"] = base * multiplier

    def rates(self) -> dict[str, float]:
        """The current rate of each named parameter group."""
        return {group["name"]: float(group["lr"]) for group in self.optimizer.param_groups}

    def state_dict(self) -> dict[str, Any]:
        """Plain values: the step count."""
        return {"step": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the step count."""
        self.step_count = int(state["step"])
        self._apply()
