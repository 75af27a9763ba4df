"""Build of the compiled kernels of instanceformer-ops (metadata lives in pyproject.toml).

``pip install -e ./ops`` (run by ``make install``) builds the C++ CPU extension
``instanceformer.ops._C``. With ``IFM_BUILD_CUDA=1`` (``make ops-cuda``) the CUDA extension
``instanceformer.ops._cuda`` is built as well; that needs a CUDA toolkit (``CUDA_HOME``, which
``make ops-cuda`` defaults to ``/usr/local/cuda``) but no GPU, and fails loudly when the toolkit is
missing or a source does not compile.
``TORCH_CUDA_ARCH_LIST`` selects the GPU architectures (default ``8.0;8.6;9.0+PTX``: A100, A10/RTX 30xx,
H100, and PTX that newer GPUs compile at load time).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from setuptools import setup
from torch.utils import cpp_extension

DEFAULT_CUDA_ARCHITECTURES = "8.0;8.6;9.0+PTX"
CPU_SOURCES = ["csrc/ms_deform_attn_cpu.cpp", "csrc/ms_deform_attn_library.cpp"]
CUDA_SOURCES = ["csrc/ms_deform_attn_cuda.cu", "csrc/cuda_module.cpp"]
HEADERS = [
    "csrc/ms_deform_attn_checks.h",
    "csrc/ms_deform_attn_cpu.h",
    "csrc/ms_deform_attn_sampling.h",
]


def cpu_flags() -> list[str]:
    """Compiler flags of the CPU kernel: optimised, portable (no -march), OpenMP threads on Linux."""
    flags = ["-O3"]
    if sys.platform.startswith("linux"):
        flags.append("-fopenmp")
    return flags


def cpu_extension() -> cpp_extension.CppExtension:
    """The C++ CPU extension ``instanceformer.ops._C`` (operator schema and CPU kernels)."""
    return cpp_extension.CppExtension(
        "instanceformer.ops._C",
        sources=CPU_SOURCES,
        depends=HEADERS,
        extra_compile_args=cpu_flags(),
        extra_link_args=["-fopenmp"] if sys.platform.startswith("linux") else [],
    )


def cuda_wheel_include_dirs() -> list[str]:
    """Include folders of the NVIDIA pip wheels that hold cusparse.h (needed by ATen/cuda/CUDAContext.h)."""
    site_packages = Path(torch.__file__).resolve().parent.parent
    return sorted(str(header.parent) for header in site_packages.glob("nvidia/*/include/cusparse.h"))


def cuda_extension() -> cpp_extension.CUDAExtension:
    """The CUDA extension ``instanceformer.ops._cuda``; fails when no CUDA toolkit is found."""
    if cpp_extension.CUDA_HOME is None:
        raise SystemExit(
            "IFM_BUILD_CUDA=1 but no CUDA toolkit was found: set CUDA_HOME (e.g. /usr/local/cuda)"
        )
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHITECTURES)
    return cpp_extension.CUDAExtension(
        "instanceformer.ops._cuda",
        sources=CUDA_SOURCES,
        depends=HEADERS,
        include_dirs=cuda_wheel_include_dirs(),
        extra_compile_args={"cxx": ["-O3"], "nvcc": ["-O3", "--threads", "0"]},
    )


def extensions() -> list[cpp_extension.CppExtension]:
    """The CPU extension always; the CUDA extension too when IFM_BUILD_CUDA=1."""
    modules = [cpu_extension()]
    if os.environ.get("IFM_BUILD_CUDA") == "1":
        modules.append(cuda_extension())
    return modules


setup(ext_modules=extensions(), cmdclass={"build_ext": cpp_extension.BuildExtension})
