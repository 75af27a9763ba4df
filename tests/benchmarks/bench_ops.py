"""Benchmark of multi-scale deformable attention: compiled kernel against the PyTorch reference.

Run ``python -m tests.benchmarks.bench_ops`` from the repository root (``make bench-ops``). One run
measures, at the shapes of a 360x640 frame (levels 45x80, 23x40, 12x20, 6x10; S = 4820 values; 8 heads
x 32 channels; 4 levels x 4 points), the encoder (Q = S queries whose reference points are the pixel
centres of every level) and the decoder (Q = 300 queries at random reference points); sampling
locations are the reference point plus offsets of about two pixels of the sampled level. It times
forward and forward+backward for the reference and the kernel on the CPU at each requested thread count,
and on CUDA when a GPU and the CUDA kernel are present, and prints one table. Times are the best of at
least ``--repeats`` runs after a warm-up; fast calls run until they add up to half a second.

Floor model on the CPU: a call gathers 4 corners x D channels per sample (N*Q*M*L*P samples); the
backward reads the value rows again and reads and writes the value gradient rows, so forward+backward
touches four times the forward's elements. The memory floor is that element count divided by the
measured rate of a vectorised ``torch.sum`` over a contiguous buffer the size of ``value`` (the best
case for the same data volume, which stays in the CPU caches); the compute floor is the multiply-adds
(4 x D per sample forward, twice that more backward) at the measured ``torch.mm`` rate. Both rates are
measured on one thread and assumed to scale perfectly with the thread count.

Floor model on CUDA: a GPU serves repeated gathers from its L1 and L2 caches, so counting every
gathered element against a streaming rate is no lower bound there. The memory floor is instead the
compulsory traffic (every input read once, every output written once: value, locations, weights and
output forward; grad_output, value, locations and weights read and the three gradients written
backward) at the device-memory rate of ``torch.sum`` over a buffer far larger than the L2 cache; the
compute floor is the same FLOP count at the rate of a large float32 ``torch.mm``.

The floor is the larger of the memory and compute floors; "of floor" is floor time / kernel time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from instanceformer.ops._extensions import kernel_available, kernel_unavailable_reason
from instanceformer.ops.reference import ms_deform_attn_reference
from tests.support.attention_inputs import packed_levels

LEVELS_360P: tuple[tuple[int, int], ...] = ((45, 80), (23, 40), (12, 20), (6, 10))
NUM_HEADS = 8
HEAD_CHANNELS = 32
NUM_POINTS = 4
DECODER_QUERIES = 300
OFFSET_PIXELS = 2.0
TABLE_WIDTH = 120
MIN_TOTAL_SECONDS = 0.5
MAX_RUNS = 200
CUDA_STREAM_ELEMENTS = 1 << 28  # 1 GiB of float32: far beyond any GPU's L2 cache
CUDA_MATMUL_SIZE = 8192
CPU_MATMUL_SIZE = 512


@dataclass(frozen=True)
class Workload:
    """Inputs of one benchmark call (shapes as in :func:`ms_deform_attn_reference`)."""

    name: str
    value: torch.Tensor
    spatial_shapes: torch.Tensor
    level_start_index: torch.Tensor
    sampling_locations: torch.Tensor
    attention_weights: torch.Tensor

    @property
    def num_samples(self) -> int:
        """Bilinear samples per call: N * Q * M * L * P."""
        return self.attention_weights.numel()

    @property
    def head_channels(self) -> int:
        """Channels per head: D."""
        return self.value.shape[3]

    @property
    def compulsory_elements(self) -> tuple[int, int]:
        """Elements a forward and a backward must move at least: inputs read once, outputs written once.

        Forward: value, locations and weights read, output ``[N, Q, M * D]`` written. Backward:
        grad_output, value, locations and weights read, their three gradients written.
        """
        batch, num_queries, num_heads = self.attention_weights.shape[:3]
        output = batch * num_queries * num_heads * self.head_channels
        inputs = self.value.numel() + self.sampling_locations.numel() + self.attention_weights.numel()
        return inputs + output, output + 2 * inputs


@dataclass(frozen=True)
class Row:
    """One line of the table; times in seconds."""

    device: str
    workload: str
    num_queries: int
    threads: str
    pass_name: str
    reference_s: float
    kernel_s: float
    floor_s: float


def encoder_reference_points(levels: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Normalised (x, y) pixel centres of every level in raster order: ``[S, 2]``."""
    points = []
    for height, width in levels:
        y, x = torch.meshgrid(
            (torch.arange(height) + 0.5) / height, (torch.arange(width) + 0.5) / width, indexing="ij"
        )
        points.append(torch.stack([x.flatten(), y.flatten()], dim=-1))
    return torch.cat(points)


def make_workload(
    name: str,
    reference_points: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
    generator: torch.Generator,
) -> Workload:
    """A workload with one query per reference point (``[Q, 2]``, normalised)."""
    spatial_shapes, level_start_index, num_values = packed_levels(LEVELS_360P)
    num_queries = reference_points.shape[0]
    num_levels = len(LEVELS_360P)
    value = torch.randn(1, num_values, NUM_HEADS, HEAD_CHANNELS, generator=generator)
    # Offsets of a few pixels of the sampled level: [1, Q, M, L, P, 2].
    offsets = torch.randn(1, num_queries, NUM_HEADS, num_levels, NUM_POINTS, 2, generator=generator)
    level_sizes = spatial_shapes.flip(1).to(torch.float32).view(1, 1, 1, num_levels, 1, 2)
    locations = reference_points.view(1, num_queries, 1, 1, 1, 2) + OFFSET_PIXELS * offsets / level_sizes
    logits = torch.randn(1, num_queries, NUM_HEADS, num_levels * NUM_POINTS, generator=generator)
    weights = logits.softmax(dim=-1).view(1, num_queries, NUM_HEADS, num_levels, NUM_POINTS)
    return Workload(
        name=name,
        value=value.to(device=device, dtype=dtype),
        spatial_shapes=spatial_shapes.to(device),
        level_start_index=level_start_index.to(device),
        sampling_locations=locations.contiguous().to(device=device, dtype=dtype),
        attention_weights=weights.contiguous().to(device=device, dtype=dtype),
    )


@dataclass(frozen=True)
class Timing:
    """How to time a call: at least ``repeats`` runs, and runs until ``min_total_s`` seconds have passed."""

    repeats: int
    min_total_s: float


def best_time(call: Callable[[], object], timing: Timing, device: torch.device) -> float:
    """Best wall time of the runs ``timing`` asks for (at most ``MAX_RUNS``), after a warm-up, in seconds.

    Fast calls repeat until they add up to ``timing.min_total_s``, so their best time is less sensitive
    to other work on the machine.
    """
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    call()
    synchronize()
    best = float("inf")
    total = 0.0
    runs = 0
    while runs < timing.repeats or (total < timing.min_total_s and runs < MAX_RUNS):
        start = time.perf_counter()
        call()
        synchronize()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        total += elapsed
        runs += 1
    return best


def forward_call(op: Callable[..., torch.Tensor], workload: Workload) -> Callable[[], torch.Tensor]:
    """A call of ``op`` on the workload without autograd."""

    def call() -> torch.Tensor:
        with torch.no_grad():
            return op(
                workload.value,
                workload.spatial_shapes,
                workload.level_start_index,
                workload.sampling_locations,
                workload.attention_weights,
            )

    return call


def forward_backward_call(op: Callable[..., torch.Tensor], workload: Workload) -> Callable[[], object]:
    """A forward then a backward of ``op`` for value, locations and weights."""
    value = workload.value.detach().requires_grad_()
    locations = workload.sampling_locations.detach().requires_grad_()
    weights = workload.attention_weights.detach().requires_grad_()
    batch, num_queries = locations.shape[:2]
    grad_output = torch.randn(
        batch, num_queries, value.shape[2] * value.shape[3], device=value.device, dtype=value.dtype
    )

    def call() -> object:
        output = op(value, workload.spatial_shapes, workload.level_start_index, locations, weights)
        return torch.autograd.grad(output, (value, locations, weights), grad_output)

    return call


def streaming_rate(numel: int, device: torch.device, timing: Timing) -> float:
    """Elements per second of a vectorised ``torch.sum`` over a contiguous float32 buffer of ``numel``."""
    buffer = torch.randn(numel, device=device)
    return numel / best_time(buffer.sum, timing, device)


def matmul_rate(size: int, device: torch.device, timing: Timing) -> float:
    """Floating-point operations per second of a ``size`` x ``size`` float32 ``torch.mm`` (no TF32)."""
    left = torch.randn(size, size, device=device)
    right = torch.randn(size, size, device=device)
    return 2 * size**3 / best_time(lambda: left @ right, timing, device)


@dataclass(frozen=True)
class MachineRates:
    """Rates of the floor model: elements/s of torch.sum and FLOP/s of torch.mm (one thread on a CPU)."""

    stream_elements_per_s: float
    matmul_flop_per_s: float


def measure_rates(value_numel: int, device: torch.device, timing: Timing) -> MachineRates:
    """The floor model's rates on ``device``: on one thread over value's size on the CPU, from
    device memory (a 1 GiB buffer) and an 8192-wide product on CUDA."""
    previous_threads = torch.get_num_threads()
    previous_tf32 = torch.backends.cuda.matmul.allow_tf32
    try:
        rate_timing = Timing(max(timing.repeats, 20), timing.min_total_s)
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            return MachineRates(
                streaming_rate(CUDA_STREAM_ELEMENTS, device, rate_timing),
                matmul_rate(CUDA_MATMUL_SIZE, device, rate_timing),
            )
        torch.set_num_threads(1)
        return MachineRates(
            streaming_rate(value_numel, device, rate_timing),
            matmul_rate(CPU_MATMUL_SIZE, device, rate_timing),
        )
    finally:
        torch.set_num_threads(previous_threads)
        torch.backends.cuda.matmul.allow_tf32 = previous_tf32


def floor_seconds(
    workload: Workload, with_backward: bool, rates: MachineRates, threads: int, device_type: str = "cpu"
) -> float:
    """The floor of the model in the module docstring for ``device_type`` ("cpu" or "cuda"), in seconds.

    On the CPU the rates scale perfectly to ``threads``; on CUDA ``threads`` is ignored.
    """
    forward_elements = workload.num_samples * 4 * workload.head_channels
    flops = 2 * forward_elements * (3 if with_backward else 1)
    if device_type == "cuda":
        forward_traffic, backward_traffic = workload.compulsory_elements
        elements = forward_traffic + (backward_traffic if with_backward else 0)
        return max(elements / rates.stream_elements_per_s, flops / rates.matmul_flop_per_s)
    elements = forward_elements * (4 if with_backward else 1)
    return max(elements / rates.stream_elements_per_s, flops / rates.matmul_flop_per_s) / threads


def kernel_op(*inputs: torch.Tensor) -> torch.Tensor:
    """The compiled operator on the five inputs of :func:`ms_deform_attn_reference`, called directly
    (no fallback)."""
    return torch.ops.instanceformer.ms_deform_attn(*inputs)


def measure_device(
    device: torch.device,
    workloads: Sequence[Workload],
    thread_counts: Sequence[int | None],
    timing: Timing,
    advance: Callable[[], None],
) -> list[Row]:
    """Rows for every workload, thread count (None: not applicable) and pass on one device."""
    rows = []
    rates = measure_rates(workloads[0].value.numel(), device, timing)
    previous_threads = torch.get_num_threads()
    try:
        for threads in thread_counts:
            if threads is not None:
                torch.set_num_threads(threads)
            for workload in workloads:
                for pass_name, make_call, with_backward in (
                    ("fwd", forward_call, False),
                    ("fwd+bwd", forward_backward_call, True),
                ):
                    reference_s = best_time(make_call(ms_deform_attn_reference, workload), timing, device)
                    kernel_s = best_time(make_call(kernel_op, workload), timing, device)
                    rows.append(
                        Row(
                            device=device.type,
                            workload=workload.name,
                            num_queries=workload.sampling_locations.shape[1],
                            threads="-" if threads is None else str(threads),
                            pass_name=pass_name,
                            reference_s=reference_s,
                            kernel_s=kernel_s,
                            floor_s=floor_seconds(workload, with_backward, rates, threads or 1, device.type),
                        )
                    )
                    advance()
    finally:
        torch.set_num_threads(previous_threads)
    return rows


def check_agreement(workload: Workload) -> float:
    """Largest absolute difference between kernel and reference outputs on the workload."""
    kernel_output = forward_call(kernel_op, workload)()
    reference_output = forward_call(ms_deform_attn_reference, workload)()
    return (kernel_output - reference_output).abs().max().item()


def render_table(rows: Sequence[Row], caption: str) -> Table:
    """A Rich table of the rows: times in ms, speed-up over the reference, fraction of the floor."""
    table = Table(
        title="ms_deform_attn: compiled kernel vs PyTorch reference (360x640 frame)", caption=caption
    )
    for column in ("device", "shape"):
        table.add_column(column)
    table.add_column("Q", justify="right")
    for column in ("threads", "pass"):
        table.add_column(column)
    for column in ("reference ms", "kernel ms", "speed-up", "floor ms", "of floor"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row.device,
            row.workload,
            str(row.num_queries),
            row.threads,
            row.pass_name,
            f"{row.reference_s * 1e3:.2f}",
            f"{row.kernel_s * 1e3:.2f}",
            f"{row.reference_s / row.kernel_s:.1f}x",
            f"{row.floor_s * 1e3:.2f}",
            f"{row.floor_s / row.kernel_s:.0%}",
        )
    return table


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options (``argv`` None: ``sys.argv``); exits with a usage message on bad values."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.bench_ops",
        description="Time the compiled ms_deform_attn kernel against the PyTorch reference.",
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (best is kept)")
    parser.add_argument(
        "--min-time",
        type=float,
        default=MIN_TOTAL_SECONDS,
        help="seconds a fast measurement keeps repeating for (best time kept)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-cuda", action="store_true", help="skip the CUDA rows even when a GPU is present"
    )
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1 or any(threads < 1 for threads in arguments.threads) or arguments.min_time < 0:
        parser.error("--repeats and --threads must be positive and --min-time not negative")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table; returns the exit status (2 when the CPU kernel is not built)."""
    arguments = parse_arguments(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=TABLE_WIDTH)
    if not kernel_available("cpu"):
        console.print(f"error: {kernel_unavailable_reason('cpu')}")
        return 2
    generator = torch.Generator().manual_seed(arguments.seed)
    timing = Timing(arguments.repeats, arguments.min_time)
    decoder_points = torch.rand(DECODER_QUERIES, 2, generator=generator) * 0.9 + 0.05
    plans: list[tuple[torch.device, list[Workload], list[int | None]]] = []
    for device, dtype, thread_counts in (
        (torch.device("cpu"), torch.float32, list(arguments.threads)),
        (torch.device("cuda"), torch.float32, [None]),
    ):
        if device.type == "cuda" and (
            arguments.no_cuda or not torch.cuda.is_available() or not kernel_available("cuda")
        ):
            continue
        workloads = [
            make_workload("encoder", encoder_reference_points(LEVELS_360P), device, dtype, generator),
            make_workload("decoder", decoder_points, device, dtype, generator),
        ]
        plans.append((device, workloads, thread_counts))

    total = sum(len(workloads) * len(threads) * 2 for _, workloads, threads in plans)
    rows: list[Row] = []
    differences = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("measuring", total=total)
        for device, workloads, thread_counts in plans:
            differences.append(f"{device.type} {max(check_agreement(w) for w in workloads):.1e}")
            rows.extend(
                measure_device(device, workloads, thread_counts, timing, lambda: progress.advance(task))
            )
    has_cuda_rows = any(device.type == "cuda" for device, _, _ in plans)
    cuda_note = "" if has_cuda_rows else "; no CUDA rows (no GPU or no CUDA kernel)"
    caption = (
        f"float32, best of >= {arguments.repeats} runs; "
        f"max |kernel - reference| {', '.join(differences)}{cuda_note}.\n"
        "floor = max(element accesses / torch.sum rate, FLOPs / torch.mm rate), one-thread rates x threads"
        + ("; cuda: compulsory traffic / device-memory rate" if has_cuda_rows else "")
    )
    console.print(render_table(rows, caption))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
