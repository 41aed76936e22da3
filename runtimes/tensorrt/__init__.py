"""The TensorRT backend: the runtime that runs an engine (``runtime``), the engine build
(``build``), its plan with no TensorRT needed (``plan``), the engine file and its sidecar
(``engine_file``) and the backend's record (``record``). The plugin is in
:mod:`mgdn_edge.plugins`."""
