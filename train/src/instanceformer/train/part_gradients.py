"""The gradient norms that reach the temporal parts, logged with every training record.

A temporal part that gets no gradient learns nothing (the published class propagation is an example),
so ``metrics.jsonl`` records, before clipping, the L2 norm of the gradients of each part the model has:
``class_prior`` (the class-distribution prior), ``memory_projection`` (the memory token projection),
``memory_attention`` (the decoder layers' memory cross-attention and its norm) and ``embedding_head``
(the head the contrastive loss acts on). ``ifm-analysis curves`` plots them as ``temporal_grad_norm/*``.
"""

from __future__ import annotations

import torch
from torch import nn

TEMPORAL_PARTS: dict[str, tuple[str, ...]] = {
    "class_prior": ("class_prior.",),
    "memory_projection": ("memory.",),
    "memory_attention": (".memory_attention.", ".memory_attention_norm."),
    "embedding_head": ("embedding_head.",),
}
"""Each part and the parameter-name prefixes (leading) or infixes (leading dot) that belong to it."""


def _belongs(name: str, patterns: tuple[str, ...]) -> bool:
    return any(
        name.startswith(pattern) if not pattern.startswith(".") else pattern in name for pattern in patterns
    )


def temporal_part_parameters(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The trainable parameters of each temporal part ``model`` has (parts it lacks are left out)."""
    parts: dict[str, list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        for part, patterns in TEMPORAL_PARTS.items():
            if _belongs(name, patterns):
                parts.setdefault(part, []).append(parameter)
    return parts


def part_gradient_norms(parts: dict[str, list[nn.Parameter]]) -> dict[str, torch.Tensor]:
    """The L2 norm of each part's current gradients, as 0-dim tensors (no device synchronisation);
    parameters without a gradient count as zero."""
    norms = {}
    for part, parameters in parts.items():
        grads = [
            parameter.grad.detach().float().norm() for parameter in parameters if parameter.grad is not None
        ]
        norms[part] = torch.stack(grads).norm() if grads else torch.zeros(())
    return norms
