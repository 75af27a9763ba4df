"""Gradient accumulation: how many micro-batches make one optimiser step, and how they are weighted."""

from __future__ import annotations

from collections.abc import Sequence

from instanceformer.core.config import TrainConfig
from instanceformer.core.errors import ConfigError


def accumulation_steps(train: TrainConfig, world_size: int) -> int:
    """Micro-batches per optimiser step so that batch_size x world_size x steps = total_batch_size."""
    per_step = train.batch_size * world_size
    if train.total_batch_size % per_step != 0:
        raise ConfigError(
            f"config key 'train.total_batch_size': expected a multiple of train.batch_size x processes "
            f"({train.batch_size} x {world_size} = {per_step}), got {train.total_batch_size}"
        )
    return train.total_batch_size // per_step


def micro_batch_weights(instance_counts: Sequence[float]) -> list[float]:
    """The weight of each micro-batch's instance-normalised loss within one optimiser step.

    The criterion divides a micro-batch's sums by its own instance count ``n_k``; weighting it by
    ``n_k / sum(n)`` turns the sum over micro-batches into the sums of the whole step divided by the
    step's instance count, which is what one large batch computes.
    """
    total = float(sum(instance_counts))
    return [float(count) / total for count in instance_counts]
