"""The temporal parts of InstanceFormer: prior propagation, the instance memory and the tracking state."""

from instanceformer.core.model.temporal.memory import (
    FrameOffsetPositions,
    InstanceMemory,
    MemoryReadout,
    QueueSlotPositions,
    select_top_queries,
)
from instanceformer.core.model.temporal.propagation import (
    ClassPrior,
    LearnedReferencePoints,
    PreviousBoxCentres,
    PriorPropagation,
    PublishedReferenceChain,
)
from instanceformer.core.model.temporal.state import TrackingState

__all__ = [
    "ClassPrior",
    "FrameOffsetPositions",
    "InstanceMemory",
    "LearnedReferencePoints",
    "MemoryReadout",
    "PreviousBoxCentres",
    "PriorPropagation",
    "PublishedReferenceChain",
    "QueueSlotPositions",
    "TrackingState",
    "select_top_queries",
]
