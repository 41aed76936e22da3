"""The ONNX Runtime DynamicFilter op (libmgdn_ort.so) against the float64 unfold oracle.

Most models here carry the node *without* its function body, so ONNX Runtime can only run it
with the library's kernel (a session without the library cannot even be created); the profiler
test checks that the kernel also wins over the body of an exported model's node. The
too-old-onnxruntime path is driven through ctypes with a stand-in OrtApiBase.
"""

from __future__ import annotations

import ctypes
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from filter_cases import SHAPES, oracle, random_inputs, run_with_isa  # noqa: E402
from filter_cases import filter_model as body_less_model  # noqa: E402

from mgdn_edge.export.dynamic_filter_onnx import standalone_model  # noqa: E402


def session(library: Path, model: bytes, **options: object) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.register_custom_ops_library(str(library))
    for name, value in options.items():
        setattr(opts, name, value)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, feat: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    return sess.run(None, {"feat": feat, "kernels": kernels})[0]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_f32_matches_unfold_oracle(ort_ops_library: Path, shape: tuple[int, ...]) -> None:
    n, c, h, w, k = shape
    feat, kernels = random_inputs(n, c, h, w, k, seed=sum(shape))
    out = run(session(ort_ops_library, body_less_model(k, [n, c, h, w], [n, k * k, h, w])), feat, kernels)
    assert out.shape == feat.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, oracle(feat, kernels, k), rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 9),
    h=st.integers(1, 40),
    w=st.integers(1, 90),
    k=st.sampled_from([3, 5, 7]),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_the_oracle(
    ort_ops_library: Path, n: int, c: int, h: int, w: int, k: int, seed: int
) -> None:
    """Symbolic N/H/W (one session per k would do; one per example keeps the test independent)."""
    feat, kernels = random_inputs(n, c, h, w, k, seed)
    sess = session(ort_ops_library, body_less_model(k, ["n", c, "h", "w"], ["n", k * k, "h", "w"]))
    np.testing.assert_allclose(run(sess, feat, kernels), oracle(feat, kernels, k), rtol=1e-5, atol=1e-5)


def test_one_session_many_sizes_and_threads(ort_ops_library: Path) -> None:
    model = standalone_model(5, 6)  # the exported form: node + portable body
    for threads in (1, 2, 3):
        sess = session(ort_ops_library, model.SerializeToString(), intra_op_num_threads=threads)
        for shape in [(1, 6, 12, 9), (2, 6, 40, 71), (1, 6, 64, 64)]:
            feat, kernels = random_inputs(*shape, 5, seed=shape[2] + threads)
            np.testing.assert_allclose(
                run(sess, feat, kernels), oracle(feat, kernels, 5), rtol=1e-5, atol=1e-5
            )


def test_native_kernel_wins_over_the_function_body(ort_ops_library: Path, tmp_path: Path) -> None:
    """ORT's profiler: the node runs as one DynamicFilter kernel, none of the body's Slice/Mul/Add."""
    sess = session(
        ort_ops_library,
        standalone_model(7, 4).SerializeToString(),
        enable_profiling=True,
        profile_file_prefix=str(tmp_path / "ort"),
    )
    feat, kernels = random_inputs(1, 4, 20, 30, 7, seed=1)
    np.testing.assert_allclose(run(sess, feat, kernels), oracle(feat, kernels, 7), rtol=1e-5, atol=1e-5)
    events = json.loads(Path(sess.end_profiling()).read_text())
    ops = {e["args"].get("op_name") for e in events if e.get("cat") == "Node" and "args" in e}
    assert ops == {"DynamicFilter"}


def test_f16_model(ort_ops_library: Path) -> None:
    feat, kernels = random_inputs(2, 6, 19, 45, 7, seed=16)
    feat16, kernels16 = feat.astype(np.float16), kernels.astype(np.float16)
    model = body_less_model(7, [2, 6, 19, 45], [2, 49, 19, 45], np.float16)
    out = run(session(ort_ops_library, model), feat16, kernels16)
    ref = oracle(feat16.astype(np.float32), kernels16.astype(np.float32), 7)
    assert out.dtype == np.float16
    # f32 accumulation, one f16 rounding of the result: error ~ 2^-11 of the magnitude
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_narrower_isa_paths(ort_ops_library: Path, isa: str, tmp_path: Path) -> None:
    """$MGDN_OV_ISA caps the shared kernel's dispatch in this library too (f32 and f16 paths)."""
    feat, kernels = random_inputs(2, 7, 21, 83, 7, seed=7)
    (tmp_path / "model.onnx").write_bytes(body_less_model(7, ["n", 7, "h", "w"], ["n", 49, "h", "w"]))
    (tmp_path / "model16.onnx").write_bytes(
        body_less_model(7, ["n", 7, "h", "w"], ["n", 49, "h", "w"], np.float16)
    )
    script = (
        "import sys, numpy as np, onnxruntime as ort\n"
        "lib, d = sys.argv[1], sys.argv[2]\n"
        "o = ort.SessionOptions(); o.register_custom_ops_library(lib)\n"
        "a, b = (np.load(d + n) for n in ('/feat.npy', '/kernels.npy'))\n"
        "for m, t in (('/model.onnx', np.float32), ('/model16.onnx', np.float16)):\n"
        "    s = ort.InferenceSession(d + m, o, providers=['CPUExecutionProvider'])\n"
        "    out = s.run(None, {'feat': a.astype(t), 'kernels': b.astype(t)})[0]\n"
        "    np.save(d + m.replace('.onnx', '.npy'), out)\n"
    )
    run_with_isa(script, ort_ops_library, tmp_path, isa, feat, kernels)
    np.testing.assert_allclose(
        np.load(tmp_path / "model.npy"), oracle(feat, kernels, 7), rtol=1e-5, atol=1e-5
    )
    ref16 = oracle(
        feat.astype(np.float16).astype(np.float32), kernels.astype(np.float16).astype(np.float32), 7
    )
    got16 = np.load(tmp_path / "model16.npy").astype(np.float64)
    np.testing.assert_allclose(got16, ref16, rtol=2e-3, atol=2e-3 * np.abs(ref16).max())


@pytest.mark.parametrize(
    ("feat_shape", "kernels_shape", "message"),
    [
        (
            (1, 3, 8, 8),
            (1, 25, 8, 8),
            "kernels have 25 channels, expected kernel_size^2 = 49 (kernel_size 7)",
        ),
        ((1, 3, 8, 8), (1, 49, 9, 8), "feat and kernels differ in H (feat [1,3,8,8], kernels [1,49,9,8])"),
        ((1, 3, 8, 8), (2, 49, 8, 8), "feat and kernels differ in N"),
        ((1, 3, 8, 8), (1, 49, 8, 7), "feat and kernels differ in W"),
    ],
)
def test_run_time_shape_errors_name_the_node(
    ort_ops_library: Path, feat_shape: tuple[int, ...], kernels_shape: tuple[int, ...], message: str
) -> None:
    """All-symbolic inputs: shape inference cannot see the mismatch, the kernel refuses it."""
    sess = session(ort_ops_library, body_less_model(7, ["a", "b", "c", "d"], ["e", "f", "g", "h"]))
    feat = np.zeros(feat_shape, np.float32)
    kernels = np.zeros(kernels_shape, np.float32)
    with pytest.raises(Exception, match=re.escape(f"DynamicFilter node 'filter': {message}")) as info:
        run(sess, feat, kernels)
    assert "INVALID_ARGUMENT" in str(info.value)


@pytest.mark.parametrize(
    ("k", "feat_shape", "kernels_shape", "message"),
    [
        (7, [1, 3, 8, 8], [1, 25, 8, 8], "kernels have 25 channels, expected kernel_size^2 = 49"),
        (7, [1, 3, 8, 8], [1, 49, 8, 9], "differ in W (feat [1,3,8,8], kernels [1,49,8,9])"),
        (6, [1, 3, 8, 8], [1, 36, 8, 8], "kernel_size must be odd and in 1..63, got 6"),
        (7, [3, 8, 8], [1, 49, 8, 8], "feat must be 4-D [N,C,H,W], got [3,8,8]"),
    ],
)
def test_static_shape_and_attribute_errors(
    ort_ops_library: Path, k: int, feat_shape: list[int], kernels_shape: list[int], message: str
) -> None:
    """Declared shapes that cannot work: refused with the op's message, at creation or first run.

    (ONNX Runtime treats a failed custom-op shape inference as a warning, so the kernel's own
    check at run time is what reports most of them.)
    """
    with pytest.raises(Exception, match=re.escape(message)):
        sess = session(ort_ops_library, body_less_model(k, feat_shape, kernels_shape))
        run(sess, np.zeros(feat_shape, np.float32), np.zeros(kernels_shape, np.float32))


def test_empty_tensor(ort_ops_library: Path) -> None:
    sess = session(ort_ops_library, body_less_model(3, ["n", 2, "h", "w"], ["n", 9, "h", "w"]))
    out = run(sess, np.zeros((1, 2, 0, 5), np.float32), np.zeros((1, 9, 0, 5), np.float32))
    assert out.shape == (1, 2, 0, 5)


# -- the version contract, without an old onnxruntime ---------------------------------------------
CREATE_STATUS = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
GET_API = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)
GET_VERSION = ctypes.CFUNCTYPE(ctypes.c_void_p)


class FakeApiBase(ctypes.Structure):
    """OrtApiBase: GetApi(version), GetVersionString()."""

    _fields_ = [("GetApi", GET_API), ("GetVersionString", GET_VERSION)]


def register_with_fake_onnxruntime(
    library: Path, newest_api: int
) -> tuple[int | None, list[tuple[int, str]]]:
    """RegisterCustomOps against an "onnxruntime 1.<newest_api>.1" that offers APIs 1..newest_api.

    Its API tables are stand-ins whose only entry is CreateStatus (the first of every version),
    which records (code, message) and returns a marker pointer.
    """
    statuses: list[tuple[int, str]] = []
    marker = 0x5151

    def create_status(code: int, message: bytes) -> int:
        statuses.append((code, message.decode()))
        return marker

    create = CREATE_STATUS(create_status)
    table = (ctypes.c_void_p * 8)(ctypes.cast(create, ctypes.c_void_p).value)
    get_api = GET_API(lambda version: ctypes.addressof(table) if 1 <= version <= newest_api else None)
    version = ctypes.create_string_buffer(f"1.{newest_api}.1".encode())
    base = FakeApiBase(get_api, GET_VERSION(lambda: ctypes.addressof(version)))
    lib = ctypes.CDLL(str(library))
    lib.RegisterCustomOps.restype = ctypes.c_void_p
    lib.RegisterCustomOps.argtypes = [ctypes.c_void_p, ctypes.POINTER(FakeApiBase)]
    result = lib.RegisterCustomOps(ctypes.c_void_p(0x1000), ctypes.byref(base))
    assert result in (None, marker)
    return result, statuses


def test_onnxruntime_older_than_the_api_gets_an_error_status(ort_ops_library: Path) -> None:
    """onnxruntime 1.20: GetApi(21) is null; the library reports through API 20's CreateStatus."""
    result, statuses = register_with_fake_onnxruntime(ort_ops_library, newest_api=20)
    assert result is not None and len(statuses) == 1
    code, message = statuses[0]
    assert code == 1  # ORT_FAIL
    assert "\n" not in message
    assert message == (
        "libmgdn_ort.so needs onnxruntime >= 1.21 (ORT API 21); this onnxruntime 1.20.1 offers API 20: "
        "upgrade onnxruntime or run the portable body"
    )


def test_no_api_table_at_all_is_not_dereferenced(ort_ops_library: Path) -> None:
    """A base that answers every GetApi with null leaves nothing to build a status with: no crash."""
    result, statuses = register_with_fake_onnxruntime(ort_ops_library, newest_api=0)
    assert result is None and statuses == []
