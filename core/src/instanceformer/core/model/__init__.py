"""The InstanceFormer model: backbone, deformable transformer, heads and the temporal parts."""

from instanceformer.core.model.backbone import Backbone, load_backbone_weights
from instanceformer.core.model.build import build_model
from instanceformer.core.model.instanceformer import InstanceFormer
from instanceformer.core.model.outputs import AnalysisOutputs, FrameOutputs, LayerOutputs
from instanceformer.core.model.query_groups import QueryGroupInstanceFormer
from instanceformer.core.model.temporal.state import TrackingState

__all__ = [
    "AnalysisOutputs",
    "Backbone",
    "FrameOutputs",
    "InstanceFormer",
    "LayerOutputs",
    "QueryGroupInstanceFormer",
    "TrackingState",
    "build_model",
    "load_backbone_weights",
]
