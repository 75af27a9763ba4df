"""Which scene sampler draws the videos of a synthetic dataset: the spec's scenario."""

from __future__ import annotations

from typing import Any

import numpy as np

from instanceformer.dataprep.synth.occlusion_scenario import sample_occlusion_scene
from instanceformer.dataprep.synth.scene import VideoScene, sample_scene
from instanceformer.dataprep.synth.spec import SynthSpec


def sample_video_scene(rng: np.random.Generator, spec: SynthSpec) -> VideoScene:
    """Draw one video of ``spec``'s scenario from the video's random stream ``rng``."""
    if spec.scenario == "occlusion":
        return sample_occlusion_scene(
            rng, spec.height, spec.width, spec.num_frames, spec.num_categories, spec.occlusion
        )
    return sample_scene(rng, spec.height, spec.width, spec.num_frames, spec.num_categories)


def scenario_info(spec: SynthSpec) -> dict[str, Any]:
    """The entries that the annotation files' ``info`` gains for a scenario other than the default."""
    if spec.scenario == "default":
        return {}
    return {"scenario": spec.scenario, "occlusion": spec.occlusion.to_json()}
