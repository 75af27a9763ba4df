"""Rebuilding a trained model from its run folder (architecture flags are never retyped)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from instanceformer.core.config import Config
from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.errors import FormatError, UserError
from instanceformer.core.model import InstanceFormer, build_model
from instanceformer.core.runs import RunFolder
from instanceformer.core.runtime.device import resolve_device


@dataclass(frozen=True)
class LoadedModel:
    """A model in evaluation mode, the run's configuration and where its weights came from."""

    model: InstanceFormer
    config: Config
    checkpoint: Path
    device: torch.device


def load_run_model(
    run: str | Path, checkpoint: str | Path | None = None, device: str | None = None
) -> LoadedModel:
    """Build the model of ``RUN/config.yaml`` and load a checkpoint's weights.

    Args:
        run: the run folder.
        checkpoint: a checkpoint file (default ``RUN/checkpoints/last.pt``).
        device: ``auto``, ``cpu`` or ``cuda[:index]`` (default the run's ``infer.device``).

    Raises:
        UserError: no run folder, no checkpoint, or weights that do not fit the run's architecture.
    """
    folder = RunFolder.open(run)
    config = folder.load_config()
    path = Path(checkpoint) if checkpoint is not None else folder.last_checkpoint_path
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint (train the run first or pass --checkpoint)")
    payload = load_checkpoint(path)
    model = build_model(config.model, pretrained_backbone=False)  # the checkpoint holds every weight
    weights = payload["model"]
    if not isinstance(weights, dict):
        raise FormatError(path, None, "model", "expected a dict of tensors")
    missing, unexpected = _key_differences(model.state_dict().keys(), weights.keys())
    if missing or unexpected:
        first = (missing or unexpected)[0]
        what = "missing" if missing else "unexpected"
        raise FormatError(
            path,
            None,
            "model",
            f"weights do not fit the architecture of {folder.config_path} ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, first {what}: '{first}')",
        )
    try:
        model.load_state_dict(weights)
    except RuntimeError as problem:
        first_line = str(problem).strip().splitlines()[-1].strip()
        raise FormatError(
            path, None, "model", f"weights do not fit the run's architecture ({first_line})"
        ) from None
    chosen = resolve_device(device or config.infer.device)
    model = model.to(chosen).eval()
    return LoadedModel(model=model, config=config, checkpoint=path, device=chosen)


def with_infer_overrides(config: Config, **values: object) -> Config:
    """``config`` with some ``infer`` keys replaced (``None`` values are ignored)."""
    # the keys and their types are checked by replace() at run time
    chosen: dict[str, Any] = {key: value for key, value in values.items() if value is not None}
    return replace(config, infer=replace(config.infer, **chosen)) if chosen else config


def _key_differences(expected, found) -> tuple[list[str], list[str]]:
    expected, found = set(expected), set(found)
    return sorted(expected - found), sorted(found - expected)
