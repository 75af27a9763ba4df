"""The training loss of InstanceFormer over a batch of clips.

For every decoder layer (auxiliary losses) the clip is matched once (:class:`ClipMatcher`) and then
supervised frame by frame: a focal class loss on every query (a matched query is "no object" in the
frames where its instance is absent), L1 + GIoU box losses and focal + dice mask losses on the frames
where the instance is present. The final layer adds the temporal contrastive loss on the instance
embeddings. Every term is divided by the number of ground-truth instances of the batch (all-reduced
over processes) and by the number of frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou_loss, sigmoid_focal_loss

from instanceformer.core.config.schema import LossConfig, ModelConfig
from instanceformer.core.losses.contrastive import supervised_contrastive_loss
from instanceformer.core.losses.mask_losses import dice_loss, downsample_target_masks, mask_focal_loss
from instanceformer.core.losses.matcher import ClipMatch, ClipMatcher, matchable_instances
from instanceformer.core.model.mask_head import dynamic_mask_logits
from instanceformer.core.model.outputs import FrameOutputs, LayerOutputs
from instanceformer.core.structures import ClipTargets

TERMS = ("class", "box_l1", "box_giou", "mask_focal", "mask_dice")


def normalisation_count(targets: Sequence[ClipTargets], device: torch.device) -> float:
    """The number of matchable ground-truth instances per process (averaged over processes), at least 1."""
    count = torch.tensor([float(sum(len(matchable_instances(target)) for target in targets))], device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(count)
        count = count / dist.get_world_size()
    return max(float(count.item()), 1.0)


class InstanceFormerCriterion(nn.Module):
    """Weighted losses; :meth:`forward` returns each weighted term and their sum under ``total``.

    Term names: ``class``, ``box_l1``, ``box_giou``, ``mask_focal``, ``mask_dice`` for the last decoder
    layer, the same with a ``_<layer>`` suffix for the earlier layers, and ``contrastive``.
    """

    def __init__(self, loss: LossConfig, model: ModelConfig):
        super().__init__()
        self.config = loss
        self.num_classes = model.num_classes
        self.contrastive = model.temporal.contrastive and loss.contrastive_weight > 0
        self.matcher = ClipMatcher(loss)
        self.weights = {
            "class": loss.class_weight,
            "box_l1": loss.box_l1_weight,
            "box_giou": loss.box_giou_weight,
            "mask_focal": loss.mask_focal_weight,
            "mask_dice": loss.mask_dice_weight,
        }

    def forward(
        self, frames: Sequence[FrameOutputs], targets: Sequence[ClipTargets]
    ) -> dict[str, torch.Tensor]:
        """The losses of one batch.

        Args:
            frames: the model's outputs, one per frame of the clips (from ``model(images, padding_mask)``).
            targets: one :class:`ClipTargets` per clip, with ``len(frames)`` frames each. With query
                groups (``FrameOutputs.num_query_groups``) each clip's targets serve all its groups.
        """
        num_frames = len(frames)
        for target in targets:
            if target.num_frames != num_frames:
                raise ValueError(f"targets have {target.num_frames} frames, outputs {num_frames}")
        groups = frames[0].num_query_groups
        if frames[0].logits.shape[0] != len(targets) * groups:
            raise ValueError(
                f"outputs hold {frames[0].logits.shape[0]} query sets, targets {len(targets)} clips x "
                f"{groups} query groups"
            )
        device = frames[0].logits.device
        clip_targets = [target.to(device) for target in targets]
        # every query group is matched and supervised on its own; averaging over the groups keeps the
        # scale of each term that of a single group
        targets = [target for target in clip_targets for _ in range(groups)]
        normaliser = normalisation_count(targets, device) * num_frames
        num_layers = len(frames[0].layers)
        layer_indices = range(num_layers) if self.config.auxiliary else [num_layers - 1]
        mask_targets = _grid_mask_targets(frames, clip_targets, groups)
        losses: dict[str, torch.Tensor] = {}
        final_matches: list[ClipMatch] = []
        for layer_index in layer_indices:
            layers = [frame.layers[layer_index] for frame in frames]
            matches = self.matcher(
                torch.stack([layer.logits for layer in layers]),
                torch.stack([layer.boxes for layer in layers]),
                targets,
            )
            suffix = "" if layer_index == num_layers - 1 else f"_{layer_index}"
            for name, value in self._layer_losses(frames, layers, targets, matches, mask_targets).items():
                losses[name + suffix] = self.weights[name] * value / normaliser
            if layer_index == num_layers - 1:
                final_matches = matches
        if self.contrastive:
            losses["contrastive"] = self.config.contrastive_weight * self._contrastive_loss(
                frames, targets, final_matches
            )
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses

    def _layer_losses(
        self,
        frames: Sequence[FrameOutputs],
        layers: Sequence[LayerOutputs],
        targets: Sequence[ClipTargets],
        matches: Sequence[ClipMatch],
        mask_targets: Sequence[Sequence[torch.Tensor]],
    ) -> dict[str, torch.Tensor]:
        """Unnormalised sums of the five terms for one decoder layer over all frames and clips.

        ``mask_targets[frame][clip]`` holds the clip's ``[num_instances, h, w]`` masks at the prediction
        grid (see :func:`downsample_target_masks`). The matched pairs of all clips of a frame are
        supervised together.
        """
        zero = layers[0].logits.sum() * 0.0
        sums = dict.fromkeys(TERMS, zero)
        device = layers[0].logits.device
        for frame_index, (frame, layer) in enumerate(zip(frames, layers, strict=True)):
            pairs = _present_pairs(targets, matches, frame_index, device)
            class_targets = torch.zeros_like(layer.logits)  # [B, Q, C]
            if pairs is not None:
                class_targets[pairs.batch, pairs.queries, pairs.labels] = 1.0
                predicted = layer.boxes[pairs.batch, pairs.queries]  # [K, 4]
                wanted = pairs.boxes.to(predicted.dtype)  # [K, 4]
                sums["box_l1"] = sums["box_l1"] + (predicted - wanted).abs().sum()
                sums["box_giou"] = sums["box_giou"] + generalized_box_iou_loss(
                    box_convert(predicted, "cxcywh", "xyxy"),
                    box_convert(wanted, "cxcywh", "xyxy"),
                    reduction="sum",
                )
                mask_logits = _pair_masks(frame, layer, pairs)  # [K, h, w]
                wanted_masks = torch.cat(
                    [
                        mask_targets[frame_index][clip][instances]
                        for clip, instances in zip(pairs.clips, pairs.instances_per_clip, strict=True)
                    ]
                ).to(mask_logits.dtype)  # [K, h, w]
                sums["mask_focal"] = sums["mask_focal"] + mask_focal_loss(
                    mask_logits, wanted_masks, self.config.focal_alpha, self.config.focal_gamma
                )
                sums["mask_dice"] = sums["mask_dice"] + dice_loss(mask_logits, wanted_masks)
            sums["class"] = sums["class"] + sigmoid_focal_loss(
                layer.logits,
                class_targets,
                alpha=self.config.focal_alpha,
                gamma=self.config.focal_gamma,
                reduction="sum",
            )
        return sums

    def _contrastive_loss(
        self, frames: Sequence[FrameOutputs], targets: Sequence[ClipTargets], matches: Sequence[ClipMatch]
    ) -> torch.Tensor:
        """SupCon over each clip's instance tokens, averaged over the clips that have positives.

        A clip's tokens are, in every frame, the embeddings of the matched queries whose instance is
        present (labelled by instance, so the positives are the same instance in the other frames) and of
        the unmatched queries the model wrote to its memory (negatives only).
        """
        per_clip = []
        for batch_index, (target, match) in enumerate(zip(targets, matches, strict=True)):
            device = frames[0].embeddings.device
            queries = match.query_indices.to(device)
            instances = match.instance_indices.to(device)
            embeddings, labels = [], []
            for frame_index, frame in enumerate(frames):
                present = target.present[frame_index, instances]
                embeddings.append(frame.embeddings[batch_index, queries[present]])
                labels.append(instances[present])
                memory_queries = frame.memory_queries[batch_index]
                unmatched = memory_queries[~torch.isin(memory_queries, queries)]
                embeddings.append(frame.embeddings[batch_index, unmatched])
                labels.append(torch.full_like(unmatched, -1))
            loss = supervised_contrastive_loss(
                torch.cat(embeddings), torch.cat(labels), self.config.contrastive_temperature
            )
            if loss is not None:
                per_clip.append(loss)
        if not per_clip:
            return frames[0].embeddings.sum() * 0.0
        return torch.stack(per_clip).mean()


def _grid_mask_targets(
    frames: Sequence[FrameOutputs], clip_targets: Sequence[ClipTargets], groups: int
) -> list[list[torch.Tensor]]:
    """Every clip's masks at the prediction grid, ``[frame][clip * groups + group]`` -> ``[N, h, w]``.

    The grid is the same for every decoder layer, so the targets are sampled once per clip and frame
    and shared by the clip's query groups.
    """
    height, width = frames[0].mask_features.shape[-2:]
    factor = frames[0].feature_stride // frames[0].mask_stride
    size = (height * factor, width * factor)
    grids = []
    for frame_index, frame in enumerate(frames):
        per_clip = [
            downsample_target_masks(target.masks[frame_index], size, frame.mask_stride)
            for target in clip_targets
        ]
        grids.append([grid for grid in per_clip for _ in range(groups)])
    return grids


@dataclass(frozen=True)
class _MatchedPairs:
    """The matched (query, instance) pairs of one frame whose instance is present, over all clips.

    ``batch``, ``queries``, ``labels`` are ``[K]`` int64 and ``boxes`` ``[K, 4]``, ordered clip by clip;
    ``clips`` lists the clips with pairs and ``instances_per_clip`` their instance indices.
    """

    batch: torch.Tensor
    queries: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    clips: tuple[int, ...]
    instances_per_clip: tuple[torch.Tensor, ...]


def _present_pairs(
    targets: Sequence[ClipTargets], matches: Sequence[ClipMatch], frame_index: int, device: torch.device
) -> _MatchedPairs | None:
    """The frame's supervised pairs, or None when no matched instance is present in any clip."""
    batch, queries, labels, boxes, clips, instances_per_clip = [], [], [], [], [], []
    for batch_index, (target, match) in enumerate(zip(targets, matches, strict=True)):
        clip_queries = match.query_indices.to(device)
        instances = match.instance_indices.to(device)
        present = target.present[frame_index, instances]
        clip_queries, instances = clip_queries[present], instances[present]
        if len(clip_queries) == 0:
            continue
        batch.append(torch.full_like(clip_queries, batch_index))
        queries.append(clip_queries)
        labels.append(target.labels[instances])
        boxes.append(target.boxes[frame_index, instances])
        clips.append(batch_index)
        instances_per_clip.append(instances)
    if not clips:
        return None
    return _MatchedPairs(
        batch=torch.cat(batch),
        queries=torch.cat(queries),
        labels=torch.cat(labels),
        boxes=torch.cat(boxes),
        clips=tuple(clips),
        instances_per_clip=tuple(instances_per_clip),
    )


def _pair_masks(frame: FrameOutputs, layer: LayerOutputs, pairs: _MatchedPairs) -> torch.Tensor:
    """``[K, h, w]`` mask logits of the pairs' queries as predicted by ``layer``.

    The dynamic convolutions of all clips run at once over ``[num_clips, max_pairs]`` padded slots.
    """
    clips = torch.as_tensor(pairs.clips, device=pairs.batch.device)
    counts = [len(instances) for instances in pairs.instances_per_clip]
    most = max(counts)
    slots = torch.cat([torch.arange(count, device=clips.device) for count in counts])  # [K]
    rows = torch.repeat_interleave(
        torch.arange(len(pairs.clips), device=clips.device),
        torch.as_tensor(counts, device=clips.device),
    )  # [K]
    parameters = layer.mask_parameters.new_zeros(len(pairs.clips), most, layer.mask_parameters.shape[-1])
    centres = layer.mask_centres.new_zeros(len(pairs.clips), most, 2)
    parameters[rows, slots] = layer.mask_parameters[pairs.batch, pairs.queries]
    centres[rows, slots] = layer.mask_centres[pairs.batch, pairs.queries]
    logits = dynamic_mask_logits(
        frame.mask_features[clips],
        parameters,
        centres,
        frame.valid_ratios[clips],
        frame.feature_stride,
        frame.mask_stride,
        frame.coordinate_scale,
    )  # [num_clips, max_pairs, h, w]
    return logits[rows, slots]


def build_criterion(loss: LossConfig, model: ModelConfig) -> InstanceFormerCriterion:
    """The criterion for a model built from ``model`` with the loss settings ``loss``."""
    return InstanceFormerCriterion(loss, model)
