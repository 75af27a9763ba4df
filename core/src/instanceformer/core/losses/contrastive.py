"""The supervised contrastive (SupCon) loss that keeps an instance's embedding coherent across frames."""

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
