"""Per-sample random streams that depend only on (seed, epoch, sample index).

Every random choice of the data pipeline (clip frames, augmentation parameters, pseudo-video variants)
is drawn from a :class:`SampleRandom` built from the run's seed, the epoch and the sample's index. A
sample is therefore the same whichever process, worker or batch position produces it: changing the
number of GPUs or DataLoader workers changes the order of work, never the samples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

import torch

T = TypeVar("T")

# Streams keep the draws of different datasets independent for the same (seed, epoch, index).
VIDEO_STREAM = 1
COCO_STREAM = 2
JOINT_STREAM = 3
SAMPLER_STREAM = 4


def stream_seed(*parts: int) -> int:
    """A 63-bit seed from integer parts, by hashing (stable across processes and Python versions)."""
    text = ":".join(str(int(part)) for part in parts)
    digest = hashlib.blake2b(text.encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class SampleRandom:
    """The random stream of one sample: a seeded ``torch.Generator`` with convenience draws.

    Args:
        seed: the run's seed (``train.seed``).
        epoch: the epoch (0-based).
        index: the sample's index in its dataset.
        stream: which dataset draws (``VIDEO_STREAM``, ``COCO_STREAM``, ...).
    """

    def __init__(self, seed: int, epoch: int, index: int, stream: int):
        self.generator = torch.Generator()
        self.generator.manual_seed(stream_seed(seed, epoch, index, stream))

    def integer(self, low: int, high: int) -> int:
        """A uniform integer in ``[low, high]`` (both inclusive)."""
        if high < low:
            raise ValueError(f"expected low <= high, got [{low}, {high}]")
        return int(torch.randint(low, high + 1, (1,), generator=self.generator).item())

    def uniform(self, low: float, high: float) -> float:
        """A uniform float in ``[low, high)``."""
        return low + (high - low) * float(torch.rand((1,), generator=self.generator).item())

    def chance(self, probability: float) -> bool:
        """True with the given probability (never for 0, always for 1)."""
        if probability <= 0.0:
            return False
        if probability >= 1.0:
            return True
        return float(torch.rand((1,), generator=self.generator).item()) < probability

    def choice(self, options: Sequence[T]) -> T:
        """One element of a non-empty sequence, uniformly."""
        if not options:
            raise ValueError("expected a non-empty sequence to choose from")
        return options[self.integer(0, len(options) - 1)]

    def permutation(self, count: int) -> list[int]:
        """A uniform permutation of ``range(count)``."""
        return torch.randperm(count, generator=self.generator).tolist()

    def sample_without_replacement(self, population: Sequence[T], count: int) -> list[T]:
        """``count`` distinct elements of ``population`` (``count <= len(population)``), in random order."""
        if count > len(population):
            raise ValueError(f"expected at most {len(population)} elements, asked for {count}")
        return [population[position] for position in self.permutation(len(population))[:count]]
