"""Starting a run from another run's weights (``--init-from``), e.g. a video run from COCO pretraining.

As in the published recipe, the class-dependent tensors (the class heads, the class prior and the
memory token projection, whose shapes follow ``model.num_classes``) are dropped when their shapes differ
from the new model's, or always with ``drop_class_head``. Any other shape mismatch is an error: the
architectures differ. The source supplies the backbone too: ``model.backbone.weights`` is read only when
the source lacks backbone tensors, to fill those.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from instanceformer.core.engine.checkpoints import load_checkpoint
from instanceformer.core.errors import UserError
from instanceformer.core.model.backbone import Backbone, load_backbone_weights
from instanceformer.core.runs import RunFolder

CLASS_DEPENDENT_PREFIXES = ("class_heads.", "class_prior.", "memory.projection.")
BACKBONE_BODY_PREFIX = "backbone.body."


@dataclass(frozen=True)
class InitReport:
    """What :func:`initialise_from` did: the source file and the tensor names per outcome."""

    source: Path
    loaded: tuple[str, ...]
    dropped: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    backbone_weights: Path | None = None

    def summary(self) -> str:
        """One line for the console: counts and the dropped tensors."""
        dropped = f" ({', '.join(self.dropped)})" if self.dropped else ""
        filled = ""
        if self.backbone_weights is not None:
            filled = f", the backbone tensors it lacks from {self.backbone_weights}"
        return (
            f"initialised from {self.source}: {len(self.loaded)} tensors loaded, {len(self.dropped)} "
            f"dropped{dropped}, {len(self.missing)} left at their initial values, {len(self.unexpected)} "
            f"unused{filled}"
        )


def checkpoint_file(source: str | os.PathLike[str]) -> Path:
    """The checkpoint named by ``source``: a run folder (its ``last.pt``) or a checkpoint file."""
    path = Path(source)
    if path.is_dir():
        return RunFolder.open(path).last_checkpoint_path
    if not path.is_file():
        raise UserError(f"{path}: --init-from: expected a run folder or a checkpoint file")
    return path


def is_class_dependent(name: str) -> bool:
    """Whether the tensor ``name`` depends on the number of classes."""
    return name.startswith(CLASS_DEPENDENT_PREFIXES)


def initialise_from(
    model: nn.Module,
    source: str | os.PathLike[str],
    *,
    drop_class_head: bool = False,
    backbone_weights: str | os.PathLike[str] | None = None,
) -> InitReport:
    """Load the weights of ``source`` into ``model`` where they fit; see the module docstring.

    ``backbone_weights`` (``model.backbone.weights``) is loaded into ``model.backbone`` first when
    ``source`` lacks any of its tensors; the source's tensors then take precedence.
    """
    path = checkpoint_file(source)
    weights = load_checkpoint(path)["model"]
    own = model.state_dict()
    loaded, dropped, selected = [], [], {}
    for name, tensor in weights.items():
        if name not in own:
            continue
        if is_class_dependent(name) and (drop_class_head or tensor.shape != own[name].shape):
            dropped.append(name)
            continue
        if tensor.shape != own[name].shape:
            raise UserError(
                f"{path}: tensor '{name}': expected shape {tuple(own[name].shape)}, got "
                f"{tuple(tensor.shape)} (a different architecture; compare the model.* settings)"
            )
        selected[name] = tensor
        loaded.append(name)
    missing = tuple(name for name in own if name not in selected)
    filled_from = None
    if backbone_weights is not None and any(name.startswith(BACKBONE_BODY_PREFIX) for name in missing):
        backbone = model.get_submodule("backbone")
        assert isinstance(backbone, Backbone)
        load_backbone_weights(backbone, backbone_weights)
        filled_from = Path(backbone_weights)
        missing = tuple(name for name in missing if not name.startswith(BACKBONE_BODY_PREFIX))
    with torch.no_grad():
        model.load_state_dict(selected, strict=False)
    unexpected = tuple(name for name in weights if name not in own)
    return InitReport(path, tuple(loaded), tuple(dropped), missing, unexpected, filled_from)
