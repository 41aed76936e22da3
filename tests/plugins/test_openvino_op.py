"""The native OpenVINO DynamicFilter (libmgdn_openvino.so) against the PyTorch unfold oracle.

The extension is compiled once per pytest cache (incremental CMake build afterwards), then every
test reads a one-node ONNX model through OpenVINO's ONNX frontend, so the frontend mapping, shape
inference and the CPU kernel are all exercised the way an exported MGDN model uses them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mgdn_edge.core.errors import BackendError
from mgdn_edge.model.dynamic_filter import dynamic_filter_lean
from mgdn_edge.plugins import openvino_ext

ov = pytest.importorskip("openvino")
onnx = pytest.importorskip("onnx")
from filter_cases import SHAPES, filter_model, oracle, random_inputs, run_with_isa  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


@pytest.fixture(scope="session")
def core(ov_extension: Path) -> ov.Core:
    core = ov.Core()
    openvino_ext.load_openvino_extension(core, ov_extension)
    return core


def run_model(core: ov.Core, model: bytes, feat: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    compiled = core.compile_model(core.read_model(model), "CPU")
    return compiled([feat, kernels])[compiled.output(0)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_f32_matches_unfold_oracle(core: ov.Core, shape: tuple[int, ...]) -> None:
    n, c, h, w, k = shape
    feat, kernels = random_inputs(n, c, h, w, k, seed=sum(shape))
    out = run_model(core, filter_model(k, [n, c, h, w], [n, k * k, h, w]), feat, kernels)
    assert out.shape == feat.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, oracle(feat, kernels, k), rtol=1e-5, atol=1e-5)


def test_big_output_inside_a_graph(core: ov.Core) -> None:
    """An output >= 16 MiB that feeds another node: the plugin hands the op a 64-byte aligned
    buffer, so the AVX-512 path writes it with streaming stores (the path the micro-benchmark's
    one-node graph never takes); checked against the lean PyTorch filter in float64."""
    n, c, h, w, k = 1, 16, 260, 1040, 7
    feat, kernels = random_inputs(n, c, h, w, k, seed=3)
    node = helper.make_node("DynamicFilter", ["feat", "kernels"], ["filtered"], domain="mgdn", kernel_size=k)
    graph = helper.make_graph(
        [node, helper.make_node("Relu", ["filtered"], ["out"])],
        "filter_relu",
        [
            helper.make_tensor_value_info("feat", TensorProto.FLOAT, [n, c, h, w]),
            helper.make_tensor_value_info("kernels", TensorProto.FLOAT, [n, k * k, h, w]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [n, c, h, w])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("mgdn", 1)]
    )
    compiled = core.compile_model(
        core.read_model(model.SerializeToString()), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    )
    out = compiled([feat, kernels])[compiled.output(0)]
    expected = dynamic_filter_lean(torch.from_numpy(feat).double(), torch.from_numpy(kernels).double(), k)
    np.testing.assert_allclose(out, expected.clamp(min=0).numpy(), rtol=1e-5, atol=1e-5)


def test_dynamic_shapes_and_trt_attributes(core: ov.Core) -> None:
    """Symbolic N/H/W (one compiled model, two image sizes) and the TensorRT-only attributes."""
    model = filter_model(7, ["n", 4, "h", "w"], ["n", 49, "h", "w"], extra_attributes=True)
    compiled = core.compile_model(core.read_model(model), "CPU")
    for shape in [(1, 4, 12, 9), (2, 4, 40, 71)]:
        feat, kernels = random_inputs(*shape, 7, seed=shape[2])
        out = compiled([feat, kernels])[compiled.output(0)]
        np.testing.assert_allclose(out, oracle(feat, kernels, 7), rtol=1e-5, atol=1e-5)


def test_function_backed_node_uses_native_op(core: ov.Core) -> None:
    feat, kernels = random_inputs(1, 3, 11, 19, 5, seed=3)
    model = filter_model(5, [1, 3, 11, 19], [1, 25, 11, 19], extra_attributes=True, function_body=True)
    out = run_model(core, model, feat, kernels)
    np.testing.assert_allclose(out, oracle(feat, kernels, 5), rtol=1e-5, atol=1e-5)


def test_f16_model(core: ov.Core) -> None:
    feat, kernels = random_inputs(1, 6, 19, 45, 7, seed=16)
    feat16, kernels16 = feat.astype(np.float16), kernels.astype(np.float16)
    out = run_model(core, filter_model(7, [1, 6, 19, 45], [1, 49, 19, 45], np.float16), feat16, kernels16)
    ref = oracle(feat16.astype(np.float32), kernels16.astype(np.float32), 7)
    assert out.dtype == np.float16
    # f32 accumulation, one f16 rounding of the result: error ~ 2^-11 of the magnitude
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=2e-3, atol=2e-3 * np.abs(ref).max())


def make_node(
    ov_extension: Path, feat_shape: list[int], kernels_shape: list[int], k: int, dtype: type | ov.Type
) -> ov.Node:
    """The op built directly through the Python API (NodeFactory loads the same extension)."""
    from openvino.utils.node_factory import NodeFactory

    factory = NodeFactory()
    factory.add_extension(str(ov_extension))
    feat = ov.opset13.parameter(feat_shape, dtype)
    kernels = ov.opset13.parameter(kernels_shape, dtype)
    return factory.create("DynamicFilter", [feat.output(0), kernels.output(0)], {"kernel_size": k})


@pytest.mark.parametrize("type_name", ["f16", "bf16"])
def test_evaluate_16_bit(ov_extension: Path, type_name: str) -> None:
    """evaluate() on f16/bf16 tensors directly (the CPU plugin may upconvert them before the op)."""
    feat, kernels = random_inputs(1, 5, 13, 37, 5, seed=5)
    ov_type = ov.Type.f16 if type_name == "f16" else ov.Type.bf16
    torch_type = torch.float16 if type_name == "f16" else torch.bfloat16
    feat_t, kernels_t = torch.from_numpy(feat).to(torch_type), torch.from_numpy(kernels).to(torch_type)
    node = make_node(ov_extension, list(feat.shape), list(kernels.shape), k=5, dtype=ov_type)
    assert node.get_output_element_type(0) == ov_type
    inputs = []
    for t in (feat_t, kernels_t):
        tensor = ov.Tensor(ov_type, ov.Shape(list(t.shape)))
        np.copyto(tensor.data.view(np.uint16), t.view(torch.int16).numpy().view(np.uint16))
        inputs.append(tensor)
    out = ov.Tensor(ov_type, ov.Shape(list(feat.shape)))
    assert node.evaluate([out], inputs)
    got = torch.from_numpy(out.data.view(np.uint16).view(np.int16).copy()).view(torch_type).double().numpy()
    ref = oracle(feat_t.float().numpy(), kernels_t.float().numpy(), 5)
    rel = 2e-3 if type_name == "f16" else 1.6e-2  # one rounding to 11 / 8 significant bits
    np.testing.assert_allclose(got, ref, rtol=rel, atol=rel * np.abs(ref).max())


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_narrower_isa_paths(ov_extension: Path, isa: str, tmp_path: Path) -> None:
    """$MGDN_OV_ISA caps the runtime dispatch, so the AVX2 and baseline loops run on any x86 CI box."""
    feat, kernels = random_inputs(2, 7, 21, 83, 7, seed=7)
    script = (
        "import sys, numpy as np, openvino as ov\n"
        "from openvino.utils.node_factory import NodeFactory\n"
        "f = NodeFactory(); f.add_extension(sys.argv[1])\n"
        "a, b = (np.load(sys.argv[2] + n) for n in ('/feat.npy', '/kernels.npy'))\n"
        "p = [ov.opset13.parameter(x.shape, np.float32) for x in (a, b)]\n"
        "node = f.create('DynamicFilter', [q.output(0) for q in p], {'kernel_size': 7})\n"
        "out = ov.Tensor(np.zeros_like(a))\n"
        "assert node.evaluate([out], [ov.Tensor(a), ov.Tensor(b)])\n"
        "np.save(sys.argv[2] + '/out.npy', out.data)\n"
    )
    run_with_isa(script, ov_extension, tmp_path, isa, feat, kernels)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), oracle(feat, kernels, 7), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kernels_shape", "message"),
    [
        ([1, 25, 8, 8], "kernels have 25 channels, expected kernel_size^2 = 49"),
        ([1, 49, 9, 8], "feat and kernels differ in H"),
        ([2, 49, 8, 8], "feat and kernels differ in N"),
    ],
)
def test_shape_errors_from_onnx(core: ov.Core, kernels_shape: list[int], message: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)):
        core.read_model(filter_model(7, [1, 3, 8, 8], kernels_shape))


@pytest.mark.parametrize(
    ("feat_shape", "kernels_shape", "k", "message"),
    [
        ([1, 3, 8, 8], [1, 36, 8, 8], 6, "kernel_size must be odd and positive, got 6"),
        ([3, 8, 8], [1, 49, 8, 8], 7, "feat must be 4-D"),
    ],
)
def test_attribute_and_rank_errors(
    ov_extension: Path, feat_shape: list[int], kernels_shape: list[int], k: int, message: str
) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)):
        make_node(ov_extension, feat_shape, kernels_shape, k, np.float32)


def test_find_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / openvino_ext.EXTENSION_LIBRARY
    with pytest.raises(BackendError, match=re.escape(str(missing))) as info:
        openvino_ext.find_openvino_extension(missing)
    assert "mgdn-edge build-plugins --openvino" in str(info.value)


def test_find_uses_env_var_and_folders(
    ov_extension: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(openvino_ext.ENV_VAR, str(ov_extension.parent))
    assert openvino_ext.find_openvino_extension() == ov_extension
    monkeypatch.setenv(openvino_ext.ENV_VAR, str(tmp_path))
    with pytest.raises(
        BackendError,
        match=re.escape(f"{tmp_path / openvino_ext.EXTENSION_LIBRARY} (from the ${openvino_ext.ENV_VAR})"),
    ):
        openvino_ext.find_openvino_extension()


def test_corrupt_library_is_a_backend_error(tmp_path: Path) -> None:
    bogus = tmp_path / openvino_ext.EXTENSION_LIBRARY
    bogus.write_bytes(b"not an ELF file")
    with pytest.raises(BackendError, match=re.escape(f"could not load the extension {bogus}")):
        openvino_ext.load_openvino_extension(ov.Core(), bogus)


def test_ir_round_trip_keeps_kernel_size(core: ov.Core, tmp_path: Path) -> None:
    """Serialised to IR and read back (with the extension), the op keeps its attribute."""
    model = core.read_model(filter_model(3, [1, 2, 6, 6], [1, 9, 6, 6]))
    ov.save_model(model, tmp_path / "m.xml")
    xml = (tmp_path / "m.xml").read_text()
    assert 'type="DynamicFilter" version="mgdn"' in xml and 'kernel_size="3"' in xml
    reread = core.read_model(tmp_path / "m.xml")
    ops = {op.get_type_name(): op for op in reread.get_ops()}
    assert json.loads(json.dumps(ops["DynamicFilter"].get_attributes())) == {"kernel_size": 3}
