// The Python module `instanceformer.ops._cuda`: importing it loads the CUDA kernels of
// instanceformer::ms_deform_attn (registered in ms_deform_attn_cuda.cu). The operator schema comes from
// `instanceformer.ops._C`, which must be imported first.

#include <Python.h>

extern "C" {
PyMODINIT_FUNC PyInit__cuda(void) {
  static struct PyModuleDef module_definition = {
      PyModuleDef_HEAD_INIT,
      "_cuda",
      "CUDA kernels of instanceformer::ms_deform_attn (importing registers them).",
      -1,
      nullptr,
  };
  return PyModule_Create(&module_definition);
}
}
