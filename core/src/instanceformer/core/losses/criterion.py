"""The training loss of InstanceFormer over a batch of clips.

For every decoder layer (auxiliary losses) the clip is matched once (:class:`ClipMatcher`) and then
supervised frame by frame: a focal class loss on every query (a matched query is "no object" in the
frames where its instance is absent), L1 + GIoU box losses and focal + dice mask losses on the frames
where the instance is present. The final layer adds the temporal contrastive loss on the instance
embeddings. Every term is divided by the number of ground-truth instances of the batch (all-reduced
over processes) and by the number of frames.

All layers are matched in one call and supervised together, frame by frame: the layers' predictions
are stacked into one batch of ``num_layers x batch_size`` rows, the matched pairs of every layer and
clip are gathered at once, and each term is summed back per layer. The bookkeeping of the pairs runs on
the CPU, so the loss adds no device synchronisation beyond the matcher's one copy of its costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou_loss, sigmoid_focal_loss

from instanceformer.core.config.schema import LossConfig, ModelConfig
from instanceformer.core.losses.contrastive import batched_supervised_contrastive_loss
from instanceformer.core.losses.mask_losses import (
    dice_loss_per_instance,
    downsample_target_masks,
    mask_focal_loss_per_instance,
)
from instanceformer.core.losses.matcher import ClipMatch, ClipMatcher, matchable_instances
from instanceformer.core.model.batch import ClipTargets
from instanceformer.core.model.outputs import FrameOutputs

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
            frames: the model's outputs, one per frame of the clips (from ``model(images, padding_mask)``),
                each with one row per clip.
            targets: one :class:`ClipTargets` per clip, with ``len(frames)`` frames each.
        """
        num_frames = len(frames)
        for target in targets:
            if target.num_frames != num_frames:
                raise ValueError(f"targets have {target.num_frames} frames, outputs {num_frames}")
        num_rows = frames[0].logits.shape[0]
        if num_rows != len(targets):
            raise ValueError(f"outputs hold {num_rows} query sets, targets {len(targets)} clips")
        device = frames[0].logits.device
        targets = [target.to(device) for target in targets]
        normaliser = normalisation_count(targets, device) * num_frames
        num_layers = len(frames[0].layers)
        layer_indices = list(range(num_layers)) if self.config.auxiliary else [num_layers - 1]
        stacked = [_StackedLayers.of(frame, layer_indices) for frame in frames]
        shape = (len(layer_indices), len(targets))
        matches = self.matcher.match_layers(
            torch.stack([frame.logits for frame in stacked]).unflatten(1, shape).movedim(1, 0),
            torch.stack([frame.boxes for frame in stacked]).unflatten(1, shape).movedim(1, 0),
            targets,
        )  # [layer][clip]; the inputs are [L, T, clips, Q, ...]
        flat = _FlatTargets.of(frames, targets)
        sums = self._layer_sums(frames, stacked, flat, matches)  # term -> [num_layers]
        losses: dict[str, torch.Tensor] = {}
        for position, layer_index in enumerate(layer_indices):
            suffix = "" if layer_index == num_layers - 1 else f"_{layer_index}"
            for name in TERMS:
                losses[name + suffix] = self.weights[name] * sums[name][position] / normaliser
        if self.contrastive:
            losses["contrastive"] = self.config.contrastive_weight * self._contrastive_loss(
                frames, flat, matches[-1]
            )
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses

    def _layer_sums(
        self,
        frames: Sequence[FrameOutputs],
        stacked: Sequence[_StackedLayers],
        flat: _FlatTargets,
        matches: Sequence[Sequence[ClipMatch]],
    ) -> dict[str, torch.Tensor]:
        """Unnormalised sums of the five terms over all frames and clips, ``[num_layers]`` float32 each.

        The pairs of every layer and clip of a frame are supervised together: one class loss over the
        stacked ``[num_layers * num_rows, Q, C]`` logits, one box-loss call and one batched
        dynamic-convolution call.
        """
        num_layers = len(matches)
        num_rows = len(matches[0])
        device = frames[0].logits.device
        pairs = _MatchedPairs.of(matches, flat.offsets)
        sums = {name: torch.zeros(num_layers, device=device) for name in TERMS}
        for frame_index, (frame, layers) in enumerate(zip(frames, stacked, strict=True)):
            present = pairs.select(flat.present_cpu[frame_index])
            class_targets = torch.zeros_like(layers.logits)  # [L*B, Q, C]
            if present is not None:
                present = present.to(device)
                rows, queries, instances = present.rows, present.queries, present.instances
                layer_of_pair = rows // num_rows  # [K]
                class_targets[rows, queries, flat.labels[instances]] = 1.0
                predicted = layers.boxes[rows, queries]  # [K, 4]
                wanted = flat.boxes[frame_index, instances].to(predicted.dtype)  # [K, 4]
                per_pair = {
                    "box_l1": (predicted - wanted).abs().sum(dim=-1),
                    "box_giou": generalized_box_iou_loss(
                        box_convert(predicted, "cxcywh", "xyxy"), box_convert(wanted, "cxcywh", "xyxy")
                    ),
                }
                mask_logits = _pair_masks(frame, layers, present, num_rows)
                wanted_masks = flat.masks[frame_index][instances].to(mask_logits.dtype)  # [K, h, w]
                per_pair["mask_focal"] = mask_focal_loss_per_instance(
                    mask_logits, wanted_masks, self.config.focal_alpha, self.config.focal_gamma
                )
                per_pair["mask_dice"] = dice_loss_per_instance(mask_logits, wanted_masks)
                for name, values in per_pair.items():
                    sums[name] = sums[name].index_add(0, layer_of_pair, values.float())
            class_loss = sigmoid_focal_loss(
                layers.logits,
                class_targets,
                alpha=self.config.focal_alpha,
                gamma=self.config.focal_gamma,
                reduction="none",
            )  # [L*B, Q, C]
            sums["class"] = sums["class"] + class_loss.float().sum(dim=(1, 2)).view(num_layers, -1).sum(dim=1)
        return sums

    def _contrastive_loss(
        self,
        frames: Sequence[FrameOutputs],
        flat: _FlatTargets,
        matches: Sequence[ClipMatch],
    ) -> torch.Tensor:
        """SupCon over each row's instance tokens, averaged over the rows that have positives.

        A row's tokens are, in every frame, the embeddings of the matched queries whose instance is
        present (labelled by instance, so the positives are the same instance in the other frames) and of
        the unmatched queries the model wrote to its memory (negatives only). All rows run at once,
        padded to the most matched queries of a row.
        """
        device = frames[0].embeddings.device
        num_rows, num_queries, _ = frames[0].embeddings.shape
        most = max(len(match.query_indices) for match in matches)
        queries = torch.zeros(num_rows, most, dtype=torch.long)
        instances = torch.zeros(num_rows, most, dtype=torch.long)
        real = torch.zeros(num_rows, most, dtype=torch.bool)
        for row, match in enumerate(matches):
            count = len(match.query_indices)
            queries[row, :count] = match.query_indices
            instances[row, :count] = match.instance_indices + flat.offsets[row]
            real[row, :count] = True
        present = flat.present_cpu[:, instances] & real  # [T, rows, most]
        queries, instances, present, real = (
            tensor.to(device) for tensor in (queries, instances, present, real)
        )
        # padding slots mark a spare column, so they never clear a real match of query 0
        matched = torch.zeros(num_rows, num_queries + 1, dtype=torch.bool, device=device)
        matched = matched.scatter(1, queries.masked_fill(~real, num_queries), real)[:, :num_queries]
        tokens, labels, valid = [], [], []
        for frame_index, frame in enumerate(frames):
            width = frame.embeddings.shape[-1]
            memory = frame.memory_queries  # [rows, k]
            tokens.append(frame.embeddings.gather(1, queries[..., None].expand(-1, -1, width)))
            labels.append(instances)
            valid.append(present[frame_index])
            tokens.append(frame.embeddings.gather(1, memory[..., None].expand(-1, -1, width)))
            labels.append(torch.full_like(memory, -1))
            valid.append(~matched.gather(1, memory))
        per_row, has_anchor = batched_supervised_contrastive_loss(
            torch.cat(tokens, dim=1),
            torch.cat(labels, dim=1),
            torch.cat(valid, dim=1),
            self.config.contrastive_temperature,
        )
        return (per_row * has_anchor).sum() / has_anchor.sum().clamp(min=1)


@dataclass(frozen=True)
class _StackedLayers:
    """One frame's predictions of the supervised layers stacked along the batch: ``[L * rows, Q, ...]``."""

    logits: torch.Tensor
    boxes: torch.Tensor
    mask_parameters: torch.Tensor
    mask_centres: torch.Tensor

    @classmethod
    def of(cls, frame: FrameOutputs, layer_indices: Sequence[int]) -> _StackedLayers:
        layers = [frame.layers[index] for index in layer_indices]
        return cls(
            logits=torch.cat([layer.logits for layer in layers]),
            boxes=torch.cat([layer.boxes for layer in layers]),
            mask_parameters=torch.cat([layer.mask_parameters for layer in layers]),
            mask_centres=torch.cat([layer.mask_centres for layer in layers]),
        )


@dataclass(frozen=True)
class _FlatTargets:
    """The instances of all clips concatenated clip after clip (``N`` in all).

    ``labels`` ``[N]``, ``boxes`` ``[T, N, 4]``, ``masks[frame]`` ``[N, h, w]`` at the prediction grid,
    on the device; ``present_cpu`` ``[T, N]`` bool and ``offsets`` (first instance of each clip) on the
    CPU for the bookkeeping of the pairs.
    """

    labels: torch.Tensor
    boxes: torch.Tensor
    masks: tuple[torch.Tensor, ...]
    present_cpu: torch.Tensor
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, frames: Sequence[FrameOutputs], targets: Sequence[ClipTargets]) -> _FlatTargets:
        """Concatenate the clips' targets; the masks are sampled once per clip and frame at the grid that
        every decoder layer shares (a clip given several times, e.g. once per query group, shares them)."""
        height, width = frames[0].mask_features.shape[-2:]
        factor = frames[0].feature_stride // frames[0].mask_stride
        size = (height * factor, width * factor)
        sampled: dict[tuple[int, int], torch.Tensor] = {}  # (id of a clip's masks, frame) -> [n, h, w]
        for index, frame in enumerate(frames):
            for target in targets:
                key = (id(target.masks), index)
                if key not in sampled:
                    sampled[key] = downsample_target_masks(target.masks[index], size, frame.mask_stride)
        masks = tuple(
            torch.cat([sampled[id(target.masks), index] for target in targets])
            for index in range(len(frames))
        )
        offsets = [0]
        for target in targets[:-1]:
            offsets.append(offsets[-1] + target.num_instances)
        return cls(
            labels=torch.cat([target.labels for target in targets]),
            boxes=torch.cat([target.boxes for target in targets], dim=1),
            masks=masks,
            present_cpu=torch.cat([target.present for target in targets], dim=1).cpu(),
            offsets=tuple(offsets),
        )


@dataclass(frozen=True)
class _PresentPairs:
    """One frame's supervised pairs (instance present), grouped by stacked row.

    ``rows`` (index into the stacked ``[L * rows]`` predictions), ``queries``, ``instances`` (into the
    flat targets), ``slot_row_index`` (index of the pair's row in ``slot_rows``) and ``slots`` (position
    within that row's pairs) are ``[K]`` int64; ``slot_rows`` ``[num_slot_rows]`` lists the stacked rows
    that have pairs, increasing; ``max_count`` is the most pairs of one row.
    """

    rows: torch.Tensor
    queries: torch.Tensor
    instances: torch.Tensor
    slot_row_index: torch.Tensor
    slots: torch.Tensor
    slot_rows: torch.Tensor
    max_count: int

    def to(self, device: torch.device) -> _PresentPairs:
        """The same pairs on ``device`` (the ``[K]`` indices in one copy)."""
        packed = torch.stack([self.rows, self.queries, self.instances, self.slot_row_index, self.slots]).to(
            device
        )
        rows, queries, instances, slot_row_index, slots = packed.unbind()
        return _PresentPairs(
            rows, queries, instances, slot_row_index, slots, self.slot_rows.to(device), self.max_count
        )


@dataclass(frozen=True)
class _MatchedPairs:
    """The matched pairs of every layer and row, on the CPU: ``rows``, ``queries``, ``instances`` ``[M]``."""

    rows: torch.Tensor
    queries: torch.Tensor
    instances: torch.Tensor

    @classmethod
    def of(cls, matches: Sequence[Sequence[ClipMatch]], offsets: Sequence[int]) -> _MatchedPairs:
        """Gather ``matches[layer][row]``; row ``r`` of layer ``l`` is stacked row ``l * rows + r`` and its
        instances are those of clip ``r``."""
        num_rows = len(matches[0])
        rows, queries, instances = [], [], []
        for layer_position, layer_matches in enumerate(matches):
            for row, match in enumerate(layer_matches):
                rows.append(torch.full_like(match.query_indices, layer_position * num_rows + row))
                queries.append(match.query_indices)
                instances.append(match.instance_indices + offsets[row])
        return cls(torch.cat(rows), torch.cat(queries), torch.cat(instances))

    def select(self, present: torch.Tensor) -> _PresentPairs | None:
        """The pairs whose instance is present (``present``: ``[N]`` bool of the frame), or None."""
        keep = present[self.instances]
        if not bool(keep.any()):
            return None
        rows, queries, instances = self.rows[keep], self.queries[keep], self.instances[keep]
        slot_rows, counts = torch.unique_consecutive(rows, return_counts=True)
        slot_row_index = torch.repeat_interleave(torch.arange(len(slot_rows)), counts)
        slots = torch.arange(len(rows)) - (counts.cumsum(0) - counts)[slot_row_index]
        return _PresentPairs(rows, queries, instances, slot_row_index, slots, slot_rows, int(counts.max()))


def _pair_masks(
    frame: FrameOutputs, layers: _StackedLayers, pairs: _PresentPairs, num_rows: int
) -> torch.Tensor:
    """``[K, h, w]`` mask logits of the pairs' queries as predicted by their layers.

    The dynamic convolutions of all stacked rows with pairs run at once over ``[num_slot_rows, max_count]``
    padded slots; stacked row ``r`` reads the mask features of batch row ``r % num_rows``.
    """
    num_slot_rows = len(pairs.slot_rows)
    parameters = layers.mask_parameters.new_zeros(
        num_slot_rows, pairs.max_count, layers.mask_parameters.shape[-1]
    )
    centres = layers.mask_centres.new_zeros(num_slot_rows, pairs.max_count, 2)
    slot = (pairs.slot_row_index, pairs.slots)
    parameters[slot] = layers.mask_parameters[pairs.rows, pairs.queries]
    centres[slot] = layers.mask_centres[pairs.rows, pairs.queries]
    batch_rows = pairs.slot_rows % num_rows
    # index_select, not advanced indexing: batch_rows repeats rows, and the backward of x[rows] on CPU adds
    # the repeated rows' gradients with unordered atomic adds across threads (run-to-run different sums);
    # index_select's backward adds them in index order.
    mask_features = frame.mask_features.index_select(0, batch_rows)
    logits = frame.mask_head(
        mask_features, parameters, centres, frame.image_sizes[batch_rows]
    )  # [num_slot_rows, max_count, h, w]
    return logits[slot]
