"""Converted published weights run through the online engine with ``model.variant: published`` reproduce
the outputs of the published code frame by frame (golden outputs: ``golden/README.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from instanceformer.core.config import load_config
from instanceformer.core.engine import OnlineEngine
from instanceformer.core.model import build_model
from instanceformer.core.model.convert import convert_published_state_dict
from instanceformer.core.model.outputs import FrameOutputs
from tests.support.published_weights import seeded_published_state_dict, state_dict_digest

GOLDEN = Path(__file__).parent / "golden"
# case: (preset, overrides, published class logits, memory tokens)
CASES = {
    "ovis_additive": ("published-r50-ovis", (), 27, True),
    "ytvis_multiplicative": ("published-r50-ytvis19", (), 42, False),
}
RELATIVE_TOLERANCE = 1e-4
MINIMUM_MASK_IOU = 0.999


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    """``[4, 3, 108, 164]`` uint8 frames."""
    return torch.load(GOLDEN / "published_frames.pt", weights_only=True)["frames"]


def _golden(case: str) -> dict:
    return torch.load(GOLDEN / f"published_{case}.pt", weights_only=True)


def _published_weights(case: str, golden: dict) -> dict[str, torch.Tensor]:
    _, _, num_logits, memory = CASES[case]
    weights = seeded_published_state_dict(num_logits, memory, golden["weights_seed"])
    assert state_dict_digest(weights) == golden["weights_digest"], "the seeded weights changed"
    return weights


def _engine_outputs(
    preset: str, overrides: Sequence[str], published: dict[str, torch.Tensor], frames: torch.Tensor
) -> list[FrameOutputs]:
    """Convert ``published`` into the preset's model and push ``frames`` through the online engine; the
    model's outputs of every frame."""
    height, width = frames.shape[-2:]
    config = load_config(
        preset,
        [
            "model.backbone.weights=published.pth",  # never read: the converted weights hold the backbone
            f"infer.min_size={min(height, width)}",  # the frames keep their size
            *overrides,
        ],
    )
    model = build_model(config.model, pretrained_backbone=False)
    state, report = convert_published_state_dict(published, model.state_dict())
    assert (report.unmapped, report.mismatched, report.missing) == ((), (), ())
    model.load_state_dict(state)
    category_ids = list(range(1, config.model.num_classes + 1))
    engine = OnlineEngine(model, config.infer, category_ids, size_divisibility=config.data.size_divisibility)
    recorded: list[FrameOutputs] = []
    step = model.step

    def recording_step(*args, **kwargs):
        outputs, next_state = step(*args, **kwargs)
        recorded.append(outputs)
        return outputs, next_state

    model.step = recording_step  # type: ignore[method-assign]
    stream = engine.start(1)
    for frame in frames:
        stream.push(frame)
    assert len(stream.finish().tracks) > 0
    return recorded


def _relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max() / theirs.abs().max())


def _mask_iou(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    ours, theirs = ours > 0, theirs > 0
    return float((ours & theirs).sum()) / max(float((ours | theirs).sum()), 1.0)


def _agreement(
    outputs: list[FrameOutputs], golden: dict, num_classes: int
) -> list[tuple[float, float, float]]:
    """(logits, boxes) maximum relative difference and the mask IoU of the golden top queries, per frame."""
    rows = []
    for frame, output in enumerate(outputs):
        logits = golden["logits"][frame][:, 1 : num_classes + 1]  # the dataset's classes
        queries = golden["mask_queries"][frame]
        assert output.masks is not None
        rows.append(
            (
                _relative_difference(output.logits[0], logits),
                _relative_difference(output.boxes[0], golden["boxes"][frame]),
                _mask_iou(output.masks[0, queries], golden["mask_logits"][frame]),
            )
        )
    return rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_weights_reproduce_the_published_outputs(case: str, frames: torch.Tensor) -> None:
    preset, overrides, _, _ = CASES[case]
    golden = _golden(case)
    outputs = _engine_outputs(preset, overrides, _published_weights(case, golden), frames)
    assert len(outputs) == len(frames) == 4
    num_classes = outputs[0].logits.shape[-1]
    for frame, (logits, boxes, mask_iou) in enumerate(_agreement(outputs, golden, num_classes)):
        assert logits <= RELATIVE_TOLERANCE, f"frame {frame}: logits differ by {logits:.2e}"
        assert boxes <= RELATIVE_TOLERANCE, f"frame {frame}: boxes differ by {boxes:.2e}"
        assert mask_iou >= MINIMUM_MASK_IOU, f"frame {frame}: mask IoU {mask_iou:.5f}"


def test_the_other_reference_update_departs_from_the_second_frame(frames: torch.Tensor) -> None:
    """The golden comparison sees the reference rule: multiplicative references on the additive case agree
    at frame 0, where nothing is propagated, and not afterwards."""
    golden = _golden("ovis_additive")
    outputs = _engine_outputs(
        "published-r50-ovis",
        ["model.published.reference_update=multiplicative"],
        _published_weights("ovis_additive", golden),
        frames,
    )
    rows = _agreement(outputs, golden, 25)
    assert rows[0][0] <= RELATIVE_TOLERANCE and rows[0][1] <= RELATIVE_TOLERANCE
    assert all(boxes > 100 * RELATIVE_TOLERANCE for _, boxes, _ in rows[1:])
