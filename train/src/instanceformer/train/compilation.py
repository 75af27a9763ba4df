"""``train.compile``: the training forward through ``torch.compile``, with an eager fallback.

Compilation happens at the first call of each new input shape. When it fails (no C++ compiler for the
CPU backend, an operator the compiler cannot handle, ...) the same inputs are run eagerly: if that
succeeds, the failure was the compiler's, so the forward stays eager for the rest of the run and
:attr:`CompiledForward.fallback_reason` says why; if it fails too, the eager error is raised, as without
compilation. Parameters and state-dict keys are those of the wrapped module: checkpoints do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class CompiledForward:
    """Calls ``module`` through ``torch.compile(module)`` until compiling fails once, then eagerly.

    Args:
        module: the network to run (the model, or its DistributedDataParallel wrapper).
        on_fallback: called once with a one-line reason when the forward falls back to eager.
    """

    def __init__(self, module: nn.Module, on_fallback: Callable[[str], None] | None = None):
        self.module = module
        self.compiled: Callable[..., Any] | None = torch.compile(module)
        self.fallback_reason: str | None = None
        self._on_fallback = on_fallback

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The module's output for ``args`` and ``kwargs``."""
        if self.compiled is None:
            return self.module(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except Exception as error:
            outputs = self.module(*args, **kwargs)
            self.compiled = None
            self.fallback_reason = _first_line(error)
            if self._on_fallback is not None:
                self._on_fallback(self.fallback_reason)
            return outputs
