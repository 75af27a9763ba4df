"""The gradient norms of the temporal parts: which parameters belong to which part, and their values."""

from __future__ import annotations

import torch

from instanceformer.core.config import load_config
from instanceformer.core.losses import build_criterion
from instanceformer.core.model import build_model
from instanceformer.train.part_gradients import TEMPORAL_PARTS, part_gradient_norms, temporal_part_parameters
from tests.core.test_model_training import synthetic_batch

ALL_OFF = [
    "model.temporal.propagate_embeddings=false",
    "model.temporal.propagate_boxes=false",
    "model.temporal.propagate_classes=false",
    "model.temporal.memory=false",
    "model.temporal.contrastive=false",
]


def test_every_part_of_the_full_model_is_found_and_nothing_else() -> None:
    model = build_model(load_config("tiny-cpu").model)
    parts = temporal_part_parameters(model)
    assert set(parts) == set(TEMPORAL_PARTS)
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    found = {
        part: sorted(names[id(parameter)] for parameter in parameters) for part, parameters in parts.items()
    }
    assert found["class_prior"] == ["class_prior.bias", "class_prior.weight"]
    assert found["memory_projection"] == ["memory.projection.bias", "memory.projection.weight"]
    num_layers = load_config("tiny-cpu").model.transformer.num_decoder_layers
    assert len(found["memory_attention"]) == 6 * num_layers  # in/out projections (weight, bias), norm
    assert all(name.startswith("embedding_head.") for name in found["embedding_head"])


def test_a_model_without_temporal_parts_has_none() -> None:
    assert temporal_part_parameters(build_model(load_config("tiny-cpu", ALL_OFF).model)) == {}


def test_norms_are_the_l2_norm_of_each_parts_gradients() -> None:
    torch.manual_seed(0)
    config = load_config("tiny-cpu")
    model = build_model(config.model).train()
    parts = temporal_part_parameters(model)
    assert all(float(norm) == 0.0 for norm in part_gradient_norms(parts).values())  # no backward yet
    batch = synthetic_batch()
    losses = build_criterion(config.loss, config.model)(
        model(batch.images, batch.padding_mask), batch.targets
    )
    losses["total"].backward()
    norms = part_gradient_norms(parts)
    for part, parameters in parts.items():
        expected = torch.cat(
            [parameter.grad.flatten() for parameter in parameters if parameter.grad is not None]
        )
        torch.testing.assert_close(norms[part], expected.norm())
    # the class prior, the memory and the embedding head all receive gradient on a 3-frame clip
    assert all(float(norm) > 0.0 for norm in norms.values()), norms
