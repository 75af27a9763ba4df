"""``ifm-analysis study``: mean +- std over seeds, differences to a reference variant, bad folders."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from instanceformer.analysis.cli import app
from instanceformer.analysis.study import collect_study, compare, order_variants, study_markdown
from instanceformer.core.cli import run_app
from instanceformer.core.errors import UserError

VALUES = {
    # split -> variant -> AssA and IDSW per seed
    "occlusion": {
        "all-on": ([0.60, 0.62, 0.64], [10, 12, 11]),
        "all-off": ([0.40, 0.45, 0.50], [30, 25, 28]),
        "no-memory": ([0.44, 0.61, 0.52], [20, 9, 15]),
    },
    "default": {"all-on": ([0.7, 0.8, 0.75], [3, 4, 5]), "all-off": ([0.72, 0.78, 0.74], [4, 4, 4])},
}


def _write_study(root: Path) -> None:
    for split, variants in VALUES.items():
        for variant, (assa, idsw) in variants.items():
            for seed, (value, switches) in enumerate(zip(assa, idsw, strict=True), start=1):
                folder = root / split / variant / f"seed{seed}"
                folder.mkdir(parents=True)
                metrics = {"AP": 0.3, "AssA": value, "IDSW": switches, "APheavy": -1.0}
                (folder / "metrics.json").write_text(json.dumps(metrics))


def test_summaries_are_mean_and_sample_std_over_seeds(tmp_path: Path) -> None:
    _write_study(tmp_path)
    summaries = collect_study(tmp_path, ["AssA", "IDSW", "APheavy", "HOTA"])
    found = {(item.split, item.variant): item for item in summaries}
    assert set(found) == {(s, v) for s, variants in VALUES.items() for v in variants}
    on = found["occlusion", "all-on"]
    assert on.seeds == ("seed1", "seed2", "seed3")
    assert on.metrics["AssA"].mean == pytest.approx(0.62)
    assert on.metrics["AssA"].std == pytest.approx(statistics.stdev([0.60, 0.62, 0.64]))
    assert on.metrics["IDSW"].mean == pytest.approx(11.0)
    # -1 (the evaluator's "undefined") and missing keys are no values
    assert on.metrics["APheavy"].mean is None and on.metrics["HOTA"].values == (None, None, None)


def test_separation_needs_every_seed_on_one_side(tmp_path: Path) -> None:
    _write_study(tmp_path)
    found = {(item.split, item.variant): item for item in collect_study(tmp_path, ["AssA", "IDSW"])}
    off = found["occlusion", "all-off"]
    on_assa = compare(found["occlusion", "all-on"].metrics["AssA"], off.metrics["AssA"], "AssA")
    assert on_assa is not None and on_assa.separated and on_assa.better
    assert on_assa.difference == pytest.approx(0.62 - 0.45)
    # fewer ID switches is better
    on_idsw = compare(found["occlusion", "all-on"].metrics["IDSW"], off.metrics["IDSW"], "IDSW")
    assert on_idsw is not None and on_idsw.separated and on_idsw.better and on_idsw.difference < 0
    # overlapping seeds: better on average but not separated
    memory = compare(found["occlusion", "no-memory"].metrics["AssA"], off.metrics["AssA"], "AssA")
    assert memory is not None and memory.better and not memory.separated
    default = compare(
        found["default", "all-on"].metrics["AssA"], found["default", "all-off"].metrics["AssA"], "AssA"
    )
    assert default is not None and not default.separated


def test_markdown_rows_follow_the_requested_order(tmp_path: Path) -> None:
    _write_study(tmp_path)
    summaries = order_variants(collect_study(tmp_path, ["AssA", "IDSW"]), ["all-on", "no-memory", "all-off"])
    assert [(item.split, item.variant) for item in summaries] == [
        ("default", "all-on"),
        ("default", "all-off"),
        ("occlusion", "all-on"),
        ("occlusion", "no-memory"),
        ("occlusion", "all-off"),
    ]
    lines = study_markdown(summaries, ["AssA", "IDSW"], "all-off").splitlines()
    assert lines[0] == "| split | variant | seeds | AssA | IDSW |"
    assert lines[4] == "| occlusion | all-on | 3 | 62.0 ± 2.0 (+17.0*) | 11.0 ± 1.0 (-16.7*) |"
    assert lines[6] == "| occlusion | all-off | 3 | 45.0 ± 5.0 | 27.7 ± 2.5 |"


def test_cli_writes_the_table_and_the_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_study(tmp_path / "study")
    code = run_app(
        app,
        [
            "study",
            str(tmp_path / "study"),
            "--metrics",
            "AssA,IDSW",
            "--reference",
            "all-off",
            "--order",
            "all-on",
        ],
    )
    assert code == 0
    table = (tmp_path / "study" / "study.md").read_text()
    assert "| occlusion | no-memory | 3 |" in table
    data = json.loads((tmp_path / "study" / "study.json").read_text())
    entry = data["splits"]["occlusion"]["all-on"]["metrics"]["AssA"]
    assert entry["values"] == [0.60, 0.62, 0.64] and entry["separated"] is True
    assert "all-on" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--reference", "none-such"], "--reference: no variant 'none-such'"),
        (["--metrics", " , "], "--metrics: expected at least one metric name"),
    ],
)
def test_cli_option_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    _write_study(tmp_path)
    assert run_app(app, ["study", str(tmp_path), *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_folders_and_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no <split>/<variant>/<seed>/metrics.json found"):
        collect_study(tmp_path)
    broken = tmp_path / "occlusion" / "all-on" / "seed1" / "metrics.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"AP": "high"}')
    with pytest.raises(UserError, match=r"metrics.json: field 'AP' is 'high', expected a number"):
        collect_study(tmp_path)
    broken.write_text("[1, 2")
    with pytest.raises(UserError, match="metrics.json: not JSON"):
        collect_study(tmp_path)
