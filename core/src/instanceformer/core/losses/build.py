"""Assembling the training criterion for a model configuration."""

from __future__ import annotations

from instanceformer.core.config.schema import LossConfig, ModelConfig
from instanceformer.core.losses.criterion import InstanceFormerCriterion
from instanceformer.core.losses.query_groups import QueryGroupCriterion


def build_criterion(loss: LossConfig, model: ModelConfig) -> InstanceFormerCriterion | QueryGroupCriterion:
    """The criterion for a model built from ``model`` with the loss settings ``loss``; with
    ``model.transformer.num_query_groups`` > 1 it takes the grouped model's training outputs."""
    criterion = InstanceFormerCriterion(loss, model)
    if model.transformer.num_query_groups > 1:
        return QueryGroupCriterion(criterion, model.transformer.num_query_groups)
    return criterion
