"""``train.compile``: the compiled forward, its eager fallback, and the config switch."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from instanceformer.core.config import load_config
from instanceformer.train import compilation
from instanceformer.train.compilation import CompiledForward


class Doubler(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if inputs.dim() != 1:
            raise ValueError(f"expected a vector, got {inputs.dim()} dimensions")
        return 2 * inputs


def _failing_compiler(message: str):  # type: ignore[no-untyped-def]
    def compile_module(module: nn.Module, **_: Any):  # type: ignore[no-untyped-def]
        def compiled(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"{message}\nsecond line of the compiler's report")

        return compiled

    return compile_module


def test_a_compiler_failure_falls_back_to_eager_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compilation.torch, "compile", _failing_compiler("no C++ compiler found"))
    reasons: list[str] = []
    module = Doubler()
    forward = CompiledForward(module, reasons.append)
    assert torch.equal(forward(torch.tensor([1.0, 2.0])), torch.tensor([2.0, 4.0]))
    assert reasons == ["RuntimeError: no C++ compiler found"]
    assert forward.fallback_reason == reasons[0] and forward.compiled is None
    assert torch.equal(forward(torch.tensor([3.0])), torch.tensor([6.0]))
    assert reasons == ["RuntimeError: no C++ compiler found"]  # reported once
    assert module.calls == 2


def test_an_error_of_the_model_itself_is_raised_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compilation.torch, "compile", _failing_compiler("cannot trace"))
    reasons: list[str] = []
    forward = CompiledForward(Doubler(), reasons.append)
    with pytest.raises(ValueError, match="expected a vector"):
        forward(torch.zeros(2, 2))
    assert reasons == [] and forward.compiled is not None


def test_the_compiled_forward_equals_eager() -> None:
    module = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    forward = CompiledForward(module)
    inputs = torch.randn(5, 4)
    try:
        compiled = forward(inputs)
    finally:
        torch._dynamo.reset()
    if forward.fallback_reason is not None:
        pytest.skip(f"torch.compile is unavailable here: {forward.fallback_reason}")
    torch.testing.assert_close(compiled, module(inputs))


def test_the_switch_is_off_by_default_and_typed() -> None:
    assert load_config("tiny-cpu").train.compile is False
    assert load_config("tiny-cpu", ["train.compile=true"]).train.compile is True
