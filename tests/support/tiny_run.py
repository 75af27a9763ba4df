"""Run folders of the tiny preset with randomly initialised weights, for the tests that load a run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from instanceformer.core.config import load_config
from instanceformer.core.engine.checkpoints import checkpoint_payload, save_checkpoint
from instanceformer.core.model import build_model
from instanceformer.core.runs import RunFolder


def make_tiny_run(root: Path, overrides: Sequence[str] = (), *, seed: int = 0) -> Path:
    """A run folder at ``root``: the tiny preset with ``overrides`` and weights drawn with ``seed`` in
    ``checkpoints/last.pt`` (step 0). Returns ``root``."""
    config = load_config("tiny-cpu", list(overrides))
    torch.manual_seed(seed)
    model = build_model(config.model)
    run = RunFolder.create(root, config)
    save_checkpoint(
        run,
        checkpoint_payload(
            model=model.state_dict(), optimizer=None, scheduler=None, step=0, epoch=0, config=config
        ),
        keep=1,
    )
    return root
