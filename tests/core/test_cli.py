"""Tests of the shared command-line plumbing and of every stage tool's help and version."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from instanceformer.core.cli import create_app, run_app
from instanceformer.core.errors import FormatError, UserError

STAGE_TOOLS = {
    "ifm-prep": "instanceformer.dataprep.cli",
    "ifm-train": "instanceformer.train.cli",
    "ifm-infer": "instanceformer.infer.cli",
    "ifm-submit": "instanceformer.submit.cli",
    "ifm-analysis": "instanceformer.analysis.cli",
}


def _command_names(app: typer.Typer) -> list[str]:
    names = []
    for command in app.registered_commands:
        names.append(command.name or command.callback.__name__.replace("_", "-"))
    for group in app.registered_groups:
        names.append(group.name or group.typer_instance.info.name)
    return names


@pytest.mark.parametrize("tool", sorted(STAGE_TOOLS))
def test_every_command_has_help(tool: str, capsys) -> None:
    app = importlib.import_module(STAGE_TOOLS[tool]).app
    assert run_app(app, ["--help"]) == 0
    names = _command_names(app)
    assert "env" in names
    for name in names:
        assert run_app(app, [name, "--help"]) == 0, name
    output = capsys.readouterr().out
    assert "Usage" in output


@pytest.mark.parametrize("tool", sorted(STAGE_TOOLS))
def test_console_script_version(tool: str) -> None:
    executable = shutil.which(tool, path=str(Path(sys.executable).parent))
    assert executable is not None, f"{tool} is not installed next to {sys.executable}"
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip() == f"{tool} 0.1.0"


def test_env_command_prints_the_environment(capsys) -> None:
    app = importlib.import_module(STAGE_TOOLS["ifm-train"]).app
    assert run_app(app, ["env"]) == 0
    output = capsys.readouterr().out
    assert "instanceformer-core" in output
    assert "torch" in output


def _failing_app() -> typer.Typer:
    app = create_app("ifm-test", "instanceformer-core", "A tool for tests.")

    @app.command()
    def load(path: Path) -> None:
        """Read a JSON file."""
        try:
            json.loads(path.read_text())
        except json.JSONDecodeError as problem:
            raise FormatError(path, None, None, f"not valid JSON ({problem.msg})") from None

    @app.command()
    def refuse() -> None:
        """Always refuse."""
        raise UserError("refused: nothing to do")

    return app


def test_user_error_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert run_app(_failing_app(), ["load", str(broken)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "broken.json" in lines[0]
    assert "Traceback" not in captured.err


def test_missing_file_is_a_user_error(tmp_path, capsys) -> None:
    assert run_app(_failing_app(), ["load", str(tmp_path / "absent.json")]) == 2
    error = capsys.readouterr().err
    assert "absent.json" in error and "Traceback" not in error


def test_debug_shows_the_traceback(capsys) -> None:
    assert run_app(_failing_app(), ["--debug", "refuse"]) == 2
    error = capsys.readouterr().err
    assert "Traceback" in error
    assert "error: refused: nothing to do" in error


def test_usage_errors_exit_2(capsys) -> None:
    assert run_app(_failing_app(), ["no-such-command"]) == 2
    assert run_app(_failing_app(), ["load"]) == 2


def test_bugs_keep_their_traceback() -> None:
    app = create_app("ifm-test", "instanceformer-core", "A tool for tests.")

    @app.command()
    def crash() -> None:
        """Fail with a programming error."""
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_app(app, ["crash"])
