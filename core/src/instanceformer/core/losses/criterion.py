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

import torch
import torch.distributed as dist
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou_loss, sigmoid_focal_loss

from instanceformer.core.config.schema import LossConfig, ModelConfig
from instanceformer.core.losses.contrastive import supervised_contrastive_loss
from instanceformer.core.losses.mask_losses import dice_loss, downsample_target_masks, mask_focal_loss
from instanceformer.core.losses.matcher import ClipMatch, ClipMatcher, matchable_instances
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
            targets: one :class:`ClipTargets` per clip, with ``len(frames)`` frames each.
        """
        num_frames = len(frames)
        for target in targets:
            if target.num_frames != num_frames:
                raise ValueError(f"targets have {target.num_frames} frames, outputs {num_frames}")
        device = frames[0].logits.device
        targets = [target.to(device) for target in targets]
        normaliser = normalisation_count(targets, device) * num_frames
        num_layers = len(frames[0].layers)
        layer_indices = range(num_layers) if self.config.auxiliary else [num_layers - 1]
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
            for name, value in self._layer_losses(frames, layers, targets, matches).items():
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
    ) -> dict[str, torch.Tensor]:
        """Unnormalised sums of the five terms for one decoder layer over all frames and clips."""
        zero = layers[0].logits.sum() * 0.0
        sums = dict.fromkeys(TERMS, zero)
        for frame_index, (frame, layer) in enumerate(zip(frames, layers, strict=True)):
            class_targets = torch.zeros_like(layer.logits)  # [B, Q, C]
            for batch_index, (target, match) in enumerate(zip(targets, matches, strict=True)):
                queries = match.query_indices.to(layer.logits.device)
                instances = match.instance_indices.to(layer.logits.device)
                present = target.present[frame_index, instances]
                queries, instances = queries[present], instances[present]
                if len(queries) == 0:
                    continue
                class_targets[batch_index, queries, target.labels[instances]] = 1.0
                predicted = layer.boxes[batch_index, queries]  # [K, 4]
                wanted = target.boxes[frame_index, instances].to(predicted.dtype)  # [K, 4]
                sums["box_l1"] = sums["box_l1"] + (predicted - wanted).abs().sum()
                sums["box_giou"] = sums["box_giou"] + generalized_box_iou_loss(
                    box_convert(predicted, "cxcywh", "xyxy"),
                    box_convert(wanted, "cxcywh", "xyxy"),
                    reduction="sum",
                )
                mask_logits = frame.layer_masks(layer, batch_index, queries)  # [K, h, w]
                mask_targets = downsample_target_masks(
                    target.masks[frame_index, instances], tuple(mask_logits.shape[-2:]), frame.mask_stride
                ).to(mask_logits.dtype)
                sums["mask_focal"] = sums["mask_focal"] + mask_focal_loss(
                    mask_logits, mask_targets, self.config.focal_alpha, self.config.focal_gamma
                )
                sums["mask_dice"] = sums["mask_dice"] + dice_loss(mask_logits, mask_targets)
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


def build_criterion(loss: LossConfig, model: ModelConfig) -> InstanceFormerCriterion:
    """The criterion for a model built from ``model`` with the loss settings ``loss``."""
    return InstanceFormerCriterion(loss, model)
