"""Matching and losses for training InstanceFormer on clips."""

from instanceformer.core.losses.contrastive import supervised_contrastive_loss
from instanceformer.core.losses.criterion import InstanceFormerCriterion, build_criterion
from instanceformer.core.losses.matcher import ClipMatch, ClipMatcher

__all__ = [
    "ClipMatch",
    "ClipMatcher",
    "InstanceFormerCriterion",
    "build_criterion",
    "supervised_contrastive_loss",
]
