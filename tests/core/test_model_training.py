"""One training step end to end: gradients reach every parameter; determinism; checkpoint round trips."""

from __future__ import annotations

import torch

from instanceformer.core.config import load_config
from instanceformer.core.engine import load_run_model
from instanceformer.core.engine.torch_io import save_torch_atomic
from instanceformer.core.losses import build_criterion
from instanceformer.core.model import Backbone, build_model
from instanceformer.core.model.batch import ClipBatch, ClipTargets
from tests.support.tiny_run import make_tiny_run

NUM_FRAMES, HEIGHT, WIDTH = 3, 64, 96


def _box(top: int, left: int, bottom: int, right: int) -> torch.Tensor:
    """Normalised (cx, cy, w, h) of a pixel rectangle."""
    return torch.tensor(
        [
            (left + right) / 2 / WIDTH,
            (top + bottom) / 2 / HEIGHT,
            (right - left) / WIDTH,
            (bottom - top) / HEIGHT,
        ]
    )


def synthetic_targets(video_id: int) -> ClipTargets:
    """Two instances over 3 frames: a moving rectangle, and a second one absent in frame 1."""
    masks = torch.zeros(NUM_FRAMES, 2, HEIGHT, WIDTH, dtype=torch.bool)
    boxes = torch.zeros(NUM_FRAMES, 2, 4)
    present = torch.tensor([[True, True], [True, False], [True, True]])
    for frame in range(NUM_FRAMES):
        left = 8 + 6 * frame
        masks[frame, 0, 8:32, left : left + 24] = True
        boxes[frame, 0] = _box(8, left, 32, left + 24)
        if present[frame, 1]:
            masks[frame, 1, 40:60, 56:88] = True
            boxes[frame, 1] = _box(40, 56, 60, 88)
    return ClipTargets(
        labels=torch.tensor([1, 4]),
        boxes=boxes,
        masks=masks,
        present=present,
        track_ids=torch.tensor([10, 11]),
        image_size=(HEIGHT, WIDTH),
        video_id=video_id,
        frame_indices=torch.arange(NUM_FRAMES),
    )


def synthetic_batch() -> ClipBatch:
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(2, NUM_FRAMES, 3, HEIGHT, WIDTH, generator=generator)
    return ClipBatch(
        images=images,
        padding_mask=torch.zeros(2, HEIGHT, WIDTH, dtype=torch.bool),
        targets=(synthetic_targets(1), synthetic_targets(2)),
    )


def _training_loss(model, criterion, batch: ClipBatch) -> dict[str, torch.Tensor]:
    return criterion(model(batch.images, batch.padding_mask), batch.targets)


def test_every_trainable_parameter_receives_a_gradient() -> None:
    """Gradients of a 3-frame clip reach every parameter, the temporal ones included.

    The box heads' last layers and the deformable offset/weight projections start at zero (the
    published initialisation), which blocks the gradient of the layers behind them on the very first
    backward pass; one SGD step moves them off zero, and the second backward pass must then reach every
    trainable parameter with a finite, non-zero gradient.
    """
    torch.manual_seed(0)
    config = load_config("tiny-cpu")
    model = build_model(config.model).train()
    criterion = build_criterion(config.loss, config.model)
    batch = synthetic_batch()
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-2)
    first = _training_loss(model, criterion, batch)
    first["total"].backward()
    optimiser.step()
    optimiser.zero_grad()
    losses = _training_loss(model, criterion, batch)
    assert torch.isfinite(losses["total"])
    assert set(losses) >= {"class", "box_l1", "box_giou", "mask_focal", "mask_dice", "contrastive", "total"}
    assert "class_0" in losses and "mask_dice_1" in losses
    torch.testing.assert_close(
        losses["total"], torch.stack([value for key, value in losses.items() if key != "total"]).sum()
    )
    losses["total"].backward()
    without_gradient = [
        name
        for name, parameter in model.named_parameters()
        if parameter.requires_grad and (parameter.grad is None or not bool(parameter.grad.abs().sum() > 0))
    ]
    assert without_gradient == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    temporal = [
        "class_prior.weight",
        "memory.projection.weight",
        "decoder.layers.0.memory_attention.in_proj_weight",
    ]
    parameters = dict(model.named_parameters())
    assert all(parameters[name].grad.abs().sum() > 0 for name in temporal)


def test_forward_is_deterministic_under_a_fixed_seed() -> None:
    config = load_config("tiny-cpu").model
    images = torch.randn(1, 2, 3, HEIGHT, WIDTH)
    results = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build_model(config).eval()
        with torch.no_grad():
            frames = model(images)
        results.append(frames)
    for first, second in zip(*results, strict=True):
        assert torch.equal(first.logits, second.logits)
        assert torch.equal(first.boxes, second.boxes)
        assert torch.equal(first.masks, second.masks)


def test_checkpoint_round_trip_with_weights_only(tmp_path) -> None:
    config = load_config("tiny-cpu").model
    torch.manual_seed(5)
    model = build_model(config).eval()
    path = tmp_path / "model.pt"
    save_torch_atomic(path, {"model": model.state_dict()})
    loaded = torch.load(path, weights_only=True)
    torch.manual_seed(6)
    restored = build_model(config).eval()
    restored.load_state_dict(loaded["model"])
    images = torch.randn(1, 3, HEIGHT, WIDTH)
    with torch.no_grad():
        expected, _ = model.step(images, model.init_state(1))
        actual, _ = restored.step(images, restored.init_state(1))
    assert torch.equal(expected.logits, actual.logits)
    assert torch.equal(expected.masks, actual.masks)


def test_gradients_flow_through_the_propagated_queries() -> None:
    """A loss on frame 1 alone reaches the query content used only at frame 0."""
    torch.manual_seed(0)
    model = build_model(load_config("tiny-cpu").model).train()
    frames = model(torch.randn(1, 2, 3, HEIGHT, WIDTH))
    frames[1].logits.sum().backward()
    content_gradient = model.query_embedding.weight.grad[:, model.config.transformer.d_model :]
    assert content_gradient.abs().sum() > 0


def test_a_run_loads_for_inference_after_its_backbone_weights_file_is_gone(tmp_path) -> None:
    """The checkpoint supplies every weight: rebuilding a run never opens ``model.backbone.weights``."""
    torch.manual_seed(7)
    pretrained = Backbone(load_config("tiny-cpu").model.backbone).body.state_dict()
    weights = tmp_path / "backbone.pth"
    torch.save(pretrained, weights)
    run = make_tiny_run(tmp_path / "run", [f"model.backbone.weights={weights}"], seed=8)
    saved = torch.load(run / "checkpoints" / "last.pt", weights_only=False)["model"]
    assert torch.equal(saved["backbone.body.layer1.0.conv1.weight"], pretrained["layer1.0.conv1.weight"])
    weights.unlink()
    loaded = load_run_model(run, device="cpu")
    assert loaded.config.model.backbone.weights == str(weights)
    assert loaded.model.state_dict().keys() == saved.keys()
    for name, tensor in loaded.model.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
