"""Model measurements: parameters per preset, seconds per frame of ``step``, a short training loss curve.

Run ``python -m instanceformer.core.model.benchmark [--synth ROOT]``. With ``--synth`` (a folder written by
``ifm-prep synth``) the loss curve trains on its clips; without it, on clips of moving rectangles drawn
here. Every number comes from this one run and is printed as a Rich table.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import typer
from PIL import Image
from pycocotools import mask as mask_utils
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from instanceformer.core.config import list_presets, load_config
from instanceformer.core.errors import UserError
from instanceformer.core.losses import build_criterion
from instanceformer.core.model import build_model
from instanceformer.core.model.batch import IMAGENET_MEAN, IMAGENET_STD, ClipBatch, ClipTargets

app = typer.Typer(add_completion=False, help=__doc__)
console = Console()


def parameter_table() -> Table:
    """Parameters of every preset's model (and the R50 preset with the Swin-L backbone)."""
    table = Table(title="Parameters per preset")
    table.add_column("preset")
    table.add_column("backbone")
    table.add_column("parameters (M)", justify="right")
    table.add_column("trainable (M)", justify="right")
    rows = [(preset, load_config(preset).model) for preset in list_presets()]
    r50 = load_config("r50-ytvis21").model
    rows.append(("r50-ytvis21 + swin_l", replace(r50, backbone=replace(r50.backbone, name="swin_l"))))
    for name, config in rows:
        model = build_model(config)
        total = sum(parameter.numel() for parameter in model.parameters())
        trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
        table.add_row(name, config.backbone.name, f"{total / 1e6:.2f}", f"{trainable / 1e6:.2f}")
        del model
    return table


def seconds_per_frame(preset: str, height: int, width: int, num_frames: int) -> float:
    """Median wall time of ``step`` (evaluation mode, no gradients) after one warm-up frame."""
    torch.manual_seed(0)
    model = build_model(load_config(preset).model).eval()
    state = model.init_state(1)
    frames = torch.randn(num_frames + 1, 1, 3, height, width)
    times = []
    with torch.inference_mode():
        for index, frame in enumerate(frames):
            start = time.perf_counter()
            _, state = model.step(frame, state)
            if index > 0:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def _normalise(image: np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0  # [3, H, W]
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return (tensor - mean) / std


class SynthClips:
    """Clips of an ``ifm-prep synth`` training split: images, masks and boxes per frame."""

    def __init__(self, root: Path, num_frames: int):
        annotation_path = root / "annotations" / "instances_train.json"
        if not annotation_path.is_file():
            raise UserError(f"{annotation_path}: not found; run `ifm-prep synth --out {root}` first")
        dataset = json.loads(annotation_path.read_text(encoding="utf-8"))
        self.frame_root = root / "train" / "JPEGImages"
        category_ids = sorted(category["id"] for category in dataset["categories"])
        self.categories = {category_id: index for index, category_id in enumerate(category_ids)}
        self.videos = dataset["videos"]
        self.tracks: dict[int, list[dict]] = {video["id"]: [] for video in self.videos}
        for track in dataset["annotations"]:
            self.tracks[track["video_id"]].append(track)
        self.num_frames = num_frames

    def sample(self, rng: random.Random) -> tuple[torch.Tensor, ClipTargets]:
        """A random clip: ``[num_frames, 3, H, W]`` normalised images and their targets."""
        video = rng.choice(self.videos)
        start = rng.randrange(0, video["length"] - self.num_frames + 1)
        frames = list(range(start, start + self.num_frames))
        height, width = video["height"], video["width"]
        images = torch.stack(
            [
                _normalise(np.asarray(Image.open(self.frame_root / video["file_names"][f]).convert("RGB")))
                for f in frames
            ]
        )
        tracks = self.tracks[video["id"]]
        masks = torch.zeros(self.num_frames, len(tracks), height, width, dtype=torch.bool)
        boxes = torch.zeros(self.num_frames, len(tracks), 4)
        for column, track in enumerate(tracks):
            for row, frame in enumerate(frames):
                segmentation = track["segmentations"][frame]
                if segmentation is None:
                    continue
                rle = mask_utils.frPyObjects(segmentation, height, width)
                masks[row, column] = torch.from_numpy(mask_utils.decode(rle).astype(bool))
                x, y, w, h = track["bboxes"][frame]
                boxes[row, column] = torch.tensor(
                    [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
                )
        present = masks.flatten(2).any(dim=2)
        targets = ClipTargets(
            labels=torch.tensor([self.categories[t["category_id"]] for t in tracks], dtype=torch.long),
            boxes=boxes * present[..., None],
            masks=masks,
            present=present,
            track_ids=torch.tensor([t["id"] for t in tracks], dtype=torch.long),
            image_size=(height, width),
            video_id=int(video["id"]),
            frame_indices=torch.tensor(frames),
        )
        return images, targets


class RectangleClips:
    """Clips of coloured rectangles moving over noise; the class is the rectangle's colour."""

    def __init__(self, num_frames: int, height: int, width: int, num_classes: int):
        self.num_frames, self.height, self.width, self.num_classes = num_frames, height, width, num_classes

    def sample(self, rng: random.Random) -> tuple[torch.Tensor, ClipTargets]:
        """A random clip: ``[num_frames, 3, H, W]`` normalised images and their targets."""
        num_objects = rng.randint(1, 3)
        frames = np.random.default_rng(rng.randrange(2**31)).integers(
            0, 60, (self.num_frames, self.height, self.width, 3), dtype=np.uint8
        )
        masks = torch.zeros(self.num_frames, num_objects, self.height, self.width, dtype=torch.bool)
        boxes = torch.zeros(self.num_frames, num_objects, 4)
        labels = []
        for index in range(num_objects):
            label = rng.randrange(self.num_classes)
            labels.append(label)
            colour = np.array([(label * 97) % 256, (label * 57 + 80) % 256, (label * 151 + 160) % 256])
            size_y, size_x = rng.randint(20, 60), rng.randint(20, 80)
            y, x = rng.randint(0, self.height - size_y), rng.randint(0, self.width - size_x)
            step_y, step_x = rng.randint(-6, 6), rng.randint(-6, 6)
            for frame in range(self.num_frames):
                top = min(max(y + step_y * frame, 0), self.height - size_y)
                left = min(max(x + step_x * frame, 0), self.width - size_x)
                frames[frame, top : top + size_y, left : left + size_x] = colour
                masks[frame, :, top : top + size_y, left : left + size_x] = False
                masks[frame, index, top : top + size_y, left : left + size_x] = True
        for frame in range(self.num_frames):
            for index in range(num_objects):
                ys, xs = torch.nonzero(masks[frame, index], as_tuple=True)
                if len(ys):
                    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
                    boxes[frame, index] = torch.stack(
                        [
                            (x0 + x1) / 2 / self.width,
                            (y0 + y1) / 2 / self.height,
                            (x1 - x0) / self.width,
                            (y1 - y0) / self.height,
                        ]
                    ).float()
        present = masks.flatten(2).any(dim=2)
        targets = ClipTargets(
            labels=torch.tensor(labels),
            boxes=boxes,
            masks=masks,
            present=present,
            track_ids=torch.arange(num_objects),
            image_size=(self.height, self.width),
            video_id=0,
            frame_indices=torch.arange(self.num_frames),
        )
        return torch.stack([_normalise(frame) for frame in frames]), targets


def loss_curve(source, steps: int, batch_size: int, seed: int) -> list[float]:
    """Train the tiny preset for ``steps`` steps (AdamW, gradient clipping) and return the total losses."""
    config = load_config("tiny-cpu")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = build_model(config.model).train()
    criterion = build_criterion(config.loss, config.model)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.train.lr, weight_decay=config.train.weight_decay
    )
    losses = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("training tiny-cpu", total=steps)
        for _ in range(steps):
            clips = [source.sample(rng) for _ in range(batch_size)]
            images = torch.stack([images for images, _ in clips])
            batch = ClipBatch(
                images=images,
                padding_mask=torch.zeros(batch_size, *images.shape[-2:], dtype=torch.bool),
                targets=tuple(targets for _, targets in clips),
            )
            total = criterion(model.forward_clip(batch), batch.targets)["total"]
            optimiser.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.clip_max_norm)
            optimiser.step()
            losses.append(float(total.detach()))
            progress.advance(task)
    return losses


@app.command()
def main(
    synth: Path | None = typer.Option(None, help="ifm-prep synth output folder for the loss curve."),
    steps: int = typer.Option(200, min=1, help="Training steps of the loss curve."),
    r50_frames: int = typer.Option(3, min=1, help="Timed frames at 360x640 for R50."),
    tiny_frames: int = typer.Option(10, min=1, help="Timed frames at 192x320 for tiny-cpu."),
    skip_training: bool = typer.Option(False, help="Only count parameters and time inference."),
) -> None:
    """Print parameter counts, seconds per frame and the tiny preset's training loss."""
    console.print(parameter_table())
    timing = Table(title=f"Seconds per frame of step (inference, {torch.get_num_threads()} threads)")
    timing.add_column("preset")
    timing.add_column("input")
    timing.add_column("s / frame", justify="right")
    timing.add_column("frames / s", justify="right")
    for preset, height, width, frames in (
        ("r50-ytvis21", 360, 640, r50_frames),
        ("tiny-cpu", 192, 320, tiny_frames),
    ):
        seconds = seconds_per_frame(preset, height, width, frames)
        timing.add_row(preset, f"{height}x{width}", f"{seconds:.3f}", f"{1 / seconds:.2f}")
    console.print(timing)
    if skip_training:
        return
    tiny = load_config("tiny-cpu")
    if synth is not None:
        source = SynthClips(synth, tiny.data.num_frames)
        description = f"ifm-prep synth clips from {synth}"
    else:
        source = RectangleClips(tiny.data.num_frames, 192, 320, tiny.model.num_classes)
        description = "moving rectangles"
    losses = loss_curve(source, steps, tiny.train.batch_size, tiny.train.seed)
    curve = Table(title=f"tiny-cpu training loss ({description}, batch {tiny.train.batch_size})")
    curve.add_column("steps")
    curve.add_column("mean total loss", justify="right")
    curve.add_column("ratio to first window", justify="right")
    window = max(1, steps // 10)
    first = statistics.mean(losses[:window])
    for start in range(0, steps, window):
        mean = statistics.mean(losses[start : start + window])
        curve.add_row(f"{start + 1}-{min(start + window, steps)}", f"{mean:.3f}", f"{mean / first:.2f}")
    console.print(curve)


if __name__ == "__main__":
    app()
