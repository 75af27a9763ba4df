"""``make bench-infer``: frames/s of the video inference function and its peak memory over video length.

Run ``python -m tests.benchmarks.bench_infer`` from the repository root. It prints one table: frames/s
of :func:`~instanceformer.infer.video_inference.infer_video` (overlay included) with the tiny preset and
the R50 preset on the CPU (random weights; R50 at 360p on a few frames), and the peak resident memory of
separate processes that run the tiny preset over 60 and 600 frames of the same synthetic video, with
their ratio (target <= 1.1). Every measurement runs in a process of its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from instanceformer.core.config import load_config
from instanceformer.core.engine import OnlineEngine
from instanceformer.core.model import build_model
from instanceformer.infer.frame_sources import FrameSource
from instanceformer.infer.video_inference import infer_video

MEMORY_TARGET_RATIO = 1.1
SHORT_FRAMES, LONG_FRAMES = 60, 600
# The folder that holds tests/: the measuring processes start there to import this module.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def synthetic_frames(num_frames: int, height: int, width: int) -> Iterator[np.ndarray]:
    """A deterministic moving pattern: ``num_frames`` ``[height, width, 3]`` uint8 frames."""
    rows, columns = np.mgrid[0:height, 0:width]
    for index in range(num_frames):
        disc = (rows - height / 2) ** 2 + (columns - (index * 3) % width) ** 2 < (height / 5) ** 2
        frame = np.stack([(rows + index) % 256, (columns * 2) % 256, np.full_like(rows, 90)], axis=-1)
        frame[disc] = (230, 40, 40)
        yield frame.astype(np.uint8)


def measure(preset: str, num_frames: int, height: int, width: int, overrides: list[str]) -> dict[str, float]:
    """Run the video function once; return frames/s and peak RSS (MiB) of this process."""
    config = load_config(preset, ["infer.device=cpu", *overrides])
    torch.manual_seed(0)
    model = build_model(config.model)
    category_ids = list(range(1, config.model.num_classes + 1))
    engine = OnlineEngine(model, config.infer, category_ids, size_divisibility=config.data.size_divisibility)
    names = [f"class_{index}" for index in category_ids]
    with tempfile.TemporaryDirectory() as folder:
        source = FrameSource(synthetic_frames(num_frames, height, width), "bench", 10.0)
        summary = infer_video(engine, source, Path(folder), class_names=names)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "frames_per_second": summary.frames_per_second,
        "peak_rss_mib": peak_kib / 1024,
        "frames": num_frames,
    }


def _in_subprocess(
    preset: str, num_frames: int, height: int, width: int, overrides: list[str]
) -> dict[str, float]:
    arguments = json.dumps([preset, num_frames, height, width, overrides])
    completed = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_infer", "--measure", arguments],
        cwd=REPOSITORY_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run every measurement in its own process and print the table."""
    tiny = ["infer.min_size=192", "infer.max_size=320"]
    speed_tiny = _in_subprocess("tiny-cpu", 20, 272, 480, tiny)
    speed_r50 = _in_subprocess("r50-ytvis21", 3, 360, 640, ["infer.min_size=360", "infer.max_size=640"])
    short = _in_subprocess("tiny-cpu", SHORT_FRAMES, 144, 256, tiny)
    long = _in_subprocess("tiny-cpu", LONG_FRAMES, 144, 256, tiny)
    ratio = long["peak_rss_mib"] / short["peak_rss_mib"]
    table = Table(title="ifm-infer video on the CPU (random weights, overlay written)")
    for column in ("measurement", "frames", "input", "frames/s", "peak RSS (MiB)", "ratio"):
        table.add_column(column, justify="right" if column != "measurement" else "left")
    table.add_row(
        "tiny preset speed",
        "20",
        "480x272 -> 320x181",
        f"{speed_tiny['frames_per_second']:.2f}",
        f"{speed_tiny['peak_rss_mib']:.0f}",
        "",
    )
    table.add_row(
        "R50 preset speed",
        "3",
        "640x360",
        f"{speed_r50['frames_per_second']:.3f}",
        f"{speed_r50['peak_rss_mib']:.0f}",
        "",
    )
    table.add_row(
        "tiny memory, short video",
        str(SHORT_FRAMES),
        "256x144",
        f"{short['frames_per_second']:.2f}",
        f"{short['peak_rss_mib']:.0f}",
        "1.00",
    )
    verdict = "ok" if ratio <= MEMORY_TARGET_RATIO else f"above {MEMORY_TARGET_RATIO}"
    table.add_row(
        "tiny memory, long video",
        str(LONG_FRAMES),
        "256x144",
        f"{long['frames_per_second']:.2f}",
        f"{long['peak_rss_mib']:.0f}",
        f"{ratio:.3f} ({verdict})",
    )
    Console().print(table)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        preset, frames, height, width, overrides = json.loads(sys.argv[2])
        print(json.dumps(measure(preset, frames, height, width, overrides)))
    else:
        main()
