"""Map the published InstanceFormer checkpoint layout onto this model's state dict.

The published model nests a Deformable-DETR module (``detr.``) with the backbone (``detr.backbone.0.body``),
input projections, transformer, per-layer class/box heads and query embedding, next to a shared mask
``controller`` and the ``mask_head`` convolutions. Where the architectures agree the tensors are copied;
the report lists what was mapped, what has no counterpart here (and why), shape mismatches, and the
parameters of this model that the checkpoint does not provide (they keep their initialisation).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from instanceformer.core.errors import FormatError, UserError

_ENCODER = r"detr\.transformer\.encoder\.layers\.(\d+)\."
_DECODER = r"detr\.transformer\.decoder\.layers\.(\d+)\."
# (published pattern, our key template) — the first matching rule wins
RENAME_RULES: tuple[tuple[str, str], ...] = (
    (r"detr\.backbone\.0\.body\.(.+)", r"backbone.body.\1"),
    (r"detr\.input_proj\.(\d+)\.(\d)\.(weight|bias)", r"input_projections.levels.\1.\2.\3"),
    (r"detr\.transformer\.level_embed", r"input_projections.level_embedding"),
    (r"detr\.transformer\.reference_points\.(weight|bias)", r"reference_points.\1"),
    (r"detr\.transformer\.mem_token_proj\.(weight|bias)", r"memory.projection.\1"),
    (_ENCODER + r"self_attn\.(.+)", r"encoder.layers.\1.attention.\2"),
    (_ENCODER + r"norm1\.(.+)", r"encoder.layers.\1.attention_norm.\2"),
    (_ENCODER + r"linear(1|2)\.(.+)", r"encoder.layers.\1.feedforward.linear\2.\3"),
    (_ENCODER + r"norm2\.(.+)", r"encoder.layers.\1.feedforward_norm.\2"),
    (_DECODER + r"self_attn\.(.+)", r"decoder.layers.\1.self_attention.\2"),
    (_DECODER + r"norm2\.(.+)", r"decoder.layers.\1.self_attention_norm.\2"),
    (_DECODER + r"cross_attn\.(.+)", r"decoder.layers.\1.cross_attention.\2"),
    (_DECODER + r"norm1_box\.(.+)", r"decoder.layers.\1.cross_attention_norm.\2"),
    (_DECODER + r"cross_attn_mem\.(.+)", r"decoder.layers.\1.memory_attention.\2"),
    (_DECODER + r"norm2_mem\.(.+)", r"decoder.layers.\1.memory_attention_norm.\2"),
    (_DECODER + r"linear(1|2)_box\.(.+)", r"decoder.layers.\1.feedforward.linear\2.\3"),
    (_DECODER + r"norm3_box\.(.+)", r"decoder.layers.\1.feedforward_norm.\2"),
    (r"detr\.bbox_embed\.(\d+)\.layers\.(\d+)\.(weight|bias)", r"decoder.box_heads.\1.layers.\2.\3"),
    (r"detr\.class_embed\.(\d+)\.(weight|bias)", r"class_heads.\1.\2"),
    (r"detr\.query_embed\.weight", r"query_embedding.weight"),
    (r"controller\.layers\.(\d+)\.(weight|bias)", r"controller.layers.\1.\2"),
    (r"mask_head\.lay3\.(weight|bias)", r"mask_branch.fusion_convs.0.\1"),
    (r"mask_head\.lay4\.(weight|bias)", r"mask_branch.fusion_convs.1.\1"),
    (r"mask_head\.dcn\.(weight|bias)", r"mask_branch.fusion_convs.2.\1"),
    (r"mask_head\.lay1\.(weight|bias)", r"mask_branch.reduce_convs.0.\1"),
    (r"mask_head\.lay2\.(weight|bias)", r"mask_branch.reduce_convs.1.\1"),
)
# published keys skipped on purpose, with the reason given in the report
SKIP_RULES: tuple[tuple[str, str], ...] = (
    (r"detr\.transformer\.decoder\.bbox_embed\..+", "alias of detr.bbox_embed (the same tensors)"),
    (
        r"detr\.temporal_class_embed\..+",
        "published class propagation (softmax weights over the frames that sum to one multiply the current "
        "logits: an identity); this model's class prior is a different module",
    ),
)


@dataclass(frozen=True)
class ConversionReport:
    """The outcome of a conversion.

    Attributes:
        mapped: (published key, our key) pairs that were copied.
        skipped: (published key, reason) pairs deliberately not copied.
        unmapped: published keys with no counterpart in this model.
        mismatched: (published key, our key, published shape, our shape) pairs not copied.
        missing: our parameter/buffer keys the checkpoint did not provide.
    """

    mapped: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]
    unmapped: tuple[str, ...]
    mismatched: tuple[tuple[str, str, tuple[int, ...], tuple[int, ...]], ...]
    missing: tuple[str, ...]

    def summary(self) -> str:
        """A few human-readable lines: counts, why keys were skipped and the first keys of every problem
        list."""
        lines = [
            f"mapped {len(self.mapped)} tensors, skipped {len(self.skipped)}, unmapped {len(self.unmapped)}, "
            f"shape mismatches {len(self.mismatched)}, not provided {len(self.missing)}"
        ]
        reasons: dict[str, int] = {}
        for _, reason in self.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        lines += [f"  skipped {count}: {reason}" for reason, count in reasons.items()]
        for key, ours, theirs_shape, our_shape in self.mismatched[:10]:
            lines.append(f"  mismatch: {key} {theirs_shape} -> {ours} {our_shape}")
        lines += [f"  unmapped: {key}" for key in self.unmapped[:10]]
        lines += [f"  not provided: {key}" for key in self.missing[:10]]
        return "\n".join(lines)


def published_to_ours(key: str) -> str | None:
    """Our key for a published key, or None when no rename rule applies."""
    for pattern, template in RENAME_RULES:
        match = re.fullmatch(pattern, key)
        if match:
            return match.expand(template)
    return None


def _skip_reason(key: str) -> str | None:
    for pattern, reason in SKIP_RULES:
        if re.fullmatch(pattern, key):
            return reason
    return None


def _select_classes(
    our_key: str, tensor: torch.Tensor, class_indices: Sequence[int] | None, d_model: int
) -> torch.Tensor:
    """Pick the published class rows (class heads) or columns (memory projection) for our classes."""
    if class_indices is None:
        return tensor
    index = torch.as_tensor(list(class_indices), dtype=torch.long)
    if our_key.startswith("class_heads."):
        return tensor[index]
    if our_key == "memory.projection.weight":
        columns = torch.cat((torch.arange(d_model), d_model + index, torch.arange(4) + tensor.shape[1] - 4))
        return tensor[:, columns]
    return tensor


def convert_published_state_dict(
    published: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    class_indices: Sequence[int] | None = None,
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Copy the published tensors into a copy of ``target`` (this model's state dict).

    Args:
        published: the published model's state dict (a ``module.`` prefix is ignored).
        target: ``model.state_dict()`` of the model to fill.
        class_indices: for our class ``i``, the published logit index to take (the published heads use
            raw dataset category ids as indices, e.g. ``[1, 2, ..., 40]`` for YouTube-VIS); None copies the
            class heads as they are.

    Returns:
        The filled state dict (every key of ``target``) and the :class:`ConversionReport`.
    """
    result = {key: value.clone() for key, value in target.items()}
    d_model = target["query_embedding.weight"].shape[1] // 2
    mapped, skipped, unmapped, mismatched = [], [], [], []
    filled = set()
    for raw_key, tensor in published.items():
        key = raw_key.removeprefix("module.")
        reason = _skip_reason(key)
        if reason is not None:
            skipped.append((key, reason))
            continue
        ours = published_to_ours(key)
        if ours is None or ours not in target:
            unmapped.append(key)
            continue
        converted = _select_classes(ours, tensor, class_indices, d_model)
        if tuple(converted.shape) != tuple(target[ours].shape):
            mismatched.append((key, ours, tuple(tensor.shape), tuple(target[ours].shape)))
            continue
        result[ours] = converted.to(dtype=target[ours].dtype).clone()
        mapped.append((key, ours))
        filled.add(ours)
    missing = [key for key in target if key not in filled and not key.endswith("num_batches_tracked")]
    report = ConversionReport(
        tuple(mapped), tuple(skipped), tuple(unmapped), tuple(mismatched), tuple(missing)
    )
    return result, report


def read_published_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The model state dict of a published checkpoint file (``{"model": ..., "args": Namespace, ...}``).

    Loaded with ``weights_only=True``; the ``argparse.Namespace`` of the training arguments is the one
    non-tensor class allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as problem:
        raise FormatError(path, None, None, f"not a loadable checkpoint ({type(problem).__name__})") from None
    state = loaded.get("model", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise FormatError(path, None, "model", "expected a state dict of tensors")
    return state


def load_published_weights(
    model: nn.Module, path: str | os.PathLike[str], class_indices: Sequence[int] | None = None
) -> ConversionReport:
    """Read a published checkpoint, convert it and load it into ``model``; returns the report."""
    state, report = convert_published_state_dict(
        read_published_checkpoint(path), model.state_dict(), class_indices
    )
    model.load_state_dict(state)
    return report
