"""Query groups: one-to-many supervision in training, the first group alone in evaluation."""

from __future__ import annotations

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.errors import ConfigError
from instanceformer.core.losses import build_criterion
from instanceformer.core.model import build_model

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
        grouped_frames = grouped.forward_clip(batch)
        single_frames = single.forward_clip(batch)
    for grouped_frame, single_frame in zip(grouped_frames, single_frames, strict=True):
        assert grouped_frame.num_query_groups == NUM_GROUPS
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
        assert grouped_frame.num_query_groups == 1
        torch.testing.assert_close(grouped_frame.logits, single_frame.logits)
        torch.testing.assert_close(grouped_frame.masks, single_frame.masks)


def test_the_grouped_loss_is_the_mean_of_the_groups_losses() -> None:
    config, grouped, _ = _grouped_and_single_models(0)
    criterion = build_criterion(config.loss, config.model)
    batch = synthetic_batch()
    grouped.train()
    with torch.no_grad():
        grouped_losses = criterion(grouped.forward_clip(batch), batch.targets)
        per_group = []
        for group in range(NUM_GROUPS):
            _, _, single = _grouped_and_single_models(group)
            single.train()
            per_group.append(criterion(single.forward_clip(batch), batch.targets))
    for name in ("class", "box_l1", "mask_dice", "class_0", "contrastive", "total"):
        expected = torch.stack([losses[name] for losses in per_group]).mean()
        torch.testing.assert_close(grouped_losses[name], expected, rtol=1e-4, atol=1e-5)


def test_a_grouped_model_refuses_targets_of_another_batch() -> None:
    config, grouped, _ = _grouped_and_single_models(0)
    criterion = build_criterion(config.loss, config.model)
    batch = synthetic_batch()
    with torch.no_grad():
        frames = grouped.train().forward_clip(batch)
    with pytest.raises(ValueError, match="6 query sets, targets 1 clips x 3 query groups"):
        criterion(frames, batch.targets[:1])


def test_query_groups_are_validated() -> None:
    with pytest.raises(ConfigError, match="num_query_groups"):
        load_config("tiny-cpu", ["model.transformer.num_query_groups=0"])
