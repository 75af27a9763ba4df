"""The embedding figure: a 2-d map of instance embeddings beside the intra/inter-track distance histogram.

The figure plots one embedding space (:mod:`.embedding_spaces`); the separation number is computed for
every space the dump holds and shown in the title and the sidecar JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from instanceformer.analysis.categories import category_label
from instanceformer.analysis.dumps import AnalysisDump
from instanceformer.analysis.embedding_spaces import available_spaces, choose_space, space_embeddings
from instanceformer.analysis.media import save_figure
from instanceformer.analysis.palette import color_of
from instanceformer.analysis.projection import project_embeddings
from instanceformer.analysis.separation import Separation, pair_distances, track_separation
from instanceformer.core.errors import UserError
from instanceformer.core.io import write_json_atomic

COLOR_MODES = ("track", "category", "frame")
MAX_LEGEND_ENTRIES = 20


@dataclass(frozen=True)
class EmbeddingReport:
    """What :func:`write_embedding_figure` computed and wrote.

    Attributes:
        separation: the intra/inter-track distances and their ratio in the plotted space.
        figure: the PNG.
        sidecar: the JSON beside it (``<figure>.json``).
        perplexity: the t-SNE perplexity used, or None for PCA.
        space: the plotted space, ``contrastive`` or ``decoder``.
        separations: the separation of every space the dump holds, contrastive first.
        dimensions: the embedding width of every space the dump holds.
    """

    separation: Separation
    figure: Path
    sidecar: Path
    perplexity: float | None
    space: str
    separations: dict[str, Separation]
    dimensions: dict[str, int]


def _legend_label(dump: AnalysisDump, track_id: int, names: Mapping[int, str]) -> str:
    rows = dump["track_ids"] == track_id
    category_id = int(dump["category_ids"][rows][0])
    return f"track {track_id}: {category_label(category_id, names)}"


def _scatter(axes, points: np.ndarray, dump: AnalysisDump, color_by: str, names: Mapping[int, str]) -> None:
    if color_by == "frame":
        frames = dump["frame_indices"].numpy()
        drawn = axes.scatter(points[:, 0], points[:, 1], c=frames, cmap="viridis", s=14)
        axes.figure.colorbar(drawn, ax=axes, label="frame index")
        return
    column = "track_ids" if color_by == "track" else "category_ids"
    keys = sorted({int(value) for value in dump[column].tolist()})
    for position, key in enumerate(keys):
        rows = (dump[column] == key).numpy()
        label = _legend_label(dump, key, names) if color_by == "track" else category_label(key, names)
        axes.scatter(
            points[rows, 0],
            points[rows, 1],
            color=color_of(key),
            s=14,
            label=label if position < MAX_LEGEND_ENTRIES else None,
        )
    if keys:
        title = (
            f"{color_by} (first {MAX_LEGEND_ENTRIES} of {len(keys)})"
            if len(keys) > MAX_LEGEND_ENTRIES
            else color_by
        )
        axes.legend(title=title, fontsize=7, title_fontsize=8, loc="best", markerscale=1.2)


def _histogram(axes, embeddings: torch.Tensor, track_ids: torch.Tensor, separation: Separation) -> None:
    intra, inter = pair_distances(embeddings, track_ids)  # [P], [Q]
    bins = np.linspace(0.0, 2.0, 41)
    axes.hist(
        inter.numpy(), bins=bins, alpha=0.6, density=True, color="tab:orange", label="inter-track pairs"
    )
    axes.hist(intra.numpy(), bins=bins, alpha=0.6, density=True, color="tab:blue", label="intra-track pairs")
    axes.axvline(separation.inter_track_distance, color="tab:orange", linestyle="--")
    axes.axvline(separation.intra_track_distance, color="tab:blue", linestyle="--")
    axes.set_xlabel("cosine distance")
    axes.set_ylabel("density")
    axes.set_title(
        f"separation {separation.separation:.2f} = inter {separation.inter_track_distance:.3f}"
        f" / intra {separation.intra_track_distance:.3f}",
        fontsize=9,
    )
    axes.legend(fontsize=7)


def write_embedding_figure(
    dump: AnalysisDump,
    out: str | Path,
    *,
    names: Mapping[int, str],
    color_by: str = "track",
    method: str = "tsne",
    perplexity: float = 30.0,
    video_id: int | None = None,
    space: str | None = None,
) -> EmbeddingReport:
    """Project a dump's embeddings of one space and write the figure and its sidecar JSON.

    Args:
        dump: a loaded ``embeddings`` dump.
        out: the PNG path; the sidecar JSON is ``out`` with suffix ``.json``.
        names: ``{category id: name}`` for the legend.
        color_by: ``track``, ``category`` or ``frame``.
        method: ``tsne`` or ``pca``.
        perplexity: t-SNE perplexity.
        video_id: only this video's rows, or all rows.
        space: ``contrastive`` or ``decoder``; by default contrastive when the dump holds it.

    Returns:
        The separation numbers of every space and the written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if color_by not in COLOR_MODES:
        raise UserError(f"--color-by: expected one of {', '.join(COLOR_MODES)}, got {color_by!r}")
    space = choose_space(dump, space).space
    if video_id is not None:
        dump = dump.for_video(video_id)
    spaces = available_spaces(dump)
    separations = {name: track_separation(space_embeddings(dump, name), dump["track_ids"]) for name in spaces}
    dimensions = {name: int(space_embeddings(dump, name).shape[1]) for name in spaces}
    separation = separations[space]
    embeddings = space_embeddings(dump, space)  # [N, dimension]
    points, used_perplexity = project_embeddings(embeddings.numpy(), method, perplexity)  # [N, 2]
    figure, (map_axes, histogram_axes) = plt.subplots(1, 2, figsize=(13, 5.5), width_ratios=(1.3, 1))
    _scatter(map_axes, points, dump, color_by, names)
    method_name = "t-SNE" if method == "tsne" else "PCA"
    detail = f", perplexity {used_perplexity:.1f}" if used_perplexity is not None else ""
    scope = f"video {video_id}" if video_id is not None else f"{len(dump.video_ids())} videos"
    map_axes.set_title(
        f"{method_name} of {separation.num_rows} {space} embeddings, {separation.num_tracks} tracks "
        f"({scope}{detail})",
        fontsize=9,
    )
    map_axes.set_xticks([])
    map_axes.set_yticks([])
    _histogram(histogram_axes, embeddings, dump["track_ids"], separation)
    numbers = ", ".join(f"{name} {separations[name].separation:.2f}" for name in spaces)
    figure.suptitle(f"{dump.path.name}: {space} embeddings (separation: {numbers})", fontsize=11)
    figure.tight_layout()
    out = Path(out)
    save_figure(figure, out)
    sidecar = write_json_atomic(
        out.with_suffix(".json"),
        {
            **separation.to_json(),
            "space": space,
            "dimension": dimensions[space],
            "separations": {
                name: {**separations[name].to_json(), "dimension": dimensions[name]} for name in spaces
            },
            "source": str(dump.path),
            "video_id": video_id,
            "method": method,
            "perplexity": used_perplexity,
            "color_by": color_by,
        },
        indent=2,
    )
    return EmbeddingReport(separation, out, sidecar, used_perplexity, space, separations, dimensions)
