"""The embedding spaces of an ``embeddings.pt`` and which one a figure plots.

``contrastive``: the embedding head's output, the space the temporal contrastive loss acts on (present
when the model has a contrastive head). ``decoder``: the final decoder embedding (always present).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from instanceformer.analysis.dumps import AnalysisDump
from instanceformer.core.errors import UserError
from instanceformer.core.formats.analysis_dumps import EMBEDDING_COLUMNS

EMBEDDING_SPACES = tuple(EMBEDDING_COLUMNS)


@dataclass(frozen=True)
class SpaceChoice:
    """The space to plot and, when the default fell back to another space, a one-line note why."""

    space: str
    note: str | None


def available_spaces(dump: AnalysisDump) -> tuple[str, ...]:
    """The spaces a loaded ``embeddings`` dump holds, contrastive first."""
    return tuple(space for space, column in EMBEDDING_COLUMNS.items() if column in dump.columns)


def space_embeddings(dump: AnalysisDump, space: str) -> torch.Tensor:
    """The ``[N, dimension]`` embeddings of one space (``dimension``: ``embedding_dim`` or ``d_model``)."""
    return dump[EMBEDDING_COLUMNS[space]]


def choose_space(dump: AnalysisDump, requested: str | None) -> SpaceChoice:
    """The space to plot: ``requested``, or by default the contrastive space when present, else decoder.

    Raises:
        UserError: ``requested`` is not a space, or the dump does not hold it.
    """
    present = available_spaces(dump)
    if requested is None:
        if "contrastive" in present:
            return SpaceChoice("contrastive", None)
        return SpaceChoice(
            "decoder",
            f"{dump.path.name} has no contrastive embeddings (a model without a contrastive head, or a "
            "version-1 dump): plotting the decoder embeddings",
        )
    if requested not in EMBEDDING_SPACES:
        raise UserError(f"--space: expected one of {', '.join(EMBEDDING_SPACES)}, got {requested!r}")
    if requested not in present:
        raise UserError(
            f"--space {requested}: {dump.path} has no {EMBEDDING_COLUMNS[requested]} "
            f"(spaces in the dump: {', '.join(present)})"
        )
    return SpaceChoice(requested, None)
