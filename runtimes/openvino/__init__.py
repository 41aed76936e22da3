"""The OpenVINO backend: the runtime (``runtime``), IR reading and writing with the DynamicFilter
extension (``ir``), ONNX -> IR conversion (``convert``), the compiled-model cache
(``model_cache``), the INT8 compile rules (``int8``) and the backend's record (``record``). Its
quantizer is the NNCF recipe in :mod:`mgdn_edge.calibration.quantize_openvino`; the extension is
in :mod:`mgdn_edge.plugins`."""
