"""``ifm-train convert``: a published InstanceFormer checkpoint as a run folder that ``ifm-infer`` reads.

The run folder holds the configuration of a preset for the checkpoint's dataset and ``checkpoints/last.pt``
with the converted weights (step 0). With variant ``published`` the preset is ``published-r50-<dataset>``
(the published forward pass, the class heads in their raw-id layout); with ``toolkit`` it is
``r50-<dataset>``, the class heads cut to the dataset's classes (the model then needs fine-tuning,
docs/deviations.md). ``model.backbone.weights`` names the published checkpoint, which holds the backbone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from instanceformer.core.config import Config, load_config
from instanceformer.core.engine.checkpoints import checkpoint_payload, save_checkpoint
from instanceformer.core.errors import UserError
from instanceformer.core.model import build_model
from instanceformer.core.model.convert import (
    ConversionReport,
    convert_published_state_dict,
    read_published_checkpoint,
)
from instanceformer.core.runs import RunFolder

VARIANTS = ("toolkit", "published")
DATASETS = ("ovis", "ytvis19", "ytvis21")
PRESETS = {
    ("toolkit", "ovis"): "r50-ovis",
    ("toolkit", "ytvis19"): "r50-ytvis19",
    ("toolkit", "ytvis21"): "r50-ytvis21",
    ("published", "ovis"): "published-r50-ovis",
    ("published", "ytvis19"): "published-r50-ytvis19",
    ("published", "ytvis21"): "published-r50-ytvis21",
}
# the published class heads have one logit per raw category id, 0 included
PUBLISHED_CLASS_LOGITS = {"ovis": 27, "ytvis19": 42, "ytvis21": 42}
CLASS_HEAD_KEY = "detr.class_embed.0.weight"


@dataclass(frozen=True)
class ConvertedRun:
    """What :func:`convert_published_run` wrote: the run folder, its configuration and the key report."""

    run: Path
    config: Config
    report: ConversionReport


def checkpoint_dataset(published: dict[str, torch.Tensor], dataset: str | None) -> str:
    """The dataset of a published state dict: ``dataset`` when given (checked against the class head),
    else ``ovis`` for 27 class logits; YouTube-VIS heads (42 logits) serve 2019 and 2021 alike, so
    those need ``dataset``."""
    head = published.get(CLASS_HEAD_KEY, published.get(f"module.{CLASS_HEAD_KEY}"))
    num_logits = None if head is None else int(head.shape[0])
    if dataset is not None:
        if dataset not in DATASETS:
            raise UserError(f"--dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
        if num_logits is not None and num_logits != PUBLISHED_CLASS_LOGITS[dataset]:
            raise UserError(
                f"--dataset {dataset}: the published {dataset} heads have {PUBLISHED_CLASS_LOGITS[dataset]} "
                f"class logits, this checkpoint's have {num_logits}"
            )
        return dataset
    if num_logits == PUBLISHED_CLASS_LOGITS["ovis"]:
        return "ovis"
    if num_logits == PUBLISHED_CLASS_LOGITS["ytvis19"]:
        raise UserError("--dataset: a YouTube-VIS checkpoint (42 class logits); pass ytvis19 or ytvis21")
    raise UserError(
        f"--dataset: cannot tell the dataset from {num_logits} class logits; pass one of {DATASETS}"
    )


def convert_published_run(
    checkpoint: Path,
    out: Path,
    *,
    variant: str = "toolkit",
    dataset: str | None = None,
    overrides: Sequence[str] = (),
    force: bool = False,
) -> ConvertedRun:
    """Convert a published checkpoint into the run folder ``out``.

    Args:
        checkpoint: the published ``.pth`` file (``{"model": state dict, ...}``).
        out: the run folder to create.
        variant: ``published`` (reproduce the published outputs) or ``toolkit``.
        dataset: ``ovis``, ``ytvis19`` or ``ytvis21`` (default: from the class head, see
            :func:`checkpoint_dataset`).
        overrides: ``--set`` overrides applied to the preset.
        force: replace an existing run in ``out``.

    Raises:
        UserError: an unknown variant or dataset, an unreadable checkpoint, tensors whose shapes do not fit
            the preset's architecture, or (variant ``published``) parameters the checkpoint lacks.
    """
    if variant not in VARIANTS:
        raise UserError(f"--variant: expected one of {', '.join(VARIANTS)}, got {variant!r}")
    published = read_published_checkpoint(checkpoint)
    chosen = checkpoint_dataset(published, dataset)
    weights = f"model.backbone.weights={Path(checkpoint).resolve()}"
    config = load_config(PRESETS[variant, chosen], [weights, *overrides])
    model = build_model(config.model, pretrained_backbone=False)
    class_indices = None if config.model.variant == "published" else range(1, config.model.num_classes + 1)
    state, report = convert_published_state_dict(published, model.state_dict(), class_indices)
    if report.mismatched:
        raise UserError(f"{checkpoint}: tensors do not fit {PRESETS[variant, chosen]}:\n{report.summary()}")
    if config.model.variant == "published" and report.missing:
        raise UserError(
            f"{checkpoint}: the published forward pass needs parameters the checkpoint lacks "
            f"(e.g. {report.missing[0]}; check the preset's memory settings):\n{report.summary()}"
        )
    model.load_state_dict(state)
    run = RunFolder.create(out, config, force=force, command=tuple(sys.argv))
    payload = checkpoint_payload(
        model=model.state_dict(), optimizer=None, scheduler=None, step=0, epoch=0, config=config
    )
    save_checkpoint(run, payload, keep=1)
    return ConvertedRun(run=run.root, config=config, report=report)
