"""Shared command-line plumbing for the stage tools (``ifm-prep``, ``ifm-train``, ...).

Every stage builds its Typer application with :func:`create_app` and runs it with :func:`run_app`, so
all tools share the same ``--version`` and ``--debug`` options, the ``env`` command and the error path:
a :class:`~instanceformer.core.errors.UserError` (or a missing/unreadable file) prints one line on
standard error and exits with status 2; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import platform
import sys
import traceback
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.table import Table

from instanceformer.core.errors import UserError
from instanceformer.core.versions import TOOLKIT_DISTRIBUTIONS, distribution_version

_USER_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)

error_console = Console(stderr=True, highlight=False)


class _CliState:
    """Options of the application callback that the error path needs after the command has run."""

    debug = False


def create_app(tool_name: str, distribution: str, help_text: str) -> typer.Typer:
    """Create a stage's Typer application with ``--version``, ``--debug`` and the ``env`` command.

    Args:
        tool_name: the console-script name, e.g. ``"ifm-prep"``.
        distribution: the distribution whose version ``--version`` prints.
        help_text: the one-paragraph description shown by ``--help``.
    """
    app = typer.Typer(
        name=tool_name,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"{tool_name} {distribution_version(distribution)}")
            raise typer.Exit()

    @app.callback()
    def _options(
        version: bool = typer.Option(
            False, "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
        debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
    ) -> None:
        _CliState.debug = debug

    @app.command("env")
    def env() -> None:
        """Print the toolkit's package versions and the compute environment."""
        Console().print(environment_table())

    return app


def environment_table() -> Table:
    """A Rich table of toolkit package versions, Python, PyTorch and the available devices."""
    import torch
    import torchvision

    table = Table(title="InstanceFormer toolkit environment", show_header=True)
    table.add_column("item")
    table.add_column("value")
    for distribution in TOOLKIT_DISTRIBUTIONS:
        table.add_row(distribution, distribution_version(distribution))
    table.add_row("python", platform.python_version())
    table.add_row("torch", torch.__version__)
    table.add_row("torchvision", torchvision.__version__)
    table.add_row("cpu threads", str(torch.get_num_threads()))
    cuda = torch.cuda.is_available()
    table.add_row("cuda available", str(cuda))
    if cuda:
        table.add_row("cuda device", torch.cuda.get_device_name(0))
    try:
        from instanceformer import ops

        for device_type in ("cpu", "cuda"):
            table.add_row(
                f"deformable attention kernel ({device_type})", str(ops.kernel_available(device_type))
            )
    except (ImportError, AttributeError):
        table.add_row("deformable attention kernel", "instanceformer-ops not importable")
    return table


def run_app(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run ``app`` on ``argv`` (default: ``sys.argv[1:]``) and return the process exit status.

    Expected failures print ``error: <one line>`` on standard error and return 2.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    _CliState.debug = "--debug" in arguments
    try:
        app(args=arguments, prog_name=app.info.name)
    except SystemExit as stop:
        return _exit_status(stop.code)
    except (UserError, *_USER_OS_ERRORS) as problem:
        if _CliState.debug:
            traceback.print_exc()
        error_console.print(f"error: {_one_line(problem)}", soft_wrap=True, markup=False)
        return 2
    return 0


def _exit_status(code: object) -> int:
    """The process exit status that ``SystemExit(code)`` stands for."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    error_console.print(str(code))
    return 1


def _one_line(problem: BaseException) -> str:
    """The message of ``problem`` on one line (file-system errors name the file)."""
    if isinstance(problem, OSError) and problem.filename is not None:
        message = f"{problem.filename}: {problem.strerror or problem}"
    else:
        message = str(problem)
    return " ".join(message.split())
