"""Matching and losses for training InstanceFormer on clips."""

from instanceformer.core.losses.build import build_criterion
from instanceformer.core.losses.contrastive import supervised_contrastive_loss
from instanceformer.core.losses.criterion import InstanceFormerCriterion
from instanceformer.core.losses.matcher import ClipMatch, ClipMatcher
from instanceformer.core.losses.query_groups import QueryGroupCriterion

__all__ = [
    "ClipMatch",
    "ClipMatcher",
    "InstanceFormerCriterion",
    "QueryGroupCriterion",
    "build_criterion",
    "supervised_contrastive_loss",
]
