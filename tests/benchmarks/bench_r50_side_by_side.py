"""``make bench-r50``: our R50 training step and inference frame beside Hugging Face's Deformable DETR.

Run ``python -m tests.benchmarks.bench_r50_side_by_side`` from the repository root. In one process, at a
fixed number of CPU threads (default 1), it times

* our training step: the ``r50-ytvis21`` preset as it trains (frozen stem, first stage and BatchNorm,
  memory, contrastive head, auxiliary losses), random weights, one clip of the preset's frames at
  ``--size`` (default 360x640, padded to the preset's size divisibility as the training collate pads) with
  three synthetic instances: forward, criterion, backward, gradient
  clipping and the fused AdamW step, as :meth:`Trainer.optimiser_step` runs them in fp32;
* our inference frame: :meth:`InstanceFormer.step` on one ``--size`` frame in evaluation mode under
  :func:`torch.inference_mode` with masks computed for every query, the tracking state carried from
  frame to frame as the online engine carries it;
* when ``transformers`` is importable (``--transformers-path DIR`` adds a ``pip install --target DIR``
  folder to the path): Hugging Face's ``DeformableDetrModel`` with the R50 Deformable DETR settings
  (timm ResNet-50, 300 queries, 6 + 6 layers, d_model 256, 4 levels, box refinement, random weights,
  the pure PyTorch deformable attention), one frame of the same size, which is backbone, encoder and
  decoder without heads or masks.

The measurements are interleaved (one run of each per round, after one untimed warm-up round) so that
the load of other processes falls on all of them alike; the table gives the best and the median wall
time of the rounds, the median process CPU time, our wall time over theirs, and the load average at the
start and the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from instanceformer.core.config import load_config
from instanceformer.core.losses import build_criterion
from instanceformer.core.model import build_model
from instanceformer.core.model.batch import ClipBatch, ClipTargets
from instanceformer.train.optimizer import build_optimizer

PRESET = "r50-ytvis21"
# The preset refuses frozen layers without a weights file; build_model(pretrained_backbone=False) never
# opens it, so the frozen stages keep their random initial values.
UNUSED_WEIGHTS = "random-initialisation-not-read"
FRAME_TARGET_RATIO = 0.5
NUM_INSTANCES = 3
TRAIN = "training step"
FRAME = "inference frame"
OURS = "ours"
HUGGING_FACE = "HF DeformableDetrModel"


@dataclass(frozen=True)
class Case:
    """One timed callable: what it measures, whose implementation, and the input it runs on."""

    measurement: str
    implementation: str
    input: str
    run: Callable[[], None]


@dataclass(frozen=True)
class Timing:
    """The wall times and the process CPU times of one case over the measured rounds (with one thread on a
    loaded machine the CPU time is the steadier of the two)."""

    measurement: str
    implementation: str
    input: str
    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...]

    @property
    def best_s(self) -> float:
        """The fastest round, in seconds."""
        return min(self.seconds)

    @property
    def median_s(self) -> float:
        """The median round, in seconds."""
        return statistics.median(self.seconds)

    @property
    def median_cpu_s(self) -> float:
        """The median process CPU time of a round, in seconds."""
        return statistics.median(self.cpu_seconds)


def synthetic_clip(
    num_frames: int, height: int, width: int, num_classes: int, seed: int = 0, size_divisibility: int = 1
) -> ClipBatch:
    """One clip of ``num_frames`` random normalised frames with :data:`NUM_INSTANCES` rectangles that move
    by a few pixels per frame, every instance present in every frame; zero-padded right and bottom to
    multiples of ``size_divisibility``, as the training collate pads."""
    generator = torch.Generator().manual_seed(seed)
    padded_height = -(-height // size_divisibility) * size_divisibility
    padded_width = -(-width // size_divisibility) * size_divisibility
    images = torch.zeros(1, num_frames, 3, padded_height, padded_width)
    images[..., :height, :width] = torch.randn(1, num_frames, 3, height, width, generator=generator)
    padding_mask = torch.ones(1, padded_height, padded_width, dtype=torch.bool)
    padding_mask[:, :height, :width] = False
    masks = torch.zeros(num_frames, NUM_INSTANCES, height, width, dtype=torch.bool)
    boxes = torch.zeros(num_frames, NUM_INSTANCES, 4)
    for instance in range(NUM_INSTANCES):
        box_height, box_width = height // (3 + instance), width // (4 + instance)
        for frame in range(num_frames):
            top = (height // 8 + instance * height // 5 + 3 * frame) % (height - box_height)
            left = (width // 10 + instance * width // 4 + 5 * frame) % (width - box_width)
            masks[frame, instance, top : top + box_height, left : left + box_width] = True
            boxes[frame, instance] = torch.tensor(
                [
                    (left + box_width / 2) / width,
                    (top + box_height / 2) / height,
                    box_width / width,
                    box_height / height,
                ]
            )
    targets = ClipTargets(
        labels=torch.arange(NUM_INSTANCES) % num_classes,
        boxes=boxes,
        masks=masks,
        present=torch.ones(num_frames, NUM_INSTANCES, dtype=torch.bool),
        track_ids=torch.arange(NUM_INSTANCES) + 1,
        image_size=(height, width),
        video_id=1,
        frame_indices=torch.arange(num_frames),
    )
    return ClipBatch(images, padding_mask, (targets,))


def our_training_step(height: int, width: int, seed: int = 0) -> Case:
    """Our R50 preset's training step on one synthetic clip of the preset's frames (random weights)."""
    config = load_config(PRESET, [f"model.backbone.weights={UNUSED_WEIGHTS}", "train.device=cpu"])
    torch.manual_seed(seed)
    model = build_model(config.model, pretrained_backbone=False).train()
    criterion = build_criterion(config.loss, config.model)
    optimizer = build_optimizer(model, config.train)
    batch = synthetic_clip(
        config.data.num_frames, height, width, config.model.num_classes, seed, config.data.size_divisibility
    )
    max_norm = config.train.clip_max_norm or float("inf")

    def run() -> None:
        optimizer.zero_grad(set_to_none=True)
        losses = criterion(model(batch.images, batch.padding_mask), batch.targets)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()

    padded_height, padded_width = batch.images.shape[-2:]
    clip = (
        f"1 clip x {config.data.num_frames} frames, {height}x{width} padded to {padded_height}x{padded_width}"
    )
    return Case(TRAIN, OURS, clip, run)


def our_inference_frame(height: int, width: int, seed: int = 0) -> Case:
    """Our R50 preset's :meth:`InstanceFormer.step` on one frame in evaluation mode, masks computed, the
    state carried from call to call (random weights)."""
    config = load_config(PRESET, [f"model.backbone.weights={UNUSED_WEIGHTS}", "infer.device=cpu"])
    torch.manual_seed(seed)
    model = build_model(config.model, pretrained_backbone=False).eval()
    image = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(seed))
    state = [model.init_state(1, memory_frames=config.infer.memory_frames)]

    def run() -> None:
        with torch.inference_mode():
            _, state[0] = model.step(image, state[0], None, compute_masks=True)

    return Case(FRAME, OURS, f"1 frame, {height}x{width}, masks", run)


def hugging_face_frame(height: int, width: int, seed: int = 0) -> Case:
    """Hugging Face's ``DeformableDetrModel`` as R50 Deformable DETR (random weights) on one frame."""
    from transformers import DeformableDetrConfig, DeformableDetrModel

    config = DeformableDetrConfig(
        num_queries=300,
        encoder_layers=6,
        decoder_layers=6,
        d_model=256,
        num_feature_levels=4,
        encoder_n_points=4,
        decoder_n_points=4,
        with_box_refine=True,
        disable_custom_kernels=True,
    )
    torch.manual_seed(seed)
    model: nn.Module = DeformableDetrModel(config).eval()
    image = torch.randn(1, 3, height, width, generator=torch.Generator().manual_seed(seed))
    pixel_mask = torch.ones(1, height, width, dtype=torch.long)

    def run() -> None:
        with torch.inference_mode():
            model(pixel_values=image, pixel_mask=pixel_mask)

    return Case(FRAME, HUGGING_FACE, f"1 frame, {height}x{width}, no heads", run)


def time_interleaved(cases: Sequence[Case], rounds: int, warmup: int = 1) -> list[Timing]:
    """Run every case once per round, in order, for ``warmup`` untimed rounds and ``rounds`` timed ones."""
    wall: list[list[float]] = [[] for _ in cases]
    cpu: list[list[float]] = [[] for _ in cases]
    for round_index in range(warmup + rounds):
        for index, case in enumerate(cases):
            start, cpu_start = time.perf_counter(), time.process_time()
            case.run()
            elapsed, cpu_elapsed = time.perf_counter() - start, time.process_time() - cpu_start
            if round_index >= warmup:
                wall[index].append(elapsed)
                cpu[index].append(cpu_elapsed)
    return [
        Timing(case.measurement, case.implementation, case.input, tuple(wall[index]), tuple(cpu[index]))
        for index, case in enumerate(cases)
    ]


def ratios_to_ours(timings: Sequence[Timing]) -> dict[tuple[str, str], tuple[float, float]]:
    """(best, median) of our time over each other implementation's time of the same measurement, keyed by
    (measurement, implementation)."""
    ours = {timing.measurement: timing for timing in timings if timing.implementation == OURS}
    result: dict[tuple[str, str], tuple[float, float]] = {}
    for timing in timings:
        reference = ours.get(timing.measurement)
        if timing.implementation == OURS or reference is None:
            continue
        result[(timing.measurement, timing.implementation)] = (
            reference.best_s / timing.best_s,
            reference.median_s / timing.median_s,
        )
    return result


def render_table(timings: Sequence[Timing], threads: int, loads: Mapping[str, float]) -> Table:
    """The Rich table of the timings; each other implementation's row gives ours / theirs, with the
    verdict against :data:`FRAME_TARGET_RATIO` on the frame rows."""
    load_text = ", ".join(f"{name} {value:.2f}" for name, value in loads.items())
    table = Table(
        title="R50 side by side on the CPU (random weights)",
        caption=f"{threads} thread(s); 1-minute load average: {load_text}",
    )
    for column in ("measurement", "implementation", "input"):
        table.add_column(column)
    for column in ("runs", "best s", "median s", "median CPU s", "ours/theirs best", "ours/theirs median"):
        table.add_column(column, justify="right")
    ratios = ratios_to_ours(timings)
    for timing in timings:
        best_ratio = median_ratio = ""
        ratio = ratios.get((timing.measurement, timing.implementation))
        if ratio is not None:
            best_ratio, median_ratio = f"{ratio[0]:.2f}x", f"{ratio[1]:.2f}x"
            if timing.measurement == FRAME:
                verdict = "ok" if ratio[1] <= FRAME_TARGET_RATIO else f"target <= {FRAME_TARGET_RATIO}"
                median_ratio += f" ({verdict})"
        table.add_row(
            timing.measurement,
            timing.implementation,
            timing.input,
            str(len(timing.seconds)),
            f"{timing.best_s:.3f}",
            f"{timing.median_s:.3f}",
            f"{timing.median_cpu_s:.3f}",
            best_ratio,
            median_ratio,
        )
    return table


def parse_size(text: str) -> tuple[int, int]:
    """``HEIGHTxWIDTH`` -> (height, width)."""
    height, separator, width = text.partition("x")
    if not separator or not height.isdigit() or not width.isdigit() or int(height) < 32 or int(width) < 32:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH of at least 32x32, got {text!r}")
    return int(height), int(width)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options (``argv`` None: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_r50_side_by_side",
        description="Time our R50 training step and inference frame beside HF Deformable DETR.",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after one warm-up (default 3)")
    parser.add_argument("--size", type=parse_size, default=(360, 640), help="HEIGHTxWIDTH (default 360x640)")
    parser.add_argument("--no-train", action="store_true", help="skip the training step")
    parser.add_argument("--no-hf", action="store_true", help="skip Hugging Face even when it is importable")
    parser.add_argument(
        "--transformers-path", type=Path, help="a folder to import transformers from (pip install --target)"
    )
    arguments = parser.parse_args(argv)
    if arguments.threads < 1 or arguments.rounds < 1:
        parser.error("--threads and --rounds must be positive")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Build the cases, time them interleaved and print the table; returns the exit status."""
    arguments = parse_arguments(argv)
    torch.set_num_threads(arguments.threads)
    if arguments.transformers_path is not None:
        sys.path.insert(0, str(arguments.transformers_path))
    console = Console()
    height, width = arguments.size
    with console.status("building the models"):
        cases = [] if arguments.no_train else [our_training_step(height, width)]
        cases.append(our_inference_frame(height, width))
        if not arguments.no_hf:
            if importlib.util.find_spec("transformers") is None:
                console.print("transformers is not importable: no Hugging Face row (--transformers-path)")
            else:
                cases.append(hugging_face_frame(height, width))
    loads = {"start": os.getloadavg()[0]}
    with console.status(f"timing {len(cases)} cases, 1 warm-up + {arguments.rounds} rounds"):
        timings = time_interleaved(cases, arguments.rounds)
    loads["end"] = os.getloadavg()[0]
    console.print(render_table(timings, torch.get_num_threads(), loads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
