"""Schedule, accumulation weights, resumable sampling and precision choice."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from instanceformer.core.config import load_config
from instanceformer.core.errors import ConfigError
from instanceformer.core.model import build_model
from instanceformer.train.accumulation import accumulation_steps, micro_batch_weights
from instanceformer.train.data.sampler import ClipSampler
from instanceformer.train.optimizer import build_optimizer
from instanceformer.train.precision import PrecisionPolicy
from instanceformer.train.schedule import (
    ScheduledLearningRate,
    cosine_multiplier,
    drop_steps,
    rate_multiplier,
    step_multiplier,
    total_steps,
)


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
    schedule = ScheduledLearningRate(optimizer, step_multiplier(drops=(2, 4), factor=0.1))
    seen = []
    for _ in range(5):
        seen.append(schedule.rates()["other"])
        schedule.step()
    assert seen == pytest.approx([1e-4, 1e-4, 1e-5, 1e-5, 1e-6])
    assert schedule.rates()["backbone"] == pytest.approx(1e-7)
    resumed = ScheduledLearningRate(_optimizer(), step_multiplier(drops=(2, 4), factor=0.1))
    resumed.load_state_dict(schedule.state_dict())
    assert resumed.rates() == schedule.rates()


def test_warmup_ramps_linearly_then_hands_over() -> None:
    multiplier = step_multiplier(drops=(6,), factor=0.5, warmup_steps=4)
    assert [multiplier(step) for step in range(8)] == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1, 0.5, 0.5])


def test_cosine_schedule_against_torch() -> None:
    """After the warm-up, the rates follow torch's CosineAnnealingLR (eta_min 0) step for step."""
    num_steps, warmup = 12, 3
    multiplier = cosine_multiplier(num_steps, warmup)
    assert [multiplier(step) for step in range(warmup)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    reference_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(reference_optimizer, T_max=num_steps - warmup)
    for step in range(warmup, num_steps + 1):
        assert multiplier(step) == pytest.approx(reference_optimizer.param_groups[0]["lr"], abs=1e-12)
        reference_optimizer.step()
        reference.step()
    assert multiplier(num_steps + 5) == 0.0


def test_configuration_picks_the_schedule() -> None:
    cosine = load_config("tiny-cpu", ["train.lr_schedule=cosine", "train.max_steps=10"]).train
    assert rate_multiplier(cosine, steps_per_epoch=3)(5) == pytest.approx(0.5)
    stepped = load_config("tiny-cpu", ["train.lr_schedule=step", "train.lr_drop_steps=[4]"]).train
    assert rate_multiplier(stepped, steps_per_epoch=3)(4) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match=r"train\.warmup_steps"):
        load_config("tiny-cpu", ["train.warmup_steps=-1"])


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


def test_the_optimizer_is_fused_and_steps_like_the_reference_adamw() -> None:
    config = load_config("tiny-cpu", ["train.lr=1e-3", "train.lr_backbone=2e-4"])
    torch.manual_seed(0)
    model = build_model(config.model)
    reference_model = copy.deepcopy(model)
    optimizer = build_optimizer(model, config.train)
    reference = torch.optim.AdamW(
        [
            {"params": group["params"], "lr": group["lr"]}
            for group in build_optimizer(reference_model, config.train).param_groups
        ],
        weight_decay=config.train.weight_decay,
        foreach=False,
    )
    assert all(group["fused"] for group in optimizer.param_groups)
    assert [group["name"] for group in optimizer.param_groups] == ["backbone", "linear_projection", "other"]
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        for parameter, reference_parameter in zip(
            model.parameters(), reference_model.parameters(), strict=True
        ):
            gradient = torch.randn(parameter.shape, generator=generator)
            parameter.grad, reference_parameter.grad = gradient, gradient.clone()
        optimizer.step()
        reference.step()
    for parameter, reference_parameter in zip(model.parameters(), reference_model.parameters(), strict=True):
        torch.testing.assert_close(parameter, reference_parameter, rtol=1e-5, atol=1e-6)
