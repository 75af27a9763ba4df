"""Loading of the compiled kernels and the device types they serve.

``instanceformer.ops._C`` (built by ``pip install -e ./ops``) defines the operator
``instanceformer::ms_deform_attn`` and its CPU kernels; ``instanceformer.ops._cuda`` (built by
``make ops-cuda``) adds the CUDA kernels. Either may be missing: the public API then falls back to the
PyTorch reference for that device type.
"""

from __future__ import annotations

import importlib

import torch  # noqa: F401  (the extensions link against libtorch, which must be loaded first)

CPU_MODULE = "instanceformer.ops._C"
CUDA_MODULE = "instanceformer.ops._cuda"
REGISTRATION_MODULE = "instanceformer.ops.registration"

_load_errors: dict[str, str] = {}


def _import_extension(module_name: str, build_hint: str) -> str | None:
    """Imports a compiled extension; returns None on success, else a one-line reason."""
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return f"{module_name} is not built ({build_hint})"
        return f"{module_name} failed to load: {error}"
    except ImportError as error:
        return f"{module_name} failed to load: {error}"
    return None


def _load_extensions() -> None:
    """Loads the CPU extension, its fake/autograd registrations, then the CUDA extension."""
    cpu_error = _import_extension(CPU_MODULE, "run `make install` or `pip install -e ./ops`")
    if cpu_error is not None:
        _load_errors["cpu"] = cpu_error
        _load_errors["cuda"] = f"{CUDA_MODULE} needs {CPU_MODULE}, which is unavailable: {cpu_error}"
        return
    importlib.import_module(REGISTRATION_MODULE)
    cuda_error = _import_extension(CUDA_MODULE, "run `make ops-cuda`")
    if cuda_error is not None:
        _load_errors["cuda"] = cuda_error


def kernel_available(device_type: str) -> bool:
    """Whether a compiled kernel of ``instanceformer::ms_deform_attn`` is loaded for ``device_type``.

    ``device_type`` is a ``torch.device`` type such as ``"cpu"`` or ``"cuda"``. For ``"cuda"`` this says
    that the CUDA extension is built and loaded, not that a GPU is present.
    """
    return device_type in ("cpu", "cuda") and device_type not in _load_errors


def kernel_unavailable_reason(device_type: str) -> str | None:
    """Why no compiled kernel serves ``device_type`` (one line), or None when one does."""
    if kernel_available(device_type):
        return None
    return _load_errors.get(device_type, f"no compiled kernel exists for device type '{device_type}'")


_load_extensions()
