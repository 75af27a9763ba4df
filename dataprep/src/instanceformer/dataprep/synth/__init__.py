"""Synthetic video instance segmentation data: moving textured shapes with exact ground truth.

Categories are shapes (:data:`SHAPE_KINDS`); instances take colours from one shared palette, carry
textures and shading, move, scale, rotate, occlude one another, and enter and leave the view in front of
panning textured backgrounds. :func:`generate_synthetic_dataset` writes the frames and YouTube-VIS/OVIS
annotation files of a :class:`SynthSpec`. Its ``occlusion`` scenario
(:mod:`~instanceformer.dataprep.synth.occlusion_scenario`) fills the videos with identical objects that
cross one another, leave and come back, and hide behind occluders for several frames.
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
from instanceformer.dataprep.synth.occlusion_knobs import (
    SCENARIOS,
    OcclusionKnobs,
    occlusion_knobs_from_options,
    parse_frame_range,
)
from instanceformer.dataprep.synth.render import RenderedFrame, render_frame
from instanceformer.dataprep.synth.scenarios import sample_video_scene
from instanceformer.dataprep.synth.scene import VideoScene, sample_scene
from instanceformer.dataprep.synth.shapes import SHAPE_KINDS
from instanceformer.dataprep.synth.spec import SynthSpec

__all__ = [
    "SCENARIOS",
    "SHAPE_KINDS",
    "SPLITS",
    "OcclusionKnobs",
    "RenderedFrame",
    "SplitSummary",
    "SynthSpec",
    "SynthSummary",
    "VideoScene",
    "generate_synthetic_dataset",
    "mask_bbox",
    "occlusion_knobs_from_options",
    "occlusion_label",
    "parse_frame_range",
    "render_frame",
    "sample_scene",
    "sample_video_scene",
    "video_name",
    "video_rng",
]
