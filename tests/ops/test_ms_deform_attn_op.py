"""The registered operator: opcheck, torch.compile, argument errors and the fallback without the kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from instanceformer.ops import (
    kernel_available,
    kernel_unavailable_reason,
    ms_deform_attn,
    ms_deform_attn_reference,
)
from tests.support.attention_inputs import random_inputs

# The folder that holds tests/: a subprocess started there imports `tests.support`.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
FORWARD = torch.ops.instanceformer.ms_deform_attn.default
BACKWARD = torch.ops.instanceformer.ms_deform_attn_backward.default


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck_forward(dtype: torch.dtype, requires_grad: bool) -> None:
    inputs = random_inputs([(3, 4), (1, 2)], head_channels=5).to("cpu", dtype)
    if requires_grad:
        inputs = inputs.requiring_grad()
    torch.library.opcheck(FORWARD, list(inputs))


def test_opcheck_backward() -> None:
    inputs = random_inputs([(3, 4), (1, 2)], head_channels=5, num_queries=4)
    torch.library.opcheck(BACKWARD, [torch.randn(2, 4, 3 * 5, dtype=torch.float64), *inputs])


def _loss(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    return (
        ms_deform_attn(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
        .square()
        .sum()
    )


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_fullgraph_matches_eager(backend: str) -> None:
    torch._dynamo.reset()
    inputs = random_inputs([(3, 4), (2, 2)], head_channels=4, dtype=torch.float32)
    eager_leaves = inputs.requiring_grad()
    _loss(*eager_leaves).backward()
    compiled_leaves = inputs.requiring_grad()
    compiled = torch.compile(_loss, fullgraph=True, backend=backend)
    loss = compiled(*compiled_leaves)
    loss.backward()
    torch.testing.assert_close(loss, _loss(*inputs))
    for name in ("value", "sampling_locations", "attention_weights"):
        torch.testing.assert_close(getattr(compiled_leaves, name).grad, getattr(eager_leaves, name).grad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: i._replace(value=i.value[0]), r"value must have shape \[N, S, M, D\]"),
        (lambda i: i._replace(spatial_shapes=i.spatial_shapes.int()), "must be int64"),
        (
            lambda i: i._replace(level_start_index=i.level_start_index[:1]),
            r"level_start_index must have shape \[L\]",
        ),
        (
            lambda i: i._replace(sampling_locations=i.sampling_locations[:, :, :, :1]),
            "sampling_locations must have",
        ),
        (lambda i: i._replace(attention_weights=i.attention_weights[..., :1]), "attention_weights must have"),
        (lambda i: i._replace(attention_weights=i.attention_weights.float()), "must share one dtype"),
    ],
)
def test_bad_arguments_raise_one_line_errors(change, message: str) -> None:
    inputs = change(random_inputs([(3, 4), (1, 2)]))
    for function in (ms_deform_attn, ms_deform_attn_reference):
        with pytest.raises(ValueError, match=message) as error:
            function(*inputs)
        assert "\n" not in str(error.value)


def test_the_kernel_rejects_a_level_outside_value() -> None:
    inputs = random_inputs([(3, 4), (1, 2)])
    with pytest.raises(
        RuntimeError, match=r"level 1 \(spatial_shapes 1x2, level_start_index 12\) must lie inside"
    ):
        FORWARD(inputs.value[:, :13], *inputs[1:])


def test_the_kernel_rejects_dtypes_it_does_not_implement() -> None:
    inputs = random_inputs([(2, 2)]).to("cpu", torch.bfloat16)
    with pytest.raises(RuntimeError, match="CPU kernel supports float32 and float64, got BFloat16"):
        ms_deform_attn(*inputs)


def test_the_backward_checks_grad_output() -> None:
    inputs = random_inputs([(2, 2)], num_queries=3)
    with pytest.raises(RuntimeError, match=r"grad_output must have shape \[N, Q, M \* D\] = \[2, 3, 15\]"):
        BACKWARD(torch.zeros(2, 3, 14, dtype=torch.float64), *inputs)


def test_kernel_availability_by_device_type() -> None:
    assert kernel_available("cpu")
    assert kernel_unavailable_reason("cpu") is None
    assert not kernel_available("mps")
    assert "mps" in kernel_unavailable_reason("mps")
    if not kernel_available("cuda"):
        assert "_cuda" in kernel_unavailable_reason("cuda")


FALLBACK_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    sys.modules["instanceformer.ops._C"] = None  # as if the extension had not been built
    import torch
    from instanceformer.ops import (
        ReferenceFallbackWarning, kernel_available, kernel_unavailable_reason, ms_deform_attn,
        ms_deform_attn_reference,
    )
    from tests.support.attention_inputs import random_inputs

    inputs = random_inputs([(3, 4), (1, 2)]).requiring_grad()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = ms_deform_attn(*inputs)
        second = ms_deform_attn(*inputs)
    first.sum().backward()
    expected = ms_deform_attn_reference(*inputs)
    print(json.dumps({
        "cpu_available": kernel_available("cpu"),
        "cuda_available": kernel_available("cuda"),
        "reason": kernel_unavailable_reason("cpu"),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, ReferenceFallbackWarning)],
        "same_numbers": torch.equal(first, expected) and torch.equal(second, expected),
        "has_gradient": inputs.sampling_locations.grad is not None,
    }))
    """
)


def test_without_the_extension_the_reference_runs_with_one_warning() -> None:
    environment = dict(os.environ, PYTHONWARNINGS="default")
    completed = subprocess.run(
        [sys.executable, "-c", FALLBACK_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=REPOSITORY_ROOT,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["cpu_available"] is False
    assert report["cuda_available"] is False
    assert "instanceformer.ops._C" in report["reason"]
    assert len(report["warnings"]) == 1
    assert "no compiled ms_deform_attn kernel for 'cpu'" in report["warnings"][0]
    assert report["same_numbers"] is True
    assert report["has_gradient"] is True


def test_autocast_regions_run_in_float32() -> None:
    inputs = random_inputs([(3, 4), (1, 2)], dtype=torch.float32).requiring_grad()
    low_precision_value = inputs.value.to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = ms_deform_attn(low_precision_value, *inputs[1:])
    assert output.dtype == torch.float32
    expected = ms_deform_attn(low_precision_value.float(), *inputs[1:])
    torch.testing.assert_close(output, expected, rtol=0, atol=0)
    output.sum().backward()
    assert inputs.value.grad.dtype == torch.float32
    assert inputs.sampling_locations.grad is not None
