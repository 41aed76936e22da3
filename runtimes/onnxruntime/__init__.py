"""The ONNX Runtime backend: the runtime that runs exported ONNX files with the DynamicFilter op
library (``runtime``) and the backend's record (``record``). Its quantizer is the ONNX Runtime
recipe in :mod:`mgdn_edge.calibration.quantize_onnx`; the op library is in :mod:`mgdn_edge.plugins`."""
