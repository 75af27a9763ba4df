"""The temporal contrastive loss of InstanceFormer (Koner et al., AAAI 2023, arXiv 2208.10547, method:
"temporal contrastive loss"): a supervised contrastive (SupCon) loss that keeps an instance's embedding
coherent across the frames of a clip and apart from the other instances.

:class:`~instanceformer.core.losses.criterion.InstanceFormerCriterion` chooses the tokens (each clip's
matched queries in every frame where their instance is present, labelled by instance, plus the queries
written to the memory as negatives) and calls :func:`batched_supervised_contrastive_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supervised_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float
) -> torch.Tensor | None:
    """SupCon over a set of embeddings (Khosla et al., 2020), one view per token.

    For an anchor ``i`` with positives ``P(i)`` (the other tokens with its label):
    ``L_i = -1/|P(i)| * sum_p log( exp(s_ip / t) / sum_{a != i} exp(s_ia / t) )`` with ``s`` the cosine
    similarity. Tokens with a negative label are never positives (they only serve as negatives).

    Args:
        embeddings: ``[num_tokens, embedding_dim]``.
        labels: ``[num_tokens]`` int64; equal non-negative labels mark the same instance.
        temperature: ``t``.

    Returns:
        The mean of ``L_i`` over anchors that have at least one positive, or None when none has.
    """
    features = F.normalize(embeddings.float(), dim=-1)
    logits = features @ features.T / temperature  # [N, N]
    self_pairs = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    log_probabilities = logits - logits.logsumexp(dim=1, keepdim=True)  # [N, N]
    positives = (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0) & ~self_pairs
    num_positives = positives.sum(dim=1)
    anchors = num_positives > 0
    if not bool(anchors.any()):
        return None
    positive_log_probabilities = log_probabilities.masked_fill(~positives, 0.0).sum(dim=1)
    return -(positive_log_probabilities[anchors] / num_positives[anchors]).mean()


def batched_supervised_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`supervised_contrastive_loss` over several token sets at once, each padded to one length.

    Args:
        embeddings: ``[num_sets, num_tokens, embedding_dim]``.
        labels: ``[num_sets, num_tokens]`` int64, compared within a set only.
        valid: ``[num_sets, num_tokens]`` bool; padding tokens (False) take no part at all.
        temperature: ``t``.

    Returns:
        ``[num_sets]`` float32: each set's loss (0 where it has no anchor), and ``[num_sets]`` bool: whether
        the set has an anchor (a token with a positive).
    """
    features = F.normalize(embeddings.float(), dim=-1)
    logits = features @ features.transpose(1, 2) / temperature  # [R, S, S]
    self_pairs = torch.eye(labels.shape[1], dtype=torch.bool, device=labels.device)
    usable = valid[:, None, :] & ~self_pairs  # [R, S, S]: the tokens an anchor is compared with
    same = (labels[:, :, None] == labels[:, None, :]) & (labels[:, :, None] >= 0)
    positives = same & usable & valid[:, :, None]
    num_positives = positives.sum(dim=2)  # [R, S]
    anchors = num_positives > 0
    logits = logits.masked_fill(~usable, float("-inf"))
    # rows that are no anchor get finite placeholders, so no NaN reaches the gradient
    logits = torch.where(anchors[..., None], logits, torch.zeros_like(logits))
    log_probabilities = logits - logits.logsumexp(dim=2, keepdim=True)
    per_anchor = log_probabilities.masked_fill(~positives, 0.0).sum(dim=2) / num_positives.clamp(min=1)
    per_anchor = per_anchor.masked_fill(~anchors, 0.0)  # [R, S]
    num_anchors = anchors.sum(dim=1)  # [R]
    return -per_anchor.sum(dim=1) / num_anchors.clamp(min=1), num_anchors > 0
