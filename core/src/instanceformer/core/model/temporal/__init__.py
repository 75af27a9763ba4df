"""The temporal parts of InstanceFormer: prior propagation, the instance memory and the tracking state."""

from instanceformer.core.model.temporal.memory import InstanceMemory, MemoryReadout, select_top_queries
from instanceformer.core.model.temporal.propagation import ClassPrior, PriorPropagation
from instanceformer.core.model.temporal.state import TrackingState

__all__ = [
    "ClassPrior",
    "InstanceMemory",
    "MemoryReadout",
    "PriorPropagation",
    "TrackingState",
    "select_top_queries",
]
