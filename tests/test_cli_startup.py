"""The stage tools start without their heavy dependencies: ``--help`` of every command loads no PyTorch,
matplotlib, scikit-learn, SciPy or imageio, and ``ifm-infer evaluate`` / ``ifm-submit validate`` run
to the end without PyTorch.

Each check runs in a fresh interpreter, which records the modules it loaded when the command is done.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from instanceformer.core.formats import write_annotations, write_results_json
from tests.support.evaluation_cases import EvaluationCaseSpec, synthetic_evaluation_case

STAGES = ("dataprep", "train", "infer", "submit", "analysis")
HEAVY_FOR_HELP = ("torch", "torchvision", "matplotlib", "sklearn", "scipy", "imageio")
TORCH = (
    "torch",
    "torchvision",
    "instanceformer.ops",
    "instanceformer.core.model",
    "instanceformer.core.engine",
)

_RUN_AND_RECORD = """
import contextlib, io, json, sys
from instanceformer.core.cli import run_app
from instanceformer.{stage}.cli import app
record, runs = sys.argv[1], json.loads(sys.argv[2])
statuses = []
with contextlib.redirect_stdout(io.StringIO()):
    for arguments in runs:
        statuses.append(run_app(app, arguments))
with open(record, "w") as stream:
    json.dump({{"statuses": statuses, "modules": sorted(sys.modules)}}, stream)
"""

_COMMAND_NAMES = """
import json
from instanceformer.{stage}.cli import app
print(json.dumps([command.name or command.callback.__name__ for command in app.registered_commands]))
"""


def _run(stage: str, runs: list[list[str]], tmp_path: Path) -> dict:
    """Run the stage's application on each argument list in one fresh interpreter; its record."""
    record = tmp_path / f"{stage}_modules.json"
    script = _RUN_AND_RECORD.format(stage=stage)
    subprocess.run([sys.executable, "-c", script, str(record), json.dumps(runs)], check=True, timeout=300)
    return json.loads(record.read_text())


def _loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        {prefix for prefix in prefixes for name in modules if name == prefix or name.startswith(f"{prefix}.")}
    )


def _command_names(stage: str) -> list[str]:
    script = _COMMAND_NAMES.format(stage=stage)
    completed = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return json.loads(completed.stdout)


@pytest.mark.parametrize("stage", STAGES)
def test_help_of_every_command_loads_no_heavy_module(stage: str, tmp_path: Path) -> None:
    commands = _command_names(stage)
    assert "env" in commands and len(commands) > 1
    runs = [["--help"], *([command, "--help"] for command in commands)]
    record = _run(stage, runs, tmp_path)
    assert record["statuses"] == [0] * len(runs)
    assert _loaded(record["modules"], HEAVY_FOR_HELP) == []


@pytest.fixture(scope="module")
def evaluation_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small ground-truth file and valid results for it (every category known, every track masked)."""
    spec = EvaluationCaseSpec(
        num_videos=3, num_frames=4, null_prediction_probability=0.0, unknown_category_probability=0.0
    )
    dataset, results = synthetic_evaluation_case(5, spec)
    folder = tmp_path_factory.mktemp("evaluation")
    annotations = write_annotations(dataset, folder / "instances.json")
    return write_results_json(results, folder / "results.json"), annotations


def test_evaluate_loads_no_torch(evaluation_files: tuple[Path, Path], tmp_path: Path) -> None:
    results, annotations = evaluation_files
    record = _run("infer", [["evaluate", str(results), "--gt", str(annotations)]], tmp_path)
    assert record["statuses"] == [0]
    assert _loaded(record["modules"], TORCH) == []


def test_validate_loads_no_torch(evaluation_files: tuple[Path, Path], tmp_path: Path) -> None:
    results, annotations = evaluation_files
    record = _run("submit", [["validate", str(results), "--gt", str(annotations)]], tmp_path)
    assert record["statuses"] == [0]
    assert _loaded(record["modules"], TORCH) == []


def test_the_record_sees_modules_a_command_loads(tmp_path: Path) -> None:
    record = _run("infer", [["env"]], tmp_path)  # the environment table asks PyTorch for its version
    assert record["statuses"] == [0]
    assert {"torch", "torchvision"} <= set(_loaded(record["modules"], TORCH))
