"""Run one DynamicFilter op through a built OpenVINO extension, in a child process.

A native library that is corrupt or built against another OpenVINO can kill the process that
loads it (SIGBUS on a truncated file, SIGSEGV on an ABI mismatch) before Python can report
anything. So a library is first loaded by ``python -m mgdn_edge.plugins.openvino_selfcheck LIB``:
load the extension, read a one-DynamicFilter ONNX model, compile, run it and compare with the
PyTorch lean filter. The parent (:func:`run_self_check`) turns a crash or a wrong result into a
one-line reason; the user's own process never loads a library that has not passed.
"""

from __future__ import annotations

import sys
from pathlib import Path

SELF_CHECK_TIMEOUT_S = 600  # a cold child imports torch + openvino; a hung one must still end
TOLERANCE = 1e-5


def run_self_check(library: Path) -> str | None:
    """None when ``library`` passes in a child process, else why not (one line)."""
    from mgdn_edge.plugins.library_cache import run_child_check

    return run_child_check("mgdn_edge.plugins.openvino_selfcheck", library, SELF_CHECK_TIMEOUT_S)


def check(library: str) -> str:
    """Load, compile and run one op; return a summary, raise RuntimeError on a wrong result."""
    import numpy as np
    import openvino as ov
    import torch

    from mgdn_edge.export.dynamic_filter_onnx import standalone_model
    from mgdn_edge.model.dynamic_filter import dynamic_filter_lean

    core = ov.Core()
    core.add_extension(library)
    k, c = 3, 4
    compiled = core.compile_model(core.read_model(standalone_model(k, c).SerializeToString()), "CPU")
    rng = np.random.default_rng(0)
    feat = rng.standard_normal((1, c, 9, 13)).astype(np.float32)
    kernels = rng.standard_normal((1, k * k, 9, 13)).astype(np.float32)
    out = compiled([feat, kernels])[compiled.output(0)]
    expected = dynamic_filter_lean(torch.from_numpy(feat), torch.from_numpy(kernels), k).numpy()
    diff = float(np.max(np.abs(out - expected)))
    if out.shape != expected.shape or not diff <= TOLERANCE:
        raise RuntimeError(
            f"the DynamicFilter op gives wrong results (max abs diff {diff:.3g} > {TOLERANCE} "
            "against the lean filter)"
        )
    return f"ok: max abs diff {diff:.3g}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mgdn_edge.plugins.openvino_selfcheck LIBRARY", file=sys.stderr)
        return 2
    try:
        print(check(argv[0]))
    except Exception as exc:  # the parent reports the last line; keep it the cause
        text = [line for line in str(exc).strip().splitlines() if line.strip()]
        print(f"{type(exc).__name__}: {text[-1] if text else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
