"""Mixed-precision choice: bf16 autocast on CUDA by default, fp32 on CPU unless asked."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from instanceformer.core.config import TrainConfig
from instanceformer.core.errors import ConfigError

_AUTOCAST_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class PrecisionPolicy:
    """How forward passes run: ``name`` is "fp32", "bf16" or "fp16" on ``device``."""

    name: str
    device: torch.device

    @classmethod
    def from_config(cls, train: TrainConfig, device: torch.device) -> PrecisionPolicy:
        """Resolve ``train.precision`` ("auto": bf16 on CUDA, fp32 on CPU) for ``device``."""
        name = train.precision
        if name == "auto":
            name = "bf16" if device.type == "cuda" else "fp32"
        if name == "fp16" and device.type != "cuda":
            raise ConfigError("config key 'train.precision': expected fp32 or bf16 on CPU, got fp16")
        return cls(name, device)

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """The autocast context of a forward pass (a no-op for fp32)."""
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_AUTOCAST_TYPES[self.name])

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A loss scaler, enabled only for fp16 (bf16 keeps fp32's exponent range)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.name == "fp16")
