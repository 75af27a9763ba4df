// Operator schema of multi-scale deformable attention, its CPU kernels, and the Python module
// `instanceformer.ops._C` whose import registers them with the dispatcher.
//
// The fake (meta) kernels and the autograd formula are registered from Python, in the module named by
// set_python_module below; the CUDA kernels live in the separate module `instanceformer.ops._cuda`.

#include <Python.h>
#include <torch/library.h>

#include "ms_deform_attn_cpu.h"

extern "C" {
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_definition = {
      PyModuleDef_HEAD_INIT,
      "_C",
      "CPU kernels of instanceformer::ms_deform_attn (importing registers them).",
      -1,
      nullptr,
  };
  return PyModule_Create(&module_definition);
}
}

TORCH_LIBRARY(instanceformer, library) {
  library.set_python_module("instanceformer.ops.registration");
  library.def(
      "ms_deform_attn(Tensor value, Tensor spatial_shapes, Tensor level_start_index, "
      "Tensor sampling_locations, Tensor attention_weights) -> Tensor",
      {at::Tag::pt2_compliant_tag});
  library.def(
      "ms_deform_attn_backward(Tensor grad_output, Tensor value, Tensor spatial_shapes, "
      "Tensor level_start_index, Tensor sampling_locations, Tensor attention_weights) "
      "-> (Tensor, Tensor, Tensor)",
      {at::Tag::pt2_compliant_tag});
}

TORCH_LIBRARY_IMPL(instanceformer, CPU, library) {
  library.impl("ms_deform_attn", &instanceformer::ops::ms_deform_attn_forward_cpu);
  library.impl("ms_deform_attn_backward", &instanceformer::ops::ms_deform_attn_backward_cpu);
}
