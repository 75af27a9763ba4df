"""Query groups: one-to-many supervision in training, the first group alone in evaluation."""

from __future__ import annotations

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.errors import ConfigError
from instanceformer.core.losses import InstanceFormerCriterion, QueryGroupCriterion, build_criterion
from instanceformer.core.model import InstanceFormer, QueryGroupInstanceFormer, build_model

from .test_model_training import synthetic_batch

NUM_GROUPS = 3


def _grouped_and_single_models(group: int):
    """A model with query groups and a single-group model holding group ``group``'s queries."""
    config = load_config("tiny-cpu", [f"model.transformer.num_query_groups={NUM_GROUPS}"])
    torch.manual_seed(0)
    grouped = build_model(config.model)
    single_config = load_config("tiny-cpu", ["model.transformer.num_query_groups=1"])
    single = build_model(single_config.model)
    weights = dict(grouped.state_dict())
    num_queries = config.model.transformer.num_queries
    weights["query_embedding.weight"] = weights["query_embedding.weight"][
        group * num_queries : (group + 1) * num_queries
    ]
    single.load_state_dict(weights)
    return config, grouped, single


@pytest.mark.parametrize("group", [0, 2])
def test_each_query_group_decodes_and_tracks_as_its_own_model(group: int) -> None:
    _, grouped, single = _grouped_and_single_models(group)
    batch = synthetic_batch()
    grouped.train()
    single.train()
    with torch.no_grad():
        grouped_frames = grouped(batch.images, batch.padding_mask)
        single_frames = single(batch.images, batch.padding_mask)
    for grouped_frame, single_frame in zip(grouped_frames, single_frames, strict=True):
        assert grouped_frame.logits.shape[0] == 2 * NUM_GROUPS
        rows = torch.arange(2) * NUM_GROUPS + group  # group `group` of each video
        torch.testing.assert_close(grouped_frame.logits[rows], single_frame.logits, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(grouped_frame.boxes[rows], single_frame.boxes, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(
            grouped_frame.embeddings[rows], single_frame.embeddings, rtol=1e-4, atol=1e-5
        )
        torch.testing.assert_close(grouped_frame.mask_features[rows], single_frame.mask_features)


def test_evaluation_uses_the_first_query_group_only() -> None:
    _, grouped, single = _grouped_and_single_models(0)
    images = synthetic_batch().images
    with torch.no_grad():
        grouped_frames = grouped.eval()(images)
        single_frames = single.eval()(images)
    for grouped_frame, single_frame in zip(grouped_frames, single_frames, strict=True):
        assert grouped_frame.logits.shape[0] == images.shape[0]
        torch.testing.assert_close(grouped_frame.logits, single_frame.logits)
        torch.testing.assert_close(grouped_frame.masks, single_frame.masks)


def test_the_grouped_loss_is_the_mean_of_the_groups_losses() -> None:
    config, grouped, _ = _grouped_and_single_models(0)
    criterion = build_criterion(config.loss, config.model)
    single_config = load_config("tiny-cpu", ["model.transformer.num_query_groups=1"])
    single_criterion = build_criterion(config.loss, single_config.model)
    batch = synthetic_batch()
    grouped.train()
    with torch.no_grad():
        grouped_losses = criterion(grouped(batch.images, batch.padding_mask), batch.targets)
        per_group = []
        for group in range(NUM_GROUPS):
            _, _, single = _grouped_and_single_models(group)
            single.train()
            per_group.append(single_criterion(single(batch.images, batch.padding_mask), batch.targets))
    for name in ("class", "box_l1", "mask_dice", "class_0", "contrastive", "total"):
        expected = torch.stack([losses[name] for losses in per_group]).mean()
        torch.testing.assert_close(grouped_losses[name], expected, rtol=1e-4, atol=1e-5)


def test_a_grouped_model_refuses_targets_of_another_batch() -> None:
    config, grouped, _ = _grouped_and_single_models(0)
    criterion = build_criterion(config.loss, config.model)
    batch = synthetic_batch()
    with torch.no_grad():
        frames = grouped.train()(batch.images, batch.padding_mask)
    with pytest.raises(ValueError, match="6 query sets, targets 1 clips x 3 query groups"):
        criterion(frames, batch.targets[:1])


def test_query_groups_are_validated() -> None:
    with pytest.raises(ConfigError, match="num_query_groups"):
        load_config("tiny-cpu", ["model.transformer.num_query_groups=0"])


def test_only_a_model_with_several_groups_is_a_query_group_model() -> None:
    """The core model and criterion are the single-group ones; groups wrap them."""
    single = load_config("tiny-cpu", ["model.transformer.num_query_groups=1"])
    grouped = load_config("tiny-cpu", [f"model.transformer.num_query_groups={NUM_GROUPS}"])
    single_model, grouped_model = build_model(single.model), build_model(grouped.model)
    assert type(single_model) is InstanceFormer
    assert isinstance(grouped_model, QueryGroupInstanceFormer)
    assert type(build_criterion(single.loss, single.model)) is InstanceFormerCriterion
    assert isinstance(build_criterion(grouped.loss, grouped.model), QueryGroupCriterion)
    assert [name for name, _ in single_model.named_parameters()] == [
        name for name, _ in grouped_model.named_parameters()
    ]
    assert grouped_model.query_embedding.weight.shape[0] == NUM_GROUPS * single.model.transformer.num_queries


def test_a_grouped_model_tracks_every_group_of_each_video_in_training() -> None:
    _, grouped, _ = _grouped_and_single_models(0)
    evaluation_state = grouped.eval().init_state(2)
    assert evaluation_state.batch_size == 2
    grouped.train()
    assert grouped.init_state(2).batch_size == 2 * NUM_GROUPS
    with pytest.raises(ValueError, match="state holds 2 query sets but images hold 2 videos x 3 query"):
        grouped.step(torch.randn(2, 3, 32, 32), evaluation_state)
