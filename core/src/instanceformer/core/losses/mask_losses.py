"""Mask targets at the prediction stride and the per-instance mask losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss


def downsample_target_masks(masks: torch.Tensor, output_size: tuple[int, int], stride: int) -> torch.Tensor:
    """Sample full-resolution masks at the centres of the prediction grid.

    Prediction pixel ``(i, j)`` at ``stride`` covers input pixels centred near
    ``(stride * i + stride / 2, stride * j + stride / 2)``; the target is the mask value there (zero
    beyond the mask, i.e. in the padding).

    Args:
        masks: ``[num_instances, height, width]`` bool at the unpadded image size.
        output_size: (height, width) of the predicted logits.
        stride: the predictions' stride in input pixels.

    Returns:
        ``[num_instances, output_height, output_width]`` float32 in {0, 1}.
    """
    output_height, output_width = output_size
    padded_height, padded_width = output_height * stride, output_width * stride
    height, width = masks.shape[-2:]
    padded = F.pad(masks.float(), (0, max(padded_width - width, 0), 0, max(padded_height - height, 0)))
    start = stride // 2
    return padded[:, start:padded_height:stride, start:padded_width:stride]


def mask_focal_loss_per_instance(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float
) -> torch.Tensor:
    """Sigmoid focal loss averaged over each instance's pixels.

    Args:
        logits, targets: ``[num_instances, height, width]``.

    Returns:
        ``[num_instances]``.
    """
    loss = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction="none")
    return loss.flatten(1).mean(dim=1)


def dice_loss_per_instance(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``1 - (2 |p t| + 1) / (|p| + |t| + 1)`` per instance with ``p = sigmoid(logits)``.

    Args:
        logits, targets: ``[num_instances, height, width]``.

    Returns:
        ``[num_instances]``.
    """
    probabilities = logits.sigmoid().flatten(1)
    targets = targets.flatten(1)
    numerator = 2 * (probabilities * targets).sum(dim=1)
    denominator = probabilities.sum(dim=1) + targets.sum(dim=1)
    return 1 - (numerator + 1) / (denominator + 1)
