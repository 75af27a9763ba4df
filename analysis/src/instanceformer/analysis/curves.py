"""Training curves from ``metrics.jsonl``: loss terms, learning rates, validation metrics and the rest.

Every record is flattened (``{"loss": {"class": 1.2}}`` -> ``loss/class``); every numeric leaf except
``step`` and ``epoch`` is a series over ``step`` (the record's position when a record has no step).
Records of kind ``validation`` put their series in the validation panel; negative AP/AR values (the
evaluator's "not available") are left out. Auxiliary loss terms of earlier decoder layers
(``loss/<term>_<layer>``) are hidden unless a ``--series`` pattern selects them.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instanceformer.analysis.media import save_figure
from instanceformer.core.errors import UserError
from instanceformer.core.runs import read_metrics

PANELS = ("loss", "lr", "validation", "other")
_AUXILIARY_TERM = re.compile(r"^loss/.+_\d+$")
_AXIS_KEYS = ("step", "epoch")
LINE_STYLES = ("-", "--", ":", "-.")


@dataclass
class RunCurves:
    """The series of one run: ``{series name: ([steps], [values])}`` and the panel of each series."""

    name: str
    source: Path
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    panels: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, panel: str, step: float, value: float) -> None:
        """Append one point of a series."""
        steps, values = self.series.setdefault(name, ([], []))
        steps.append(step)
        values.append(value)
        self.panels.setdefault(name, panel)


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}/"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _panel(name: str, kind: Any) -> str:
    if kind == "validation":
        return "validation"
    head = name.split("/", 1)[0]
    if head in ("loss", "lr"):
        return head
    if head.startswith("loss") or head.endswith("_loss"):
        return "loss"
    if re.match(r"^(AP|AR)", name):
        return "validation"
    return "other"


def metrics_file(path: str | Path) -> Path:
    """``path`` itself if it is a file, else ``path/metrics.jsonl`` of a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: no such metrics file (expected a run folder or its metrics.jsonl)")
    return path


def read_run_curves(path: str | Path, name: str | None = None) -> RunCurves:
    """The series of one run folder or ``metrics.jsonl``; a one-line error if it has no numeric series."""
    source = metrics_file(path)
    run_name = name or (source.parent.name if source.name == "metrics.jsonl" else source.stem)
    curves = RunCurves(run_name, source)
    for position, record in enumerate(read_metrics(source)):
        step_value = record.get("step")
        step = (
            float(step_value)
            if isinstance(step_value, int | float) and not isinstance(step_value, bool)
            else float(position)
        )
        kind = record.get("kind")
        for series, value in _flatten(record).items():
            if series in _AXIS_KEYS:
                continue
            panel = _panel(series, kind)
            if panel == "validation" and value < 0 and re.match(r"^(AP|AR)", series):
                continue
            curves.add(series, panel, step, value)
    if not curves.series:
        raise UserError(f"{source}: expected JSON records with numeric values (found no series to plot)")
    return curves


def select_series(names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """The series names to plot: those matching any glob pattern, or all but auxiliary loss terms."""
    if patterns:
        return [name for name in names if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]
    return [name for name in names if not _AUXILIARY_TERM.match(name)]


def write_curves_figure(
    runs: Sequence[RunCurves], out: str | Path, *, patterns: Sequence[str] = (), log_loss: bool = True
) -> list[str]:
    """Plot the runs' series, one panel per group (loss, lr, validation, other), runs overlaid.

    Colour identifies the series, line style the run.

    Args:
        runs: the runs, from :func:`read_run_curves`.
        out: the PNG path.
        patterns: glob patterns of series names to plot (default: all but auxiliary loss terms).
        log_loss: logarithmic y axis for the loss panel when all its values are positive.

    Returns:
        The plotted series names.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels_of: dict[str, str] = {}
    for run in runs:
        for name, panel in run.panels.items():
            panels_of.setdefault(name, panel)
    chosen = select_series(sorted(panels_of), patterns)
    if not chosen:
        raise UserError(
            f"--series: no series matches {', '.join(patterns)} (series: {', '.join(sorted(panels_of))})"
        )
    used_panels = [panel for panel in PANELS if any(panels_of[name] == panel for name in chosen)]
    columns = min(2, len(used_panels))
    rows = math.ceil(len(used_panels) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(7.5 * columns, 4.2 * rows), squeeze=False)
    colormap = plt.get_cmap("tab20")
    for position, panel in enumerate(used_panels):
        axes = grid.flat[position]
        names = [name for name in chosen if panels_of[name] == panel]
        positive = True
        for index, name in enumerate(names):
            for run_index, run in enumerate(runs):
                if name not in run.series:
                    continue
                steps, values = run.series[name]
                positive = positive and all(value > 0 for value in values)
                label = name if len(runs) == 1 else f"{run.name}: {name}"
                axes.plot(
                    steps,
                    values,
                    color=colormap(index % 20),
                    linestyle=LINE_STYLES[run_index % len(LINE_STYLES)],
                    marker="o" if len(steps) < 30 else None,
                    markersize=3,
                    linewidth=1.2,
                    label=label,
                )
        if panel == "loss" and log_loss and positive:
            axes.set_yscale("log")
        axes.set_title(
            {"loss": "loss terms", "lr": "learning rate", "validation": "validation", "other": "other"}[panel]
        )
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=6, ncol=2 if len(names) * len(runs) > 8 else 1)
    for position in range(len(used_panels), rows * columns):
        grid.flat[position].set_visible(False)
    title = ", ".join(
        f"{run.name} ({LINE_STYLES[index % len(LINE_STYLES)]})" for index, run in enumerate(runs)
    )
    figure.suptitle(f"training curves: {title}", fontsize=10)
    figure.tight_layout()
    save_figure(figure, out)
    return chosen
