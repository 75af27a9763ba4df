"""Throughput of the training clip loader for a configuration, at several worker counts."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import torch
from rich.table import Table

from instanceformer.core.config import Config
from instanceformer.core.errors import UserError
from instanceformer.core.model.batch import ClipBatch
from instanceformer.train.data.clip_dataset import EpochClipDataset
from instanceformer.train.data.loader import TrainLoader, build_train_dataset, build_train_loader


@dataclass(frozen=True)
class LoaderSpeed:
    """One measurement: ``clips`` clips in ``seconds`` with ``num_workers`` DataLoader workers."""

    num_workers: int
    clips: int
    seconds: float

    @property
    def clips_per_second(self) -> float:
        """Clips per second of wall time."""
        return self.clips / self.seconds


def _batches(loader: TrainLoader) -> Generator[ClipBatch, None, None]:
    """Batches over consecutive epochs, starting at epoch 0."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def measure_loader_speed(
    config: Config,
    workers: Sequence[int],
    num_batches: int,
    warmup_batches: int = 2,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LoaderSpeed]:
    """Time ``num_batches`` batches (after ``warmup_batches`` untimed ones) for each worker count.

    The dataset is built once; every worker count loads the same batches (epoch 0 onwards).
    ``threads`` sets PyTorch's intra-op threads of this process for the measurement (workers always
    use one). ``progress`` is called with ``(measurements done, measurements)``.
    """
    if num_batches < 1 or warmup_batches < 0:
        raise UserError(f"--batches: expected a positive number, got {num_batches}")
    if threads is not None and threads < 1:
        raise UserError(f"--threads: expected a positive number, got {threads}")
    dataset = build_train_dataset(config)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _measure(config, dataset, workers, num_batches, warmup_batches, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _measure(
    config: Config,
    dataset: EpochClipDataset,
    workers: Sequence[int],
    num_batches: int,
    warmup_batches: int,
    progress: Callable[[int, int], None] | None,
) -> list[LoaderSpeed]:
    """The measurements of :func:`measure_loader_speed` on a built dataset."""
    results = []
    for done, num_workers in enumerate(workers, 1):
        if num_workers < 0:
            raise UserError(f"--workers: expected non-negative worker counts, got {num_workers}")
        loader = build_train_loader(config, dataset=dataset, num_workers=num_workers)
        batches = _batches(loader)
        for _ in range(warmup_batches):
            next(batches)
        clips = 0
        start = time.perf_counter()
        for _ in range(num_batches):
            clips += next(batches).batch_size
        results.append(LoaderSpeed(num_workers, clips, time.perf_counter() - start))
        batches.close()
        del loader, batches
        if progress is not None:
            progress(done, len(workers))
    return results


def loader_speed_table(results: list[LoaderSpeed]) -> Table:
    """Clips per second per worker count, with the ratio to the first row."""
    table = Table(title="Training clip loader throughput")
    for column in ("workers", "clips", "seconds", "clips/s", "ratio"):
        table.add_column(column, justify="right")
    baseline = results[0].clips_per_second
    for row in results:
        table.add_row(
            str(row.num_workers),
            str(row.clips),
            f"{row.seconds:.2f}",
            f"{row.clips_per_second:.1f}",
            f"{row.clips_per_second / baseline:.2f}x",
        )
    return table
