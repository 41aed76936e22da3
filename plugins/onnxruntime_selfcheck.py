"""Run one DynamicFilter node through a built ONNX Runtime op library, in a child process.

A truncated or broken native library kills the process that loads it (SIGBUS, SIGSEGV) before
Python can say anything, so a library is first registered by ``python -m
mgdn_edge.plugins.onnxruntime_selfcheck LIB``: one ``mgdn.DynamicFilter`` node *without* a
function body (so only the library's kernel can run it), compared with the lean filter (its numpy form).
The parent (:func:`run_self_check`) turns a crash or a wrong result into a one-line reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mgdn_edge.plugins.library_cache import against_lean_filter, child_main, run_child_check

SELF_CHECK_TIMEOUT_S = 600  # a cold child imports onnxruntime; a hung one must still end
TOLERANCE = 1e-5


def run_self_check(library: Path) -> str | None:
    """None when ``library`` passes in a child process, else why not (one line)."""
    return run_child_check("mgdn_edge.plugins.onnxruntime_selfcheck", library, SELF_CHECK_TIMEOUT_S)


def check(library: str) -> str:
    """Register ``library``, run one body-less node; return a summary, raise RuntimeError if wrong."""
    import numpy as np
    import onnxruntime as ort

    from mgdn_edge.export.dynamic_filter_function import standalone_model

    k, c = 3, 4
    model = standalone_model(k, c)
    del model.functions[:]  # no portable body: the node runs on the library's kernel or not at all
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.register_custom_ops_library(library)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feat = rng.standard_normal((2, c, 9, 13)).astype(np.float32)
    kernels = rng.standard_normal((2, k * k, 9, 13)).astype(np.float32)
    out = session.run(None, {"feat": feat, "kernels": kernels})[0]
    return against_lean_filter(out, feat, kernels, k, TOLERANCE)


def main(argv: list[str]) -> int:
    return child_main(check, "mgdn_edge.plugins.onnxruntime_selfcheck", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
