"""Schedule, accumulation weights, resumable sampling, precision choice and metrics truncation."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from instanceformer.core.config import load_config
from instanceformer.core.data import ClipSampler
from instanceformer.core.errors import ConfigError
from instanceformer.core.runs import RunFolder
from instanceformer.train.accumulation import accumulation_steps, micro_batch_weights
from instanceformer.train.checkpointing import truncate_metrics
from instanceformer.train.precision import PrecisionPolicy
from instanceformer.train.schedule import StepLearningRate, drop_steps, total_steps


def _optimizer() -> torch.optim.Optimizer:
    parameters = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
    return torch.optim.AdamW(
        [
            {"params": [parameters[0]], "lr": 1e-5, "initial_lr": 1e-5, "name": "backbone"},
            {"params": [parameters[1]], "lr": 1e-4, "initial_lr": 1e-4, "name": "other"},
        ]
    )


def test_epochs_map_to_optimiser_steps() -> None:
    train = load_config(
        "tiny-cpu",
        ["train.epochs=5", "train.lr_drop_epochs=[2, 4]", "train.max_steps=null", "train.lr_drop_steps=null"],
    ).train
    assert drop_steps(train, steps_per_epoch=7) == (14, 28)
    assert total_steps(train, steps_per_epoch=7) == 35
    stepped = load_config("tiny-cpu", ["train.max_steps=9", "train.lr_drop_steps=[3]"]).train
    assert drop_steps(stepped, steps_per_epoch=7) == (3,)
    assert total_steps(stepped, steps_per_epoch=7) == 9


def test_step_schedule_drops_every_group_and_resumes() -> None:
    optimizer = _optimizer()
    schedule = StepLearningRate(optimizer, drops=(2, 4), factor=0.1)
    seen = []
    for _ in range(5):
        seen.append(schedule.rates()["other"])
        schedule.step()
    assert seen == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5, 1e-6])
    assert schedule.rates()["backbone"] == pytest.approx(1e-7)
    resumed = StepLearningRate(_optimizer(), drops=(2, 4), factor=0.1)
    resumed.load_state_dict(schedule.state_dict())
    assert resumed.rates() == schedule.rates()


def test_accumulation_steps_fill_the_total_batch() -> None:
    train = load_config(None, ["train.batch_size=4", "train.total_batch_size=16"]).train
    assert accumulation_steps(train, world_size=1) == 4
    assert accumulation_steps(train, world_size=4) == 1
    with pytest.raises(ConfigError, match=r"train\.total_batch_size"):
        accumulation_steps(train, world_size=3)


@given(st.lists(st.floats(min_value=1.0, max_value=1e4), min_size=1, max_size=8))
def test_micro_batch_weights_reproduce_one_large_batch(counts: list[float]) -> None:
    """Sums S_k normalised by n_k and weighted give sum(S) / sum(n), as one batch computes."""
    sums = [3.0 * count + 1.0 for count in counts]
    weights = micro_batch_weights(counts)
    combined = sum(weight * total / count for weight, total, count in zip(weights, sums, counts, strict=True))
    assert combined == pytest.approx(sum(sums) / sum(counts), rel=1e-9)


@given(
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=50),
)
def test_resumable_sampler_continues_where_the_epoch_stopped(
    num_samples: int, world_size: int, skip: int
) -> None:
    for rank in range(world_size):
        reference = list(ClipSampler(num_samples, seed=3, rank=rank, world_size=world_size))
        sampler = ClipSampler(num_samples, seed=3, rank=rank, world_size=world_size)
        sampler.skip = skip
        assert list(sampler) == reference[skip:]
        assert list(sampler) == reference


def test_resumable_sampler_follows_the_epoch() -> None:
    sampler = ClipSampler(10, seed=1)
    sampler.set_epoch(2)
    keys = list(itertools.islice(iter(sampler), 3))
    assert {epoch for epoch, _ in keys} == {2}


def test_precision_policy() -> None:
    cpu = torch.device("cpu")
    assert PrecisionPolicy.from_config(load_config(None).train, cpu).name == "fp32"
    bf16 = PrecisionPolicy.from_config(load_config(None, ["train.precision=bf16"]).train, cpu)
    with bf16.autocast():
        product = torch.ones(2, 2) @ torch.ones(2, 2)
    assert product.dtype == torch.bfloat16
    assert not bf16.grad_scaler().is_enabled()
    with pytest.raises(ConfigError, match=r"train\.precision"):
        PrecisionPolicy.from_config(load_config(None, ["train.precision=fp16"]).train, cpu)


def test_truncate_metrics_drops_steps_after_the_checkpoint(tmp_path) -> None:
    run = RunFolder.create(tmp_path / "run", load_config("tiny-cpu"))
    for step in (1, 2, 3, 4):
        run.append_metrics({"kind": "train", "step": step})
    with open(run.metrics_path, "a", encoding="utf-8") as stream:
        stream.write('{"kind":"train","st')
    truncate_metrics(run, 2)
    assert [record["step"] for record in run.read_metrics()] == [1, 2]
    assert run.metrics_path.read_text(encoding="utf-8").endswith("\n")
