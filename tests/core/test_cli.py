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

from instanceformer.core.cli import create_app, renamed_option, required_option, run_app
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


@pytest.mark.parametrize(
    "arguments",
    [["--debug", "refuse"], ["refuse", "--debug"]],
    ids=["before the command", "after the command"],
)
def test_debug_is_accepted_before_or_after_the_command(arguments: list[str], capsys) -> None:
    assert run_app(_failing_app(), arguments) == 2
    error = capsys.readouterr().err
    assert "Traceback" in error and "error: refused: nothing to do" in error


def test_without_debug_there_is_no_traceback_and_debug_after_dashes_is_an_argument(capsys) -> None:
    assert run_app(_failing_app(), ["refuse"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert run_app(_failing_app(), ["load", "--", "--debug"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --debug:") and "Traceback" not in error


def _interrupted_app() -> typer.Typer:
    app = create_app("ifm-test", "instanceformer-core", "A tool for tests.")

    @app.command()
    def wait() -> None:
        """Be interrupted."""
        raise KeyboardInterrupt

    @app.command()
    def other() -> None:
        """Another command."""

    return app


def test_an_interrupt_is_one_line_and_exit_130(capsys) -> None:
    assert run_app(_interrupted_app(), ["wait"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "error: interrupted\n"
    assert run_app(_interrupted_app(), ["wait", "--debug"]) == 130
    error = capsys.readouterr().err
    assert "Traceback" in error and error.endswith("error: interrupted\n")


def test_a_renamed_option_keeps_its_former_name_as_a_hidden_alias(capsys) -> None:
    assert renamed_option(Path("a.json"), None, "--gt", "--annotations") == Path("a.json")
    assert capsys.readouterr().err == ""
    assert renamed_option(None, Path("b.json"), "--gt", "--annotations") == Path("b.json")
    assert capsys.readouterr().err == "warning: --annotations is deprecated; use --gt\n"
    with pytest.raises(UserError, match="--gt and --annotations: give one"):
        renamed_option(Path("a.json"), Path("b.json"), "--gt", "--annotations")
    assert required_option(Path("a.json"), "--gt", "the annotation file") == Path("a.json")
    with pytest.raises(UserError, match="^--gt: missing option; expected the annotation file$"):
        required_option(None, "--gt", "the annotation file")
