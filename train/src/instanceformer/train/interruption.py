"""Stopping a training run on Ctrl-C (SIGINT) at a step boundary.

The first SIGINT only asks the loop to stop: the optimiser step in progress finishes, the trainer saves a
checkpoint at that step and raises :class:`TrainingInterruptedError`. Stopping inside a step would leave a
half-updated model (BatchNorm statistics, optimiser moments) and random states that a checkpoint of the
previous step does not describe. A second SIGINT stops at once, without saving.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

INTERRUPTED_EXIT_STATUS = 130


class TrainingInterruptedError(Exception):
    """Training stopped on SIGINT.

    Attributes:
        outcome: what happened to the run's state, e.g. ``interrupted after step 3: saved ...``.
        resumable: the run folder holds a checkpoint that ``--resume`` continues from.
        folder_exists: the run folder exists (false when no optimiser step of a new run completed).
    """

    def __init__(self, outcome: str, *, resumable: bool, folder_exists: bool):
        super().__init__(outcome)
        self.outcome = outcome
        self.resumable = resumable
        self.folder_exists = folder_exists


class StopRequest:
    """While entered (in the main thread), the first SIGINT sets :attr:`requested` instead of raising.

    The handler it replaces comes back at the first SIGINT, so a second one raises
    :class:`KeyboardInterrupt` at once, and on exit. Outside the main thread nothing is installed and
    SIGINT raises as usual.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, self._request)
            self._previous = signal.default_int_handler if previous is None else previous
            self._installed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._restore()

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False
