"""Run one DynamicFilter op through a built OpenVINO extension, in a child process.

A native library that is corrupt or built against another OpenVINO can kill the process that
loads it (SIGBUS on a truncated file, SIGSEGV on an ABI mismatch) before Python can report
anything. So a library is first loaded by ``python -m mgdn_edge.plugins.openvino_selfcheck LIB``:
load the extension, read a one-DynamicFilter ONNX model, compile, run it and compare with the
lean filter (its numpy form). The parent (:func:`run_self_check`) turns a crash or a wrong result into a
one-line reason; the user's own process never loads a library that has not passed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mgdn_edge.plugins.library_cache import against_lean_filter, child_main, run_child_check

SELF_CHECK_TIMEOUT_S = 600  # a cold child imports openvino; a hung one must still end
TOLERANCE = 1e-5


def run_self_check(library: Path) -> str | None:
    """None when ``library`` passes in a child process, else why not (one line)."""
    return run_child_check("mgdn_edge.plugins.openvino_selfcheck", library, SELF_CHECK_TIMEOUT_S)


def check(library: str) -> str:
    """Load, compile and run one op; return a summary, raise RuntimeError on a wrong result."""
    import numpy as np
    import openvino as ov

    from mgdn_edge.export.dynamic_filter_function import standalone_model

    core = ov.Core()
    core.add_extension(library)
    k, c = 3, 4
    compiled = core.compile_model(core.read_model(standalone_model(k, c).SerializeToString()), "CPU")
    rng = np.random.default_rng(0)
    feat = rng.standard_normal((1, c, 9, 13)).astype(np.float32)
    kernels = rng.standard_normal((1, k * k, 9, 13)).astype(np.float32)
    out = compiled([feat, kernels])[compiled.output(0)]
    return against_lean_filter(out, feat, kernels, k, TOLERANCE)


def main(argv: list[str]) -> int:
    return child_main(check, "mgdn_edge.plugins.openvino_selfcheck", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
