"""The deformable attention benchmark (``make bench-ops``): workloads, floor model, a run on tiny shapes."""

from __future__ import annotations

import pytest
import torch

from tests.benchmarks import bench_ops


def test_encoder_reference_points_are_the_pixel_centres_in_raster_order() -> None:
    points = bench_ops.encoder_reference_points([(2, 4), (1, 2)])
    first_level = [[x, y] for y in (0.25, 0.75) for x in (0.125, 0.375, 0.625, 0.875)]
    second_level = [[0.25, 0.5], [0.75, 0.5]]
    expected = torch.tensor([*first_level, *second_level])
    assert torch.equal(points, expected)


def test_the_360p_encoder_workload_has_the_published_shapes() -> None:
    generator = torch.Generator().manual_seed(0)
    workload = bench_ops.make_workload(
        "encoder",
        bench_ops.encoder_reference_points(bench_ops.LEVELS_360P),
        torch.device("cpu"),
        torch.float32,
        generator,
    )
    assert workload.value.shape == (1, 4820, 8, 32)
    assert workload.sampling_locations.shape == (1, 4820, 8, 4, 4, 2)
    assert workload.num_samples == 616_960
    assert workload.level_start_index.tolist() == [0, 3600, 4520, 4760]
    torch.testing.assert_close(workload.attention_weights.sum(dim=(-2, -1)), torch.ones(1, 4820, 8))
    # Offsets of about two pixels of the sampled level around the reference point.
    level_sizes = workload.spatial_shapes.flip(1).view(1, 1, 1, 4, 1, 2)
    reference = bench_ops.encoder_reference_points(bench_ops.LEVELS_360P).view(1, 4820, 1, 1, 1, 2)
    offset_pixels = (workload.sampling_locations - reference) * level_sizes
    assert 1.8 < offset_pixels.std().item() < 2.2


def test_the_floor_counts_element_accesses_and_flops() -> None:
    workload = bench_ops.make_workload(
        "tiny", torch.rand(3, 2), torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0)
    )
    forward_elements = 3 * 8 * 4 * 4 * 4 * 32
    memory_bound = bench_ops.MachineRates(stream_elements_per_s=1e9, matmul_flop_per_s=1e15)
    assert bench_ops.floor_seconds(workload, False, memory_bound, 1) == pytest.approx(forward_elements / 1e9)
    assert bench_ops.floor_seconds(workload, True, memory_bound, 2) == pytest.approx(
        4 * forward_elements / 2e9
    )
    compute_bound = bench_ops.MachineRates(stream_elements_per_s=1e15, matmul_flop_per_s=1e9)
    assert bench_ops.floor_seconds(workload, True, compute_bound, 1) == pytest.approx(
        6 * forward_elements / 1e9
    )


def test_a_run_on_tiny_shapes_prints_one_table(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(bench_ops, "LEVELS_360P", ((4, 6), (2, 3)))
    monkeypatch.setattr(bench_ops, "DECODER_QUERIES", 5)
    assert bench_ops.main(["--threads", "1", "--repeats", "1", "--min-time", "0", "--no-cuda"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("compiled kernel vs PyTorch reference") == 1
    for text in ("encoder", "decoder", "fwd+bwd", "speed-up", "of floor", "max |kernel - reference| cpu"):
        assert text in printed


def test_the_cuda_floor_counts_compulsory_traffic_not_gathers() -> None:
    workload = bench_ops.make_workload(
        "tiny", torch.rand(3, 2), torch.device("cpu"), torch.float32, torch.Generator().manual_seed(0)
    )
    num_values = sum(height * width for height, width in bench_ops.LEVELS_360P)
    value = num_values * 8 * 32
    locations = 3 * 8 * 4 * 4 * 2
    weights = 3 * 8 * 4 * 4
    output = 3 * 8 * 32
    assert workload.compulsory_elements == (
        value + locations + weights + output,
        output + 2 * (value + locations + weights),
    )
    memory_bound = bench_ops.MachineRates(stream_elements_per_s=1e9, matmul_flop_per_s=1e15)
    forward = bench_ops.floor_seconds(workload, False, memory_bound, 16, "cuda")
    assert forward == pytest.approx((value + locations + weights + output) / 1e9)
    both = bench_ops.floor_seconds(workload, True, memory_bound, 1, "cuda")
    assert both == pytest.approx((3 * (value + locations + weights) + 2 * output) / 1e9)
    compute_bound = bench_ops.MachineRates(stream_elements_per_s=1e15, matmul_flop_per_s=1e9)
    forward_elements = 3 * 8 * 4 * 4 * 4 * 32
    assert bench_ops.floor_seconds(workload, True, compute_bound, 4, "cuda") == pytest.approx(
        6 * forward_elements / 1e9
    )
