"""Multi-scale deformable attention for the InstanceFormer toolkit.

``ms_deform_attn`` runs the compiled kernels (C++ on CPU, CUDA on GPU) registered as the PyTorch operator
``instanceformer::ms_deform_attn`` and falls back, with one warning, to ``ms_deform_attn_reference``
(plain PyTorch) where no kernel is built. ``kernel_available(device_type)`` says which is used.
"""

from instanceformer.ops._extensions import kernel_available, kernel_unavailable_reason
from instanceformer.ops.attention import ReferenceFallbackWarning, ms_deform_attn
from instanceformer.ops.reference import ms_deform_attn_reference

__all__ = [
    "ReferenceFallbackWarning",
    "kernel_available",
    "kernel_unavailable_reason",
    "ms_deform_attn",
    "ms_deform_attn_reference",
]
