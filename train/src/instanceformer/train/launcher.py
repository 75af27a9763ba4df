"""Starting N training processes on this node with PyTorch's elastic launcher (what ``torchrun`` runs)."""

from __future__ import annotations

from collections.abc import Sequence

from instanceformer.core.errors import UserError


def launcher_arguments(nproc_per_node: int, worker_arguments: Sequence[str]) -> list[str]:
    """The ``torch.distributed.run`` arguments for a single-node run of ``python -m instanceformer.train``."""
    return [
        "--standalone",
        f"--nproc-per-node={nproc_per_node}",
        "-m",
        "instanceformer.train",
        *worker_arguments,
    ]


def launch_local_workers(nproc_per_node: int, worker_arguments: Sequence[str]) -> None:
    """Run ``ifm-train <worker_arguments>`` in ``nproc_per_node`` processes and wait for them.

    Raises:
        UserError: when a process fails (its own error message is printed by that process).
    """
    from torch.distributed import run as elastic_run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        elastic_run.main(launcher_arguments(nproc_per_node, worker_arguments))
    except ChildFailedError as failure:
        rank, record = failure.get_first_failure()
        raise UserError(
            f"training process rank {rank} of {nproc_per_node} failed with exit status {record.exitcode} "
            "(its message is printed above)"
        ) from None
