"""Clip matching and the training losses, checked against independent computations."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.distributed as dist
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import box_convert, generalized_box_iou, generalized_box_iou_loss, sigmoid_focal_loss

from instanceformer.core.config import load_config
from instanceformer.core.losses import (
    ClipMatcher,
    InstanceFormerCriterion,
    build_criterion,
    supervised_contrastive_loss,
)
from instanceformer.core.losses.contrastive import batched_supervised_contrastive_loss
from instanceformer.core.losses.criterion import normalisation_count
from instanceformer.core.losses.mask_losses import (
    dice_loss_per_instance,
    downsample_target_masks,
    mask_focal_loss_per_instance,
)
from instanceformer.core.losses.matcher import matchable_instances, pairwise_generalized_box_iou
from instanceformer.core.model import build_model
from instanceformer.core.model.batch import ClipTargets
from instanceformer.core.model.mask_head import DynamicMaskHead
from instanceformer.core.model.outputs import FrameOutputs

LOSS = load_config("tiny-cpu").loss


def _match(matcher: ClipMatcher, logits: torch.Tensor, boxes: torch.Tensor, targets) -> list:
    """One prediction set: ``logits [num_frames, batch_size, num_queries, num_classes]`` and ``boxes
    [num_frames, batch_size, num_queries, 4]`` -> one :class:`ClipMatch` per clip."""
    return matcher.match_layers(logits[None], boxes[None], targets)[0]


def _random_targets(generator: torch.Generator, num_frames: int, num_instances: int, crowd: bool = False):
    centres = torch.rand(num_frames, num_instances, 2, generator=generator) * 0.6 + 0.2
    sizes = torch.rand(num_frames, num_instances, 2, generator=generator) * 0.2 + 0.05
    present = torch.rand(num_frames, num_instances, generator=generator) > 0.3
    present[0] = True
    boxes = torch.cat((centres, sizes), dim=-1) * present[..., None]
    return ClipTargets(
        labels=torch.randint(0, 6, (num_instances,), generator=generator),
        boxes=boxes,
        masks=torch.zeros(num_frames, num_instances, 8, 8, dtype=torch.bool),
        present=present,
        track_ids=torch.arange(num_instances),
        image_size=(8, 8),
        video_id=0,
        frame_indices=torch.arange(num_frames),
        iscrowd=torch.arange(num_instances) == 0 if crowd else None,
    )


def _random_predictions(generator: torch.Generator, num_frames: int, batch_size: int, num_queries: int):
    logits = torch.randn(num_frames, batch_size, num_queries, 6, generator=generator)
    boxes = torch.rand(num_frames, batch_size, num_queries, 4, generator=generator) * 0.5 + 0.1
    return logits, boxes


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), counts=st.lists(st.integers(0, 5), min_size=1, max_size=4))
def test_batched_matching_equals_matching_one_clip_at_a_time(seed: int, counts: list[int]) -> None:
    generator = torch.Generator().manual_seed(seed)
    targets = [_random_targets(generator, 3, count, crowd=index == 1) for index, count in enumerate(counts)]
    logits, boxes = _random_predictions(generator, 3, len(counts), 7)
    matcher = ClipMatcher(LOSS)
    batched = _match(matcher, logits, boxes, targets)
    for index, target in enumerate(targets):
        single = _match(matcher, logits[:, index : index + 1], boxes[:, index : index + 1], [target])[0]
        assert torch.equal(batched[index].query_indices, single.query_indices)
        assert torch.equal(batched[index].instance_indices, single.instance_indices)
        crowd = target.iscrowd.nonzero().flatten().tolist() if target.iscrowd is not None else []
        assert not set(crowd) & set(batched[index].instance_indices.tolist())
        assert len(batched[index].query_indices) == target.num_instances - len(crowd)


def _giou_numpy(a: np.ndarray, b: np.ndarray) -> float:
    ax0, ay0, ax1, ay1 = a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2
    bx0, by0, bx1, by1 = b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = a[2] * a[3] + b[2] * b[3] - inter
    hull = (max(ax1, bx1) - min(ax0, bx0)) * (max(ay1, by1) - min(ay0, by0))
    return inter / union - (hull - union) / hull


def _pair_cost(logits, boxes, target: ClipTargets, query: int, instance: int) -> float:
    """The clip cost of one pair, written out frame by frame."""
    total = 0.0
    alpha, gamma = LOSS.focal_alpha, LOSS.focal_gamma
    for frame in range(target.num_frames):
        if not target.present[frame, instance]:
            continue
        p = float(torch.sigmoid(logits[frame, 0, query, target.labels[instance]]))
        class_cost = alpha * (1 - p) ** gamma * -math.log(p + 1e-8) - (1 - alpha) * p**gamma * -math.log(
            1 - p + 1e-8
        )
        predicted = boxes[frame, 0, query].double().numpy()
        wanted = target.boxes[frame, instance].double().numpy()
        total += LOSS.match_class_cost * class_cost
        total += LOSS.match_box_l1_cost * np.abs(predicted - wanted).sum()
        total -= LOSS.match_box_giou_cost * _giou_numpy(predicted, wanted)
    return total


@pytest.mark.parametrize("seed", range(5))
def test_matching_minimises_the_clip_cost_by_brute_force(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    target = _random_targets(generator, 3, 3)
    logits, boxes = _random_predictions(generator, 3, 1, 5)
    match = _match(ClipMatcher(LOSS), logits, boxes, [target])[0]
    found = sum(
        _pair_cost(logits, boxes, target, q, n)
        for q, n in zip(match.query_indices.tolist(), match.instance_indices.tolist(), strict=True)
    )
    best = min(
        sum(_pair_cost(logits, boxes, target, q, n) for n, q in enumerate(queries))
        for queries in itertools.permutations(range(5), 3)
    )
    assert found == pytest.approx(best, abs=1e-4)


def test_an_object_absent_in_the_first_frame_is_matched_by_the_frames_it_appears_in() -> None:
    target = ClipTargets(
        labels=torch.tensor([2]),
        boxes=torch.tensor([[[0.0, 0.0, 0.0, 0.0]], [[0.7, 0.7, 0.2, 0.2]]]),
        masks=torch.zeros(2, 1, 8, 8, dtype=torch.bool),
        present=torch.tensor([[False], [True]]),
        track_ids=torch.tensor([1]),
        image_size=(8, 8),
        video_id=0,
        frame_indices=torch.arange(2),
    )
    logits = torch.zeros(2, 1, 3, 6)
    boxes = torch.full((2, 1, 3, 4), 0.3)
    boxes[1, 0, 2] = torch.tensor([0.7, 0.7, 0.2, 0.2])
    boxes[0, 0, 0] = torch.tensor([0.01, 0.01, 0.01, 0.01])  # would win if frame 0 counted
    match = _match(ClipMatcher(LOSS), logits, boxes, [target])[0]
    assert match.query_indices.tolist() == [2]


def _manual_frames(generator: torch.Generator, num_frames: int, num_queries: int) -> list[FrameOutputs]:
    frames = []
    for _ in range(num_frames):
        frames.append(
            FrameOutputs(
                logits=torch.randn(1, num_queries, 6, generator=generator).requires_grad_(),
                boxes=(torch.rand(1, num_queries, 4, generator=generator) * 0.4 + 0.3).requires_grad_(),
                masks=None,
                embeddings=torch.randn(1, num_queries, 4, generator=generator).requires_grad_(),
                decoder_embeddings=torch.randn(1, num_queries, 4, generator=generator),
                mask_parameters=torch.randn(1, num_queries, 169, generator=generator).requires_grad_(),
                mask_centres=torch.rand(1, num_queries, 2, generator=generator),
                mask_features=torch.randn(1, 8, 2, 2, generator=generator),
                valid_ratios=torch.ones(1, 2),
                image_sizes=torch.tensor([[16.0, 16.0]]),
                memory_queries=torch.tensor([[0, 1]]),
                mask_head=DynamicMaskHead(feature_stride=8, output_stride=4),
            )
        )
    return frames


def _focal(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    p = logits.sigmoid()
    ce = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))
    p_t = p * targets + (1 - p) * (1 - targets)
    weight = LOSS.focal_alpha * targets + (1 - LOSS.focal_alpha) * (1 - targets)
    return (weight * ce * (1 - p_t) ** LOSS.focal_gamma).sum()


def test_absent_frames_are_no_object_and_carry_no_box_or_mask_loss() -> None:
    generator = torch.Generator().manual_seed(0)
    frames = _manual_frames(generator, 2, 4)
    masks = torch.zeros(2, 2, 16, 16, dtype=torch.bool)
    masks[:, 0, 2:10, 2:10] = True
    masks[0, 1, 8:14, 4:12] = True
    target = ClipTargets(
        labels=torch.tensor([1, 3]),
        boxes=torch.tensor(
            [[[0.4, 0.4, 0.5, 0.5], [0.5, 0.7, 0.5, 0.4]], [[0.4, 0.4, 0.5, 0.5], [0, 0, 0, 0]]]
        ),
        masks=masks,
        present=torch.tensor([[True, True], [True, False]]),
        track_ids=torch.tensor([1, 2]),
        image_size=(16, 16),
        video_id=0,
        frame_indices=torch.arange(2),
    )
    model_config = load_config("tiny-cpu", ["model.transformer.num_query_groups=1"]).model
    criterion = build_criterion(replace(LOSS, auxiliary=False), model_config)
    losses = criterion(frames, [target])
    match = _match(
        ClipMatcher(LOSS),
        torch.stack([f.logits for f in frames]),
        torch.stack([f.boxes for f in frames]),
        [target],
    )[0]
    pairs = dict(zip(match.instance_indices.tolist(), match.query_indices.tolist(), strict=True))
    normaliser = 2 * 2  # instances x frames
    expected_class = 0.0
    expected_l1 = 0.0
    for frame_index, frame in enumerate(frames):
        wanted = torch.zeros(1, 4, 6)
        for instance, query in pairs.items():
            if target.present[frame_index, instance]:
                wanted[0, query, target.labels[instance]] = 1.0
                difference = frame.boxes[0, query].detach() - target.boxes[frame_index, instance]
                expected_l1 += float(difference.abs().sum())
        expected_class += float(_focal(frame.logits.detach(), wanted))
    assert float(losses["class"].detach()) == pytest.approx(
        LOSS.class_weight * expected_class / normaliser, rel=1e-5
    )
    assert float(losses["box_l1"].detach()) == pytest.approx(
        LOSS.box_l1_weight * expected_l1 / normaliser, rel=1e-5
    )
    assert set(losses) == {"class", "box_l1", "box_giou", "mask_focal", "mask_dice", "contrastive", "total"}
    losses["total"].backward()
    assert frames[0].mask_parameters.grad.abs().sum() > 0


def _supcon_loops(embeddings: torch.Tensor, labels: list[int], temperature: float) -> float:
    features = torch.nn.functional.normalize(embeddings.double(), dim=-1)
    losses = []
    for anchor in range(len(labels)):
        positives = [
            p for p in range(len(labels)) if p != anchor and labels[p] == labels[anchor] and labels[p] >= 0
        ]
        if not positives:
            continue
        others = [a for a in range(len(labels)) if a != anchor]
        denominator = sum(math.exp(float(features[anchor] @ features[a]) / temperature) for a in others)
        terms = [
            math.log(math.exp(float(features[anchor] @ features[p]) / temperature) / denominator)
            for p in positives
        ]
        losses.append(-sum(terms) / len(positives))
    return sum(losses) / len(losses)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), labels=st.lists(st.integers(-1, 3), min_size=2, max_size=9))
def test_supervised_contrastive_loss_matches_a_loop_implementation(seed: int, labels: list[int]) -> None:
    embeddings = torch.randn(len(labels), 5, generator=torch.Generator().manual_seed(seed))
    loss = supervised_contrastive_loss(embeddings, torch.tensor(labels), temperature=0.5)
    has_positive = any(labels.count(label) > 1 for label in labels if label >= 0)
    if not has_positive:
        assert loss is None
    else:
        assert float(loss) == pytest.approx(_supcon_loops(embeddings, labels, 0.5), rel=1e-5)


def test_contrastive_loss_pulls_one_instance_together_across_frames() -> None:
    close = torch.tensor([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99]])
    far = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.99, 0.1], [0.1, 0.99]])
    labels = torch.tensor([0, 0, 1, 1])
    assert supervised_contrastive_loss(close, labels, 0.07) < supervised_contrastive_loss(far, labels, 0.07)


def test_mask_targets_are_sampled_at_the_prediction_grid_centres() -> None:
    masks = torch.zeros(1, 10, 13, dtype=torch.bool)
    masks[0, 2, 6] = True
    masks[0, 9, 12] = True  # not on the grid
    sampled = downsample_target_masks(masks, (4, 4), stride=4)
    assert sampled.shape == (1, 4, 4)
    assert sampled.sum() == 1 and sampled[0, 0, 1] == 1


def test_dice_and_focal_mask_losses() -> None:
    targets = torch.zeros(2, 4, 4)
    targets[0, :2] = 1
    perfect = (targets * 2 - 1) * 50
    assert dice_loss_per_instance(perfect, targets).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    assert mask_focal_loss_per_instance(perfect, targets, 0.25, 2.0).tolist() == pytest.approx(
        [0.0, 0.0], abs=1e-6
    )
    uniform = torch.zeros(2, 4, 4)
    # p = 0.5 everywhere: instance 0 dice = 1 - (2*4 + 1) / (8 + 8 + 1), instance 1 = 1 - 1 / (8 + 1)
    assert dice_loss_per_instance(uniform, targets).tolist() == pytest.approx(
        [1 - 9 / 17, 1 - 1 / 9], rel=1e-6
    )
    expected_focal = [float(_focal(uniform[index], targets[index]) / 16) for index in range(2)]
    assert mask_focal_loss_per_instance(uniform, targets, 0.25, 2.0).tolist() == pytest.approx(
        expected_focal, rel=1e-6
    )


def test_normalisation_counts_instances_and_all_reduces(tmp_path) -> None:
    generator = torch.Generator().manual_seed(0)
    targets = [_random_targets(generator, 2, 3, crowd=True), _random_targets(generator, 2, 0)]
    assert normalisation_count(targets, torch.device("cpu")) == 2.0
    assert normalisation_count([targets[1]], torch.device("cpu")) == 1.0
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        assert normalisation_count(targets, torch.device("cpu")) == 2.0
    finally:
        dist.destroy_process_group()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), num_boxes=st.integers(1, 5), num_other=st.integers(1, 5))
def test_pairwise_generalized_box_iou_matches_torchvision_with_leading_dims(
    seed: int, num_boxes: int, num_other: int
) -> None:
    generator = torch.Generator().manual_seed(seed)

    def boxes(*shape: int) -> torch.Tensor:
        corners = torch.rand(*shape, 2, generator=generator)
        return torch.cat((corners, corners + torch.rand(*shape, 2, generator=generator) * 0.5 + 0.01), dim=-1)

    first, second = boxes(3, 2, num_boxes), boxes(2, num_other)
    actual = pairwise_generalized_box_iou(first, second)  # [3, 2, P, N]
    assert actual.shape == (3, 2, num_boxes, num_other)
    for layer, frame in itertools.product(range(3), range(2)):
        expected = generalized_box_iou(first[layer, frame], second[frame])
        torch.testing.assert_close(actual[layer, frame], expected, rtol=1e-6, atol=1e-6)


def test_matching_several_layers_at_once_equals_matching_each_layer() -> None:
    generator = torch.Generator().manual_seed(3)
    targets = [_random_targets(generator, 3, count, crowd=count == 3) for count in (2, 0, 3, 1)]
    layers = [_random_predictions(generator, 3, 4, 7) for _ in range(3)]
    matcher = ClipMatcher(LOSS)
    together = matcher.match_layers(
        torch.stack([logits for logits, _ in layers]), torch.stack([boxes for _, boxes in layers]), targets
    )
    assert len(together) == 3
    for (logits, boxes), layer_matches in zip(layers, together, strict=True):
        for alone, joint in zip(_match(matcher, logits, boxes, targets), layer_matches, strict=True):
            assert torch.equal(alone.query_indices, joint.query_indices)
            assert torch.equal(alone.instance_indices, joint.instance_indices)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    sets=st.lists(st.lists(st.integers(-1, 3), min_size=0, max_size=7), min_size=1, max_size=4),
)
def test_batched_contrastive_loss_equals_the_loss_of_each_padded_set(
    seed: int, sets: list[list[int]]
) -> None:
    generator = torch.Generator().manual_seed(seed)
    length = max(len(labels) for labels in sets) + 2  # at least two padding slots everywhere
    embeddings = torch.randn(len(sets), length, 5, generator=generator, dtype=torch.float64).requires_grad_()
    labels = torch.randint(0, 4, (len(sets), length), generator=generator)  # padding reuses real labels
    valid = torch.zeros(len(sets), length, dtype=torch.bool)
    for row, row_labels in enumerate(sets):
        labels[row, : len(row_labels)] = torch.tensor(row_labels, dtype=torch.long)
        valid[row, : len(row_labels)] = True
    per_set, has_anchor = batched_supervised_contrastive_loss(embeddings, labels, valid, 0.3)
    for row, row_labels in enumerate(sets):
        alone = supervised_contrastive_loss(
            embeddings[row, : len(row_labels)], torch.tensor(row_labels, dtype=torch.long), 0.3
        )
        assert bool(has_anchor[row]) == (alone is not None)
        expected = 0.0 if alone is None else float(alone.detach())
        assert float(per_set[row].detach()) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    per_set.sum().backward()
    assert torch.isfinite(embeddings.grad).all()
    assert embeddings.grad[~valid].abs().max() == 0


def _loop_reference_losses(
    criterion: InstanceFormerCriterion, frames, targets, groups: int
) -> dict[str, float]:
    """The criterion's terms computed layer by layer, clip by clip and frame by frame."""
    rows = [target for target in targets for _ in range(groups)]
    num_frames, num_layers = len(frames), len(frames[0].layers)
    normaliser = max(sum(len(matchable_instances(target)) for target in rows), 1) * num_frames
    alpha, gamma = criterion.config.focal_alpha, criterion.config.focal_gamma
    expected: dict[str, float] = {}
    for layer_index in range(num_layers):
        layers = [frame.layers[layer_index] for frame in frames]
        matches = _match(
            ClipMatcher(criterion.config),
            torch.stack([layer.logits for layer in layers]),
            torch.stack([layer.boxes for layer in layers]),
            rows,
        )
        sums = dict.fromkeys(("class", "box_l1", "box_giou", "mask_focal", "mask_dice"), 0.0)
        for row, (target, match) in enumerate(zip(rows, matches, strict=True)):
            for frame_index, (frame, layer) in enumerate(zip(frames, layers, strict=True)):
                present = target.present[frame_index, match.instance_indices]
                queries, instances = match.query_indices[present], match.instance_indices[present]
                class_target = torch.zeros_like(layer.logits[row])
                class_target[queries, target.labels[instances]] = 1.0
                sums["class"] += float(
                    sigmoid_focal_loss(layer.logits[row], class_target, alpha, gamma, reduction="sum")
                )
                if len(queries) == 0:
                    continue
                predicted, wanted = layer.boxes[row, queries], target.boxes[frame_index, instances]
                sums["box_l1"] += float((predicted - wanted).abs().sum())
                sums["box_giou"] += float(
                    generalized_box_iou_loss(
                        box_convert(predicted, "cxcywh", "xyxy"),
                        box_convert(wanted, "cxcywh", "xyxy"),
                        reduction="sum",
                    )
                )
                logits = frame.mask_head(
                    frame.mask_features[row : row + 1],
                    layer.mask_parameters[row, queries][None],
                    layer.mask_centres[row, queries][None],
                    frame.image_sizes[row : row + 1],
                )[0]
                wanted_masks = downsample_target_masks(
                    target.masks[frame_index, instances], logits.shape[-2:], frame.mask_stride
                )
                sums["mask_focal"] += float(
                    mask_focal_loss_per_instance(logits, wanted_masks, alpha, gamma).sum()
                )
                sums["mask_dice"] += float(dice_loss_per_instance(logits, wanted_masks).sum())
        suffix = "" if layer_index == num_layers - 1 else f"_{layer_index}"
        for name, value in sums.items():
            expected[name + suffix] = criterion.weights[name] * value / normaliser
    return expected


@pytest.mark.parametrize("groups", [1, 2])
def test_the_batched_criterion_equals_a_loop_over_layers_clips_and_frames(groups: int) -> None:
    config = load_config(
        "tiny-cpu", ["data.train_min_sizes=[64]", f"model.transformer.num_query_groups={groups}"]
    )
    torch.manual_seed(0)
    model = build_model(config.model).train()
    generator = torch.Generator().manual_seed(groups)
    targets = []
    for count in (3, 0, 2):
        target = _random_targets(generator, 2, count)
        masks = torch.rand(2, count, 64, 96, generator=generator) > 0.7
        targets.append(replace(target, masks=masks & target.present[..., None, None], image_size=(64, 96)))
    frames = model(torch.randn(3, 2, 3, 64, 96, generator=generator))
    criterion = build_criterion(config.loss, config.model)
    losses = criterion(frames, targets)
    with torch.no_grad():
        expected = _loop_reference_losses(
            InstanceFormerCriterion(config.loss, config.model), frames, targets, groups
        )
    assert set(losses) == set(expected) | {"contrastive", "total"}
    assert all(value > 0 for name, value in expected.items() if name.startswith(("class", "mask", "box")))
    for name, value in expected.items():
        assert float(losses[name].detach()) == pytest.approx(value, rel=1e-5, abs=1e-7), name
