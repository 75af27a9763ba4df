"""The temporal parts: state size, memory queue, priors, and switching each part off."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.losses import build_criterion
from instanceformer.core.model import build_model
from instanceformer.core.model.batch import ClipTargets


def _tiny(*overrides: str):
    torch.manual_seed(0)
    return build_model(load_config("tiny-cpu", list(overrides)).model).eval()


def test_state_size_is_constant_over_200_frames() -> None:
    model = _tiny()
    state = model.init_state(1)
    initial_elements = state.num_elements()
    frames = torch.randn(4, 1, 3, 32, 32)
    top_k, memory_frames = model.config.temporal.memory_top_k, model.config.temporal.memory_frames
    with torch.no_grad():
        for frame in range(200):
            _, state = model.step(frames[frame % 4], state)
            assert state.num_elements() == initial_elements
            assert int(state.memory_valid.sum()) == min(frame + 1, memory_frames) * top_k
    assert state.frame_index == 200
    assert sorted(set(state.memory_frame_indices.flatten().tolist())) == [197, 198, 199]
    assert all(not tensor.requires_grad for tensor in state.tensors().values())


def test_memory_ring_overwrites_the_oldest_frame() -> None:
    model = _tiny()
    state = model.init_state(1)
    top_k = model.config.temporal.memory_top_k
    with torch.no_grad():
        for frame in range(4):
            outputs, state = model.step(torch.randn(1, 3, 32, 32), state)
            slots = slice((frame % 3) * top_k, (frame % 3 + 1) * top_k)
            assert (state.memory_frame_indices[0, slots] == frame).all()
            assert torch.equal(state.memory_query_indices[0, slots], outputs.memory_queries[0])


def test_inference_may_keep_another_number_of_memory_frames() -> None:
    model = _tiny()
    state = model.init_state(1, memory_frames=5)
    assert state.num_slots == 5 * model.config.temporal.memory_top_k
    with torch.no_grad():
        for _ in range(6):
            _, state = model.step(torch.randn(1, 3, 32, 32), state)
    assert bool(state.memory_valid.all())


def test_an_empty_memory_is_the_identity_without_nan() -> None:
    """A sample whose queue is empty gets exactly what a model without memory computes."""
    model = _tiny()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        _, state = model.step(images, model.init_state(2))
        emptied = replace(
            state, memory_valid=state.memory_valid.clone().index_fill_(0, torch.tensor([1]), False)
        )
        with_memory, _ = model.step(images, emptied)
        without = build_model(load_config("tiny-cpu", ["model.temporal.memory=false"]).model).eval()
        missing, unexpected = without.load_state_dict(model.state_dict(), strict=False)
        assert missing == [] and all("memory" in key for key in unexpected)
        no_slots = replace(
            state,
            memory_tokens=state.memory_tokens[:, :0],
            memory_query_indices=state.memory_query_indices[:, :0],
            memory_frame_indices=state.memory_frame_indices[:, :0],
            memory_valid=state.memory_valid[:, :0],
        )
        reference, _ = without.step(images, no_slots)
    assert torch.isfinite(with_memory.logits).all()
    torch.testing.assert_close(with_memory.logits[1], reference.logits[1])
    torch.testing.assert_close(with_memory.masks[1], reference.masks[1])
    assert not torch.allclose(with_memory.logits[0], reference.logits[0])


def test_frame_zero_training_step_has_no_nan_gradients() -> None:
    model = _tiny().train()
    frames = model(torch.randn(1, 1, 3, 64, 64))
    frames[0].logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_refined_boxes_are_the_next_frame_reference() -> None:
    model = _tiny()
    with torch.no_grad():
        first, state = model.step(torch.randn(1, 3, 64, 64), model.init_state(1))
        second, _ = model.step(torch.randn(1, 3, 64, 64), state, collect_analysis=True)
    torch.testing.assert_close(second.analysis.reference_points[:, :, 0], first.boxes[..., :2])
    model_off = _tiny("model.temporal.propagate_boxes=false")
    with torch.no_grad():
        _, state = model_off.step(torch.randn(1, 3, 64, 64), model_off.init_state(1))
        second_off, _ = model_off.step(torch.randn(1, 3, 64, 64), state, collect_analysis=True)
    num_queries, d_model = model_off.num_queries, model_off.config.transformer.d_model
    position = model_off.query_embedding.weight[:num_queries, :d_model]  # the first query group
    torch.testing.assert_close(
        second_off.analysis.reference_points[0, :, 0], model_off.reference_points(position).sigmoid()
    )


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("model.temporal.propagate_embeddings", "embeddings"),
        ("model.temporal.propagate_classes", "class_probabilities"),
    ],
)
def test_priors_feed_the_next_frame_only_when_enabled(override: str, field: str) -> None:
    for enabled in (True, False):
        model = _tiny(f"{override}={str(enabled).lower()}")
        if model.class_prior is not None:
            torch.nn.init.normal_(model.class_prior.weight)  # the prior starts as a no-op
        image = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            _, state = model.step(image, model.init_state(1))
            baseline, _ = model.step(image, state)
            changed_state = replace(state, **{field: torch.rand_like(getattr(state, field))})
            changed, _ = model.step(image, changed_state)
        assert torch.allclose(baseline.logits, changed.logits) is not enabled


@pytest.mark.parametrize(
    ("overrides", "absent"),
    [
        (["model.temporal.propagate_classes=false"], ["class_prior."]),
        (["model.temporal.memory=false"], ["memory.", "memory_attention"]),
        (["model.temporal.contrastive=false"], ["embedding_head."]),
        (["model.temporal.propagate_embeddings=false"], []),
        (["model.temporal.propagate_boxes=false"], []),
        (
            [
                "model.temporal.propagate_embeddings=false",
                "model.temporal.propagate_boxes=false",
                "model.temporal.propagate_classes=false",
                "model.temporal.memory=false",
                "model.temporal.contrastive=false",
            ],
            ["class_prior.", "memory.", "memory_attention", "embedding_head."],
        ),
    ],
)
def test_each_temporal_part_can_be_switched_off(overrides: list[str], absent: list[str]) -> None:
    config = load_config("tiny-cpu", overrides)
    torch.manual_seed(0)
    model = build_model(config.model).train()
    names = [name for name, _ in model.named_parameters()]
    for fragment in absent:
        assert not any(fragment in name for name in names)
    full_names = [name for name, _ in build_model(load_config("tiny-cpu").model).named_parameters()]
    assert len(names) + sum(any(f in n for f in absent) for n in full_names) == len(full_names)
    frames = model(torch.randn(1, 2, 3, 64, 64))  # training-mode BatchNorm needs > 1 value per channel
    losses = build_criterion(config.loss, config.model)(frames, [_one_square_clip()])
    assert ("contrastive" in losses) is config.model.temporal.contrastive
    losses["total"].backward()
    assert torch.isfinite(losses["total"])


def _one_square_clip() -> ClipTargets:
    masks = torch.zeros(2, 1, 64, 64, dtype=torch.bool)
    masks[:, 0, 16:48, 16:48] = True
    return ClipTargets(
        labels=torch.tensor([2]),
        boxes=torch.tensor([[[0.5, 0.5, 0.5, 0.5]], [[0.5, 0.5, 0.5, 0.5]]]),
        masks=masks,
        present=torch.ones(2, 1, dtype=torch.bool),
        track_ids=torch.tensor([1]),
        image_size=(64, 64),
        video_id=1,
        frame_indices=torch.arange(2),
    )
