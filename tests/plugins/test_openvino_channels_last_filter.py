"""The extension's DynamicFilterNHWC op (the filter on channels-last tensors) against the float64
unfold oracle, at the shared filter shapes, MGDN's 520x520 size and in f32, bf16 and f16.

The op is built through OpenVINO's Python API and its evaluate() called directly, so 16-bit
tensors reach the kernel as they are (the CPU plugin upconverts f16 where the CPU lacks it), and
read through the ONNX frontend once, between the Transposes the runtime puts around it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

ov = pytest.importorskip("openvino")
from filter_cases import SHAPES, oracle, random_inputs, run_with_isa  # noqa: E402

from mgdn_edge.plugins import openvino_ext  # noqa: E402

TO_NHWC, TO_NCHW = (0, 2, 3, 1), (0, 3, 1, 2)
# type: (OpenVINO type, torch type, half an ulp relative to the value: 2^-8 for bf16, 2^-11 for f16)
HALF = {"bf16": (ov.Type.bf16, torch.bfloat16, 2.0**-8), "f16": (ov.Type.f16, torch.float16, 2.0**-11)}


@pytest.fixture(scope="module")
def factory(ov_extension: Path):
    """A NodeFactory with the extension, and a Core holding it loaded as the runtime loads it
    (manifest and self-check first), both alive for the module: the library stays mapped while
    nodes it created run, whatever the factory does with its own handle."""
    from openvino.utils.node_factory import NodeFactory

    core = ov.Core()
    openvino_ext.load_openvino_extension(core, ov_extension)
    factory = NodeFactory()
    factory.add_extension(str(ov_extension))
    yield factory
    del core


def make_node(factory, feat_shape: list[int], kernels_shape: list[int], k: int, dtype: object) -> ov.Node:
    inputs = [ov.opset13.parameter(shape, dtype).output(0) for shape in (feat_shape, kernels_shape)]
    return factory.create("DynamicFilterNHWC", inputs, {"kernel_size": k})


def evaluate(factory, feat: np.ndarray, kernels: np.ndarray, k: int) -> np.ndarray:
    """feat [N,C,H,W] and kernels [N,k*k,H,W] filtered by the op on their NHWC copies; NCHW back."""
    a, b = (np.ascontiguousarray(x.transpose(TO_NHWC)) for x in (feat, kernels))
    node = make_node(factory, list(a.shape), list(b.shape), k, np.float32)
    out = ov.Tensor(np.zeros_like(a))
    assert node.evaluate([out], [ov.Tensor(a), ov.Tensor(b)])
    return out.data.transpose(TO_NCHW)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_f32_matches_unfold_oracle(factory, shape: tuple[int, ...]) -> None:
    n, c, h, w, k = shape
    feat, kernels = random_inputs(n, c, h, w, k, seed=sum(shape))
    np.testing.assert_allclose(
        evaluate(factory, feat, kernels, k), oracle(feat, kernels, k), rtol=1e-5, atol=1e-5
    )


def test_mff_size_f32(factory) -> None:
    """The MFF model's filter at 520x520: 30 channels (a whole and a partial 16-lane block)."""
    feat, kernels = random_inputs(1, 30, 520, 520, 7, seed=30)
    np.testing.assert_allclose(
        evaluate(factory, feat, kernels, 7), oracle(feat, kernels, 7), rtol=1e-5, atol=3e-5
    )


@pytest.mark.parametrize("type_name", ["bf16", "f16"])
def test_16_bit_tensors_are_read_and_rounded_once(factory, type_name: str) -> None:
    """16-bit tensors at 520x520 (HDR's 60 channels, two images): f32 sums of the 16-bit values,
    rounded once, so within half an ulp of the float64 oracle."""
    ov_type, torch_type, half_ulp = HALF[type_name]
    feat, kernels = random_inputs(2, 60, 130, 520, 7, seed=60)
    halves = [
        torch.from_numpy(np.ascontiguousarray(x.transpose(TO_NHWC))).to(torch_type) for x in (feat, kernels)
    ]
    node = make_node(factory, list(halves[0].shape), list(halves[1].shape), 7, ov_type)
    assert node.get_output_element_type(0) == ov_type
    tensors = []
    for t in halves:
        tensor = ov.Tensor(ov_type, ov.Shape(list(t.shape)))
        np.copyto(tensor.data.view(np.uint16), t.view(torch.int16).numpy().view(np.uint16))
        tensors.append(tensor)
    out = ov.Tensor(ov_type, ov.Shape(list(halves[0].shape)))
    assert node.evaluate([out], tensors)
    bits = torch.from_numpy(out.data.view(np.uint16).view(np.int16).copy())
    got = bits.view(torch_type).double().numpy().transpose(TO_NCHW)
    expected = oracle(*(t.float().numpy().transpose(TO_NCHW) for t in halves), 7)
    assert np.all(np.abs(got - expected) <= np.abs(expected) * half_ulp + 1e-5)  # + the f32 sums' error


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_narrower_isa_paths(ov_extension: Path, isa: str, tmp_path: Path) -> None:
    """The baseline and AVX2 builds of the loop ($MGDN_OV_ISA caps the dispatch in a child process)."""
    feat, kernels = random_inputs(2, 23, 17, 61, 7, seed=23)
    script = (
        "import sys, numpy as np, openvino as ov\n"
        "from openvino.utils.node_factory import NodeFactory\n"
        "f = NodeFactory(); f.add_extension(sys.argv[1])\n"
        "a, b = (np.load(sys.argv[2] + n).transpose(0, 2, 3, 1) for n in ('/feat.npy', '/kernels.npy'))\n"
        "a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)\n"
        "p = [ov.opset13.parameter(x.shape, np.float32) for x in (a, b)]\n"
        "node = f.create('DynamicFilterNHWC', [q.output(0) for q in p], {'kernel_size': 7})\n"
        "out = ov.Tensor(np.zeros_like(a))\n"
        "assert node.evaluate([out], [ov.Tensor(a), ov.Tensor(b)])\n"
        "np.save(sys.argv[2] + '/out.npy', out.data.transpose(0, 3, 1, 2))\n"
    )
    run_with_isa(script, ov_extension, tmp_path, isa, feat, kernels)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), oracle(feat, kernels, 7), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("feat_shape", "kernels_shape", "k", "message"),
    [
        ([1, 8, 8, 3], [1, 8, 8, 25], 7, "kernels have 25 taps, expected kernel_size^2 = 49"),
        ([1, 8, 8, 3], [1, 9, 8, 49], 7, "feat and kernels differ in H"),
        ([1, 8, 8, 3], [1, 8, 8, 36], 6, "kernel_size must be odd and in [1, 15], got 6"),
        ([8, 8, 3], [1, 8, 8, 49], 7, "feat must be 4-D [N,H,W,C]"),
    ],
)
def test_bad_shapes_are_named(
    factory, feat_shape: list[int], kernels_shape: list[int], k: int, message: str
) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)):
        make_node(factory, feat_shape, kernels_shape, k, np.float32)


def test_too_many_channels_are_named_at_run_time(factory) -> None:
    feat, kernels = random_inputs(1, 257, 2, 3, 1, seed=1)
    with pytest.raises(RuntimeError, match=re.escape("channels must be in [1, 256]")):
        evaluate(factory, feat, kernels, 1)
