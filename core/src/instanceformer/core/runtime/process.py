"""This process's place in a run started by ``torchrun`` (or one process when it was not)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessInfo:
    """This process's place in the run: global ``rank``, ``local_rank`` on its node, ``world_size``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes the outputs and draws the progress bar."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def process_info(environ: Mapping[str, str] | None = None) -> ProcessInfo:
    """Read ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (set by torchrun) from the environment.

    Without ``WORLD_SIZE`` the process runs alone. Without ``LOCAL_RANK`` (a launcher that sets only the
    global variables) the local rank is the global rank, which is right on a single node.
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return ProcessInfo()
    rank = int(environ.get("RANK", "0"))
    return ProcessInfo(
        rank=rank,
        local_rank=int(environ.get("LOCAL_RANK", str(rank))),
        world_size=int(environ["WORLD_SIZE"]),
    )


def launched_by_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs under torchrun (its launcher sets ``TORCHELASTIC_RUN_ID``)."""
    environ = os.environ if environ is None else environ
    return "TORCHELASTIC_RUN_ID" in environ or "LOCAL_RANK" in environ
