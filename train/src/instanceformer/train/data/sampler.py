"""The training sampler: a per-epoch permutation split over processes, yielding (epoch, index) keys."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Sampler

from instanceformer.train.data.randomness import SAMPLER_STREAM, SampleRandom


class ClipSampler(Sampler[tuple[int, int]]):
    """Shuffle ``num_samples`` indices per epoch and give process ``rank`` of ``world_size`` its share.

    The permutation depends on ``(seed, epoch)`` only. It is padded by wrapping around to a multiple of
    ``world_size``; process ``rank`` takes every ``world_size``-th entry from position ``rank``. Keys are
    ``(epoch, index)`` so persistent DataLoader workers always know the epoch.

    ``skip`` resumes an epoch: the next iteration starts that many keys into this process's share (the
    samples it had consumed before an interruption), then ``skip`` resets to 0. Samples depend only on
    ``(seed, epoch, index)``, so the remaining batches are exactly those of an uninterrupted run.
    """

    def __init__(
        self, num_samples: int, *, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1
    ):
        if num_samples < 1:
            raise ValueError(f"expected at least one sample, got {num_samples}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"expected 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch of the next iteration."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.num_samples // self.world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            order = SampleRandom(self.seed, self.epoch, 0, SAMPLER_STREAM).permutation(self.num_samples)
        else:
            order = list(range(self.num_samples))
        total = len(self) * self.world_size
        order = (order * (-(-total // self.num_samples)))[:total]
        skip, self.skip = self.skip, 0
        for index in order[self.rank : total : self.world_size][skip:]:
            yield self.epoch, index
