"""The training loader with a resumable position inside an epoch."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from torch.utils.data import DataLoader, Sampler

from instanceformer.core.config import Config
from instanceformer.core.data import (
    ClipCollator,
    ClipSampler,
    EpochClipDataset,
    TrainLoader,
)
from instanceformer.core.errors import ConfigError


class ResumableSampler(Sampler[tuple[int, int]]):
    """A :class:`ClipSampler` whose next iteration may start ``skip`` samples into the epoch.

    A run resumed mid-epoch sets ``skip`` to the samples this process had consumed in that epoch, so the
    remaining batches are exactly those an uninterrupted run would have drawn; samples themselves depend
    only on ``(seed, epoch, index)``. The skip applies to one iteration and then resets.
    """

    def __init__(self, sampler: ClipSampler):
        self.sampler = sampler
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch of the next iteration."""
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        skip, self.skip = self.skip, 0
        return itertools.islice(iter(self.sampler), skip, None)


def build_resumable_loader(
    config: Config, dataset: EpochClipDataset, *, rank: int, world_size: int
) -> TrainLoader:
    """The training loader of process ``rank``: ``train.batch_size`` clips per batch, last one dropped.

    Its ``sampler`` is a :class:`ResumableSampler` over core's distributed :class:`ClipSampler`.
    """
    batch_size = config.train.batch_size
    clip_sampler = ClipSampler(len(dataset), seed=config.train.seed, rank=rank, world_size=world_size)
    if len(clip_sampler) < batch_size:
        raise ConfigError(
            f"config key 'train.batch_size': expected at most {len(clip_sampler)} (the clips per process "
            f"and epoch), got {batch_size}"
        )
    sampler = ResumableSampler(clip_sampler)
    workers = config.data.num_workers
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=ClipCollator(config.data.size_divisibility),
        drop_last=True,
        persistent_workers=workers > 0,
    )
    return TrainLoader(dataset, sampler, loader)
