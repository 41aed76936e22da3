"""Property tests: random shapes, dtypes, kernel sizes and attribute/input mismatches thrown at the
DynamicFilter op in every runtime available, against the unfold oracle or the shared refusal.

Runtimes: the torch lean filter (the model's seam), ONNX Runtime on the standalone one-node model
(behind :mod:`mgdn_edge.export.filter_check`, as the onnxruntime backend runs it), OpenVINO with
the native extension (skipped without openvino). One verdict per input: either every runtime
matches the oracle, or every runtime refuses, with the op's own reason.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgdn_edge.core.errors import BackendError, InputError
from mgdn_edge.export.filter_check import (
    check_fed_arrays,
    check_filter_arrays,
    check_onnx_filters,
    filter_problem,
)
from mgdn_edge.model.dynamic_filter import dynamic_filter, dynamic_filter_unfold

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from mgdn_edge.export.dynamic_filter_onnx import build_function, standalone_model  # noqa: E402

KERNEL_SIZES = (1, 3, 5, 7, 9)
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

shapes = st.tuples(
    st.integers(1, 2),
    st.integers(1, 8),
    st.integers(1, 20),
    st.integers(1, 20),
    st.sampled_from(KERNEL_SIZES),
)


def _inputs(n: int, c: int, h: int, w: int, taps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((n, c, h, w)).astype(np.float32),
        rng.standard_normal((n, taps, h, w)).astype(np.float32),
    )


def _oracle(feat: np.ndarray, kernels: np.ndarray, k: int) -> np.ndarray:
    """The unfold oracle in float64: comparisons measure only the runtime's rounding."""
    return dynamic_filter_unfold(
        torch.from_numpy(feat).double(), torch.from_numpy(kernels).double(), k
    ).numpy()


def _dynamic_model(k: int, c: int, attr: int | None = None) -> onnx.ModelProto:
    """The standalone model with every dimension of both inputs dynamic (shapes meet the check at
    run time); ``attr`` overrides the node's kernel_size (the body stays built for ``k``)."""
    model = standalone_model(k, c)
    for value in model.graph.input:
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            dim.dim_param = f"{value.name}_{i}"
    if attr is not None:
        next(a for a in model.graph.node[0].attribute if a.name == "kernel_size").i = attr
    return model


@functools.cache
def _ort_session(k: int, c: int):  # type: ignore[no-untyped-def]
    model = _dynamic_model(k, c)
    fed = check_onnx_filters(model, f"k{k}.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]), fed


def _run_ort(k: int, c: int, feat: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """What the onnxruntime backend does: the shared check on the actual arrays, then the session."""
    session, fed = _ort_session(k, c)
    feeds = {"feat": feat, "kernels": kernels}
    check_fed_arrays(fed, feeds, f"k{k}.onnx")
    return session.run(None, feeds)[0]


# ------------------------------------------------------------------------------------ torch
@SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_torch_lean_matches_oracle(one_thread, shape, seed) -> None:
    n, c, h, w, k = shape
    feat, kernels = _inputs(n, c, h, w, k * k, seed)
    out = dynamic_filter(torch.from_numpy(feat), torch.from_numpy(kernels), k).numpy()
    np.testing.assert_allclose(out, _oracle(feat, kernels, k), rtol=1e-5, atol=1e-4)


@SETTINGS
@given(shape=shapes, delta=st.sampled_from([-1, 1, 2]), bad_k=st.sampled_from([0, -1, 2, 4, 8]))
def test_torch_refuses_what_the_shared_check_refuses(shape, delta, bad_k) -> None:
    n, c, h, w, k = shape
    taps = max(1, k * k + delta) if k > 1 else 2
    feat, kernels = _inputs(n, c, h, w, taps, 0)
    reason = filter_problem(k, feat.shape, kernels.shape)
    assert reason == f"kernels have {taps} channels, expected kernel_size^2 = {k * k} (kernel_size {k})"
    with pytest.raises(InputError, match=r"kernels have \d+ channels, expected kernel_size\^2"):
        dynamic_filter(torch.from_numpy(feat), torch.from_numpy(kernels), k)
    assert (
        filter_problem(bad_k, feat.shape, kernels.shape)
        == f"kernel_size must be odd and positive, got {bad_k}"
    )
    with pytest.raises(InputError, match="kernel_size must be odd and positive"):
        dynamic_filter(torch.from_numpy(feat), torch.from_numpy(kernels), bad_k)
    with pytest.raises(ValueError, match="odd and positive"):
        build_function(bad_k, 17)


# ------------------------------------------------------------------------------ onnxruntime
@SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_onnxruntime_matches_oracle(shape, seed) -> None:
    n, c, h, w, k = shape
    feat, kernels = _inputs(n, c, h, w, k * k, seed)
    np.testing.assert_allclose(_run_ort(k, c, feat, kernels), _oracle(feat, kernels, k), rtol=1e-5, atol=1e-4)


@SETTINGS
@given(
    shape=shapes,
    delta=st.sampled_from([-2, -1, 1, 3]),
    dtype=st.sampled_from([np.float64, np.float16, np.int32, np.int64]),
)
def test_onnxruntime_refuses_mismatches_by_name(shape, delta, dtype) -> None:
    n, c, h, w, k = shape
    taps = k * k + delta if k * k + delta > 0 else k * k + 1
    feat, kernels = _inputs(n, c, h, w, taps, 1)
    with pytest.raises(InputError, match=rf"kernels have {taps} channels, expected kernel_size\^2 = {k * k}"):
        _run_ort(k, c, feat, kernels)
    feat, kernels = _inputs(n, c, h, w, k * k, 1)
    name = np.dtype(dtype).name
    with pytest.raises(InputError, match=rf"feat must be float32, got {name}"):
        _run_ort(k, c, feat.astype(dtype), kernels)
    with pytest.raises(InputError, match=rf"kernels must be float32, got {name}"):
        check_filter_arrays(torch.from_numpy(feat), torch.from_numpy(kernels.astype(dtype)), k)
    # Feat and kernels of different sizes: refused by name, whatever ONNX Runtime would broadcast.
    other = _inputs(n, c, h + 1, w, k * k, 1)[1]
    with pytest.raises(InputError, match=rf"feat and kernels differ in H \(feat {h}, kernels {h + 1}\)"):
        _run_ort(k, c, feat, other)


@SETTINGS
@given(k=st.sampled_from(KERNEL_SIZES), attr=st.sampled_from(KERNEL_SIZES), c=st.integers(1, 8))
def test_node_attribute_against_its_body_and_inputs(k, attr, c) -> None:
    """ONNX Runtime runs the body and never reads kernel_size: the file is refused before a session."""
    if attr == k:
        assert check_onnx_filters(_dynamic_model(k, c, attr), "m.onnx")
        return
    with pytest.raises(
        BackendError, match=rf"kernel_size {attr} but its function body is built for kernel_size {k}"
    ):
        check_onnx_filters(_dynamic_model(k, c, attr), "m.onnx")
    static = standalone_model(k, c)
    static.graph.input[1].type.tensor_type.shape.dim[1].dim_value = attr * attr
    with pytest.raises(
        BackendError, match=rf"kernels have {attr * attr} channels, expected kernel_size\^2 = {k * k}"
    ):
        check_onnx_filters(static, "m.onnx")


# -------------------------------------------------------------------------------- openvino
@pytest.fixture(scope="module")
def ov_core(ov_extension: Path):  # type: ignore[no-untyped-def]
    ov = pytest.importorskip("openvino")
    from mgdn_edge.plugins.openvino_ext import load_openvino_extension

    core = ov.Core()
    load_openvino_extension(core, ov_extension)
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1})
    return core


@functools.cache
def _ov_compiled(core, k: int, c: int):  # type: ignore[no-untyped-def]
    return core.compile_model(core.read_model(_dynamic_model(k, c).SerializeToString(), b""), "CPU")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_openvino_matches_oracle(ov_core, shape, seed) -> None:
    n, c, h, w, k = shape
    feat, kernels = _inputs(n, c, h, w, k * k, seed)
    compiled = _ov_compiled(ov_core, k, c)
    out = compiled([feat, kernels])[compiled.output(0)]
    np.testing.assert_allclose(out, _oracle(feat, kernels, k), rtol=1e-5, atol=1e-4)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from(KERNEL_SIZES), delta=st.sampled_from([-1, 1, 2]), c=st.integers(1, 8))
def test_openvino_refuses_with_the_same_reason(ov_core, k, delta, c) -> None:
    """The C++ op refuses a static mismatch; our error line keeps its reason, which is the shared
    check's reason word for word, and ONNX Runtime's backend refuses the same file for it too."""
    from mgdn_edge.runtimes.openvino.ir import ov_error_line

    taps = max(1, k * k + delta) if k > 1 else 2
    model = standalone_model(k, c)
    model.graph.input[1].type.tensor_type.shape.dim[1].dim_value = taps
    reason = filter_problem(k, [None, c, None, None], [None, taps, None, None])
    assert reason is not None
    with pytest.raises(Exception) as caught:  # OpenVINO raises its own C++ exception types
        ov_core.read_model(model.SerializeToString(), b"")
    assert reason in ov_error_line(caught.value)
    with pytest.raises(
        BackendError, match=reason.replace("^", r"\^").replace("(", r"\(").replace(")", r"\)")
    ):
        check_onnx_filters(model, "m.onnx")
