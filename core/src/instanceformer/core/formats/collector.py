"""Pausing Python's cyclic garbage collector while large object trees are built.

Loading an annotation or results file builds hundreds of thousands of lists and dicts; while they are
being created the collector runs every few hundred allocations and rescans the growing, cycle-free tree
(a large share of the loading time). Reference counting keeps freeing memory while the collector is
paused, and objects that die before it resumes are never scanned at all.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block (or the decorated function).

    The previous state is restored on exit, so nested pauses are harmless; for code that builds many
    containers without reference cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
