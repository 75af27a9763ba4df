"""Shared command-line plumbing for the stage tools (``ifm-prep``, ``ifm-train``, ...).

Every stage builds its Typer application with :func:`create_app` and runs it with :func:`run_app`, so
all tools share the same ``--version`` and ``--debug`` options, the ``env`` command and the error path:
a :class:`~instanceformer.core.errors.UserError` or a file-system error (a missing or unreadable file, a
full disk, a read-only folder, a refused permission) prints one line on standard error and exits with
status 2; an interrupt (Ctrl-C, SIGINT) prints one line and exits with status 130. ``--debug``, accepted
anywhere on the command line, adds the traceback.
"""

from __future__ import annotations

import platform
import sys
import traceback
from collections.abc import Sequence
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from instanceformer.core.errors import UserError
from instanceformer.core.versions import TOOLKIT_DISTRIBUTIONS, distribution_version

DEBUG_OPTION = "--debug"
INTERRUPTED_STATUS = 130

OptionValue = TypeVar("OptionValue")

error_console = Console(stderr=True, highlight=False)


class _CliState:
    """Options of the application callback that the error path needs after the command has run."""

    debug = False


def debug_requested() -> bool:
    """Whether the running command was given ``--debug`` (a command that reports a failure itself prints
    the traceback then)."""
    return _CliState.debug


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
        debug: bool = typer.Option(
            False, DEBUG_OPTION, help="Show the full traceback on errors (accepted anywhere on the line)."
        ),
    ) -> None:
        if debug:
            _CliState.debug = True

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

    Expected failures (a :class:`UserError`, any ``OSError``) print ``error: <one line>`` on standard
    error and return 2; an interrupt prints ``error: interrupted`` and returns 130. ``--debug`` may come
    before or after the command's name (everything after a ``--`` is left as it is).
    """
    arguments, _CliState.debug = _without_debug_option(list(sys.argv[1:] if argv is None else argv))
    try:
        app(args=arguments, prog_name=app.info.name)
    except SystemExit as stop:
        interrupt = _interrupt_behind(stop)
        if interrupt is not None:
            return _report_interrupt(interrupt)
        return _exit_status(stop.code)
    except KeyboardInterrupt as interrupt:
        return _report_interrupt(interrupt)
    except (UserError, OSError) as problem:
        _print_traceback(problem)
        error_console.print(f"error: {_one_line(problem)}", soft_wrap=True, markup=False)
        return 2
    return 0


def renamed_option(
    value: OptionValue | None, former_value: OptionValue | None, name: str, former_name: str
) -> OptionValue | None:
    """The value of an option given under its name or under its former name (a hidden alias).

    The former name still works and prints a one-line deprecation warning on standard error; giving both
    is a :class:`UserError`.
    """
    if former_value is None:
        return value
    if value is not None:
        raise UserError(f"{name} and {former_name}: give one ({former_name} is the former name of {name})")
    deprecation_warning(former_name, name)
    return former_value


def deprecation_warning(former_name: str, name: str, note: str = "") -> None:
    """Print ``warning: <former_name> is deprecated; use <name>`` (and ``note``) on standard error."""
    message = f"warning: {former_name} is deprecated; use {name}" + (f" ({note})" if note else "")
    error_console.print(message, soft_wrap=True, markup=False)


def required_option(value: OptionValue | None, name: str, expected: str) -> OptionValue:
    """``value``, or a :class:`UserError` saying that the option ``name`` (``expected``) is missing."""
    if value is None:
        raise UserError(f"{name}: missing option; expected {expected}")
    return value


def _without_debug_option(arguments: list[str]) -> tuple[list[str], bool]:
    """The arguments without ``--debug`` (before any ``--``), and whether it was there."""
    end = arguments.index("--") if "--" in arguments else len(arguments)
    kept = [argument for argument in arguments[:end] if argument != DEBUG_OPTION]
    return kept + arguments[end:], len(kept) != end


def _interrupt_behind(stop: SystemExit) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt that Typer turned into ``SystemExit(130)``, if that is what ``stop`` is."""
    if stop.code != INTERRUPTED_STATUS:
        return None
    cause: BaseException | None = stop
    while cause is not None:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def _report_interrupt(interrupt: KeyboardInterrupt) -> int:
    """Print the one line of an interrupted command (the traceback with ``--debug``); status 130."""
    _print_traceback(interrupt)
    error_console.print("error: interrupted", soft_wrap=True, markup=False)
    return INTERRUPTED_STATUS


def _print_traceback(problem: BaseException) -> None:
    """Print the traceback of ``problem`` on standard error when ``--debug`` was given."""
    if _CliState.debug:
        traceback.print_exception(problem, file=sys.stderr)


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
        where = str(problem.filename)
        if problem.filename2 is not None:
            where = f"{where} -> {problem.filename2}"
        message = f"{where}: {problem.strerror or problem}"
    else:
        message = str(problem)
    return " ".join(message.split())
