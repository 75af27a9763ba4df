"""Where the training data lives: explicit ``data.*`` paths, or the default layout under the data root.

Default layout (README, "Where data and runs go"), with ``<root>`` from ``data.root``, else the
``IFM_DATA_ROOT`` environment variable, else ``data``::

    <root>/<dataset>/train/JPEGImages/<video>/<frame>.jpg
    <root>/<dataset>/annotations/instances_train_sub.json   training part of `ifm-prep split`
    <root>/<dataset>/annotations/instances_val_sub.json     held-out part (frames under train/JPEGImages)
    <root>/synth/annotations/instances_{train,valid}.json   the synthetic dataset (`ifm-prep synth`)
    <root>/coco/train2017/*.jpg, <root>/coco/annotations/instances_train2017.json
    <root>/coco/annotations/instances_train2017_<dataset>.json   `ifm-prep coco-keep` for joint training
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from instanceformer.core.config import DataConfig

DATA_ROOT_VARIABLE = "IFM_DATA_ROOT"
DEFAULT_DATA_ROOT = "data"


@dataclass(frozen=True)
class DataPaths:
    """Resolved annotation files and frame folders of a configuration."""

    train_annotations: Path
    train_frames: Path
    val_annotations: Path
    val_frames: Path
    coco_annotations: Path
    coco_frames: Path


def data_root(data: DataConfig, environ: Mapping[str, str] | None = None) -> Path:
    """The data root: ``data.root``, else ``$IFM_DATA_ROOT``, else ``data``."""
    environ = os.environ if environ is None else environ
    return Path(data.root or environ.get(DATA_ROOT_VARIABLE) or DEFAULT_DATA_ROOT)


def resolve_data_paths(data: DataConfig, environ: Mapping[str, str] | None = None) -> DataPaths:
    """The paths of ``data``: each explicit key as given, each empty key from the default layout."""
    root = data_root(data, environ)
    folder = root / data.dataset
    coco = root / "coco"
    if data.dataset == "coco":
        defaults = {
            "train_annotations": coco / "annotations" / "instances_train2017.json",
            "train_frames": coco / "train2017",
            "val_annotations": coco / "annotations" / "instances_val2017.json",
            "val_frames": coco / "val2017",
        }
    elif data.dataset == "synth":
        defaults = {
            "train_annotations": folder / "annotations" / "instances_train.json",
            "train_frames": folder / "train" / "JPEGImages",
            "val_annotations": folder / "annotations" / "instances_valid.json",
            "val_frames": folder / "valid" / "JPEGImages",
        }
    else:
        defaults = {
            "train_annotations": folder / "annotations" / "instances_train_sub.json",
            "train_frames": folder / "train" / "JPEGImages",
            "val_annotations": folder / "annotations" / "instances_val_sub.json",
            "val_frames": folder / "train" / "JPEGImages",
        }
    defaults["coco_annotations"] = coco / "annotations" / f"instances_train2017_{data.dataset}.json"
    defaults["coco_frames"] = coco / "train2017"
    return DataPaths(
        **{
            key: Path(getattr(data, key)) if getattr(data, key) else default
            for key, default in defaults.items()
        }
    )
