"""Seeded weights in the key layout of the published InstanceFormer R50 checkpoints.

The layout (names and shapes) is that of the published model with box refinement, masks and class
propagation, optionally with memory tokens; the class heads have the published raw-id layout
(``num_logits`` outputs: 42 for YouTube-VIS, 27 for OVIS). The values are drawn from one
``torch.Generator`` in sorted key order and scaled per kind of tensor so that a forward pass is well
conditioned (varied scores, boxes inside the image, masks that are neither empty nor full); they stand in
for a trained checkpoint in the golden-output tests. ``detr.transformer.decoder.bbox_embed.*`` repeats
``detr.bbox_embed.*``, as in the published files.
"""

from __future__ import annotations

import hashlib
import math

import torch
import torchvision

D_MODEL, NUM_HEADS, NUM_LEVELS, NUM_POINTS, DIM_FEEDFORWARD = 256, 8, 4, 4, 1024
NUM_QUERIES, NUM_LAYERS, NUM_DYNAMIC_PARAMETERS = 300, 6, 169
BOX_HEAD_ALIAS = ("detr.transformer.decoder.bbox_embed.", "detr.bbox_embed.")


def _linear(keys: dict[str, tuple[int, ...]], prefix: str, out_features: int, in_features: int) -> None:
    keys[f"{prefix}.weight"] = (out_features, in_features)
    keys[f"{prefix}.bias"] = (out_features,)


def _norm(keys: dict[str, tuple[int, ...]], prefix: str) -> None:
    keys[f"{prefix}.weight"] = (D_MODEL,)
    keys[f"{prefix}.bias"] = (D_MODEL,)


def _multihead(keys: dict[str, tuple[int, ...]], prefix: str) -> None:
    keys[f"{prefix}.in_proj_weight"] = (3 * D_MODEL, D_MODEL)
    keys[f"{prefix}.in_proj_bias"] = (3 * D_MODEL,)
    _linear(keys, f"{prefix}.out_proj", D_MODEL, D_MODEL)


def _deformable(keys: dict[str, tuple[int, ...]], prefix: str) -> None:
    _linear(keys, f"{prefix}.sampling_offsets", NUM_HEADS * NUM_LEVELS * NUM_POINTS * 2, D_MODEL)
    _linear(keys, f"{prefix}.attention_weights", NUM_HEADS * NUM_LEVELS * NUM_POINTS, D_MODEL)
    _linear(keys, f"{prefix}.value_proj", D_MODEL, D_MODEL)
    _linear(keys, f"{prefix}.output_proj", D_MODEL, D_MODEL)


def published_layout(num_logits: int, memory: bool) -> dict[str, tuple[int, ...]]:
    """Key names and shapes of a published R50 checkpoint's model state dict.

    Args:
        num_logits: class-head outputs (42 for YouTube-VIS, 27 for OVIS).
        memory: the model has memory tokens (``mem_token_proj`` and the decoder's memory attention).
    """
    keys: dict[str, tuple[int, ...]] = {}
    backbone = torchvision.models.resnet50(weights=None, norm_layer=torchvision.ops.FrozenBatchNorm2d)
    for name, tensor in backbone.state_dict().items():
        if not name.startswith("fc."):
            keys[f"detr.backbone.0.body.{name}"] = tuple(tensor.shape)
    for level, channels in enumerate((512, 1024, 2048)):
        keys[f"detr.input_proj.{level}.0.weight"] = (D_MODEL, channels, 1, 1)
        keys[f"detr.input_proj.{level}.0.bias"] = (D_MODEL,)
        _norm(keys, f"detr.input_proj.{level}.1")
    keys["detr.input_proj.3.0.weight"] = (D_MODEL, 2048, 3, 3)
    keys["detr.input_proj.3.0.bias"] = (D_MODEL,)
    _norm(keys, "detr.input_proj.3.1")
    keys["detr.transformer.level_embed"] = (NUM_LEVELS, D_MODEL)
    _linear(keys, "detr.transformer.reference_points", 2, D_MODEL)
    if memory:
        _linear(keys, "detr.transformer.mem_token_proj", D_MODEL, D_MODEL + 4 + num_logits)
    for layer in range(NUM_LAYERS):
        encoder = f"detr.transformer.encoder.layers.{layer}"
        _deformable(keys, f"{encoder}.self_attn")
        _norm(keys, f"{encoder}.norm1")
        _linear(keys, f"{encoder}.linear1", DIM_FEEDFORWARD, D_MODEL)
        _linear(keys, f"{encoder}.linear2", D_MODEL, DIM_FEEDFORWARD)
        _norm(keys, f"{encoder}.norm2")
        decoder = f"detr.transformer.decoder.layers.{layer}"
        _deformable(keys, f"{decoder}.cross_attn")
        _norm(keys, f"{decoder}.norm1_box")
        _multihead(keys, f"{decoder}.self_attn")
        _norm(keys, f"{decoder}.norm2")
        if memory:
            _multihead(keys, f"{decoder}.cross_attn_mem")
            _norm(keys, f"{decoder}.norm2_mem")
        _linear(keys, f"{decoder}.linear1_box", DIM_FEEDFORWARD, D_MODEL)
        _linear(keys, f"{decoder}.linear2_box", D_MODEL, DIM_FEEDFORWARD)
        _norm(keys, f"{decoder}.norm3_box")
        for prefix in (f"detr.bbox_embed.{layer}", f"detr.transformer.decoder.bbox_embed.{layer}"):
            _linear(keys, f"{prefix}.layers.0", D_MODEL, D_MODEL)
            _linear(keys, f"{prefix}.layers.1", D_MODEL, D_MODEL)
            _linear(keys, f"{prefix}.layers.2", 4, D_MODEL)
        _linear(keys, f"detr.class_embed.{layer}", num_logits, D_MODEL)
        _linear(keys, f"detr.temporal_class_embed.{layer}", num_logits, num_logits)
    keys["detr.query_embed.weight"] = (NUM_QUERIES, 2 * D_MODEL)
    _linear(keys, "controller.layers.0", D_MODEL, D_MODEL)
    _linear(keys, "controller.layers.1", D_MODEL, D_MODEL)
    _linear(keys, "controller.layers.2", NUM_DYNAMIC_PARAMETERS, D_MODEL)
    for name, (out_channels, in_channels) in {
        "lay1": (64, 256),
        "lay2": (8, 64),
        "lay3": (256, 256),
        "lay4": (256, 256),
        "dcn": (256, 256),
    }.items():
        keys[f"mask_head.{name}.weight"] = (out_channels, in_channels, 3, 3)
        keys[f"mask_head.{name}.bias"] = (out_channels,)
    return keys


def _scaled(key: str, noise: torch.Tensor) -> torch.Tensor:
    """Standard-normal ``noise`` scaled to a value range that suits the tensor named ``key``."""
    if key.endswith("running_var"):
        return 1.0 + 0.1 * noise.abs()
    if key.endswith("running_mean"):
        return 0.1 * noise
    if key in ("detr.transformer.level_embed", "detr.query_embed.weight"):
        return noise
    if noise.dim() > 1:
        fan_in = math.prod(noise.shape[1:])
        if key.startswith("detr.backbone.") or key.startswith("mask_head."):
            return noise * math.sqrt(2.0 / fan_in)
        if ".layers.2." in key and "bbox_embed" in key:
            return noise * 0.1 / math.sqrt(fan_in)
        return noise / math.sqrt(fan_in)
    if key.startswith("detr.backbone.") and key.endswith(".weight"):
        # BatchNorm scales: the last norm of each residual branch small, so activations stay bounded
        return (0.2 if ".bn3." in key else 1.0) + 0.02 * noise
    if key.endswith("sampling_offsets.bias"):
        return 2.0 * noise
    if key.startswith("detr.class_embed.") and key.endswith(".bias"):
        return -2.0 + 0.1 * noise
    if key.endswith(".weight") and not key.startswith("detr.backbone."):
        return 1.0 + 0.1 * noise  # LayerNorm / GroupNorm scales
    return 0.1 * noise


def seeded_published_state_dict(num_logits: int, memory: bool, seed: int) -> dict[str, torch.Tensor]:
    """A state dict in the published layout (:func:`published_layout`) drawn from ``seed``."""
    layout = published_layout(num_logits, memory)
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key in sorted(layout):
        if key.startswith(BOX_HEAD_ALIAS[0]):
            continue
        state[key] = _scaled(key, torch.randn(layout[key], generator=generator))
    for key in layout:
        if key.startswith(BOX_HEAD_ALIAS[0]):
            state[key] = state[key.replace(*BOX_HEAD_ALIAS)].clone()
    return {key: state[key] for key in layout}


def state_dict_digest(state: dict[str, torch.Tensor]) -> str:
    """A SHA-256 of the keys and float32 bytes of ``state`` (detects a change in the seeded values)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().to(torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()
