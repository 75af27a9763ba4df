"""Synthetic video instance segmentation data: moving textured shapes with exact ground truth.

Categories are shapes (:data:`SHAPE_KINDS`); instances take colours from one shared palette, carry
textures and shading, move, scale, rotate, occlude one another, and enter and leave the view in front of
panning textured backgrounds. :func:`generate_synthetic_dataset` writes the frames and YouTube-VIS/OVIS
annotation files of a :class:`SynthSpec`.
"""

from instanceformer.dataprep.synth.annotations import mask_bbox, occlusion_label
from instanceformer.dataprep.synth.generate import (
    SPLITS,
    SplitSummary,
    SynthSummary,
    generate_synthetic_dataset,
    video_name,
    video_rng,
)
from instanceformer.dataprep.synth.render import RenderedFrame, render_frame
from instanceformer.dataprep.synth.scene import VideoScene, sample_scene
from instanceformer.dataprep.synth.shapes import SHAPE_KINDS
from instanceformer.dataprep.synth.spec import SynthSpec, parse_frame_size

__all__ = [
    "SHAPE_KINDS",
    "SPLITS",
    "RenderedFrame",
    "SplitSummary",
    "SynthSpec",
    "SynthSummary",
    "VideoScene",
    "generate_synthetic_dataset",
    "mask_bbox",
    "occlusion_label",
    "parse_frame_size",
    "render_frame",
    "sample_scene",
    "video_name",
    "video_rng",
]
