"""The base of the training clip datasets: samples addressed by (epoch, index)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch.utils.data import Dataset

from instanceformer.train.data.sample import ClipSample


class EpochClipDataset(Dataset[ClipSample], ABC):
    """A map-style dataset whose samples depend only on ``(seed, epoch, index)``.

    ``dataset[index]`` gives the sample of the epoch set with :meth:`set_epoch`; ``dataset[(epoch,
    index)]`` names the epoch explicitly (what :class:`~instanceformer.train.data.sampler.ClipSampler`
    yields, so that persistent DataLoader workers need no epoch update).
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch that integer indices refer to."""
        self.epoch = int(epoch)

    def __getitem__(self, key: int | tuple[int, int]) -> ClipSample:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        if not 0 <= index < len(self):
            raise IndexError(f"sample index {index} outside [0, {len(self)})")
        return self.sample(int(epoch), int(index))

    @abstractmethod
    def __len__(self) -> int:
        """The number of samples per epoch."""

    @abstractmethod
    def sample(self, epoch: int, index: int) -> ClipSample:
        """The sample ``index`` of ``epoch`` (a pure function of the seed, the epoch and the index)."""
