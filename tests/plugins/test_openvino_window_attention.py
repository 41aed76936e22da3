"""The extension's WindowAttention op against softmax attention computed in float64 by PyTorch.

Each test reads a one-node ONNX model through OpenVINO's ONNX frontend (the mapping the fused
model uses), at the sizes MGDN runs: the MFF model's 16-token windows of a 520x520 image, the
HDR configuration's 64-token windows, and odd sizes that exercise the kernel's padding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mgdn_edge.plugins import openvino_ext

ov = pytest.importorskip("openvino")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

# (windows, tokens, heads, head_dim): MFF at 520x520, HDR (window 8), and odd sizes (a partial
# 16-query block, channels below and above one 16-float vector).
SHAPES = [(16900, 16, 3, 10), (120, 64, 6, 10), (37, 9, 2, 7), (11, 25, 1, 20)]


@pytest.fixture(scope="module")
def core(ov_extension: Path) -> ov.Core:
    core = ov.Core()
    openvino_ext.load_openvino_extension(core, ov_extension)
    return core


def attention_model(
    channels: int, scale: float, mask: bool, orders: bool = False, element: int | None = None
) -> bytes:
    """One WindowAttention node; the bias's sizes are left to the feeds (the op checks them).
    ``element`` (an ONNX type): q, k and v are cast to it before the op, its output back to float."""
    names = [
        ("q", ["T", channels]),
        ("k", ["T", channels]),
        ("v", ["T", channels]),
        ("bias", ["H", "N", "M"]),
    ]
    if mask:
        names.append(("mask", ["W", "N", "M"]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in names]
    if orders:
        names += [("to_windows", ["P"]), ("from_windows", ["P"])]
        inputs += [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["P"]) for n in ("to_windows", "from_windows")
        ]
    fed, nodes = [n for n, _ in names], []
    if element is not None:
        nodes = [helper.make_node("Cast", [n], [f"{n}_cast"], to=element) for n in "qkv"]
        fed[:3] = [f"{n}_cast" for n in "qkv"]
        nodes.append(helper.make_node("Cast", ["out_cast"], ["out"], to=TensorProto.FLOAT))
    op_output = "out_cast" if element is not None else "out"
    nodes.insert(0, helper.make_node("WindowAttention", fed, [op_output], domain="mgdn", scale=scale))
    graph = helper.make_graph(
        nodes, "window_attention", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)]
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("mgdn", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def random_case(windows: int, tokens: int, heads: int, head_dim: int, mask_windows: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    channels = heads * head_dim
    q, k, v = (rng.standard_normal((windows * tokens, channels), dtype=np.float32) for _ in range(3))
    bias = rng.standard_normal((heads, tokens, tokens), dtype=np.float32)
    feeds = [q, k, v, bias]
    if mask_windows:  # MGDN's shifted-window terms: 0 within a region, -100 across
        feeds.append(
            np.where(rng.random((mask_windows, tokens, tokens)) < 0.3, -100.0, 0.0).astype(np.float32)
        )
    return feeds


def reference(feeds: list, heads: int, scale: float) -> np.ndarray:
    q, k, v, bias = (torch.from_numpy(a).double() for a in feeds[:4])
    tokens, channels = bias.shape[-1], q.shape[-1]
    q, k, v = (t.reshape(-1, tokens, heads, channels // heads).transpose(1, 2) for t in (q, k, v))
    scores = (q * scale) @ k.transpose(-1, -2) + bias
    if len(feeds) == 5:
        mask = torch.from_numpy(feeds[4]).double()
        scores = scores + mask.repeat(q.shape[0] // mask.shape[0], 1, 1).unsqueeze(1)
    return (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(-1, channels).numpy()


def run(
    core: ov.Core,
    feeds: list,
    scale: float,
    bf16: bool = False,
    orders: tuple | None = None,
    element: int | None = None,
) -> np.ndarray:
    channels = feeds[0].shape[-1]
    model_bytes = attention_model(channels, scale, len(feeds) == 5, orders is not None, element)
    model = core.read_model(model_bytes, b"")
    if bf16:
        from mgdn_edge.runtimes.openvino.extension_precision import feed_extension_ops

        assert feed_extension_ops(model, "bf16") == 1
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled(feeds + list(orders or ()))[compiled.output(0)]


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "shifted"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_f32_matches_float64_attention(core, shape, masked):
    windows, tokens, heads, head_dim = shape
    scale = head_dim**-0.5
    # An even window count is two images' worth sharing one image's masks (a batch of 2).
    mask_windows = (windows // 2 if windows % 2 == 0 else windows) if masked else 0
    feeds = random_case(windows, tokens, heads, head_dim, mask_windows, 7)
    out = run(core, feeds, scale)
    assert out.shape == feeds[0].shape and out.dtype == np.float32
    np.testing.assert_allclose(out, reference(feeds, heads, scale), rtol=1e-5, atol=2e-6)


def _round_bf16(a: np.ndarray) -> np.ndarray:
    return torch.from_numpy(a).to(torch.bfloat16).float().numpy()


def test_bf16_tensors_are_read_and_rounded_once(core):
    """q, k, v fed as bf16 (as in a bf16 model): the result is attention of the bf16 values in f32
    arithmetic, rounded once to bf16 -- within half a bf16 ulp of the float64 value. The inputs
    are bf16 values already, so the graph's Converts to bf16 are exact whatever their rounding."""
    windows, tokens, heads, head_dim = 16900, 16, 3, 10
    feeds = random_case(windows, tokens, heads, head_dim, windows, 3)
    feeds[:3] = [_round_bf16(a) for a in feeds[:3]]
    out = run(core, feeds, head_dim**-0.5, bf16=True)
    expected = reference(feeds, heads, head_dim**-0.5)
    assert np.array_equal(out, _round_bf16(out))  # the op's output was bf16
    assert np.all(np.abs(out - expected) <= np.abs(expected) * 2.0**-8 + 1e-6)


def test_rows_in_image_order_follow_the_window_orders(core):
    """With to_windows / from_windows the rows are in image order (two images here): window w of
    an image is its rows to_windows[w * tokens ...], and each output row lands where its input was."""
    images, image_tokens, tokens, heads, head_dim = 2, 40 * 16, 16, 3, 10
    windows = images * image_tokens // tokens
    feeds = random_case(windows, tokens, heads, head_dim, image_tokens // tokens, 13)
    to_windows = np.random.default_rng(1).permutation(image_tokens).astype(np.int64)
    from_windows = np.argsort(to_windows).astype(np.int64)
    rows = (np.arange(images)[:, None] * image_tokens + to_windows[None]).reshape(-1)  # window order -> row
    image_order = [np.empty_like(a) for a in feeds[:3]]
    for a, window_order in zip(image_order, feeds[:3], strict=True):
        a[rows] = window_order
    out = run(core, image_order + feeds[3:], head_dim**-0.5, orders=(to_windows, from_windows))
    expected = np.empty_like(out)
    expected[rows] = reference(feeds, heads, head_dim**-0.5)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=2e-6)
    swapped = from_windows.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    with pytest.raises(Exception, match="not a permutation and its inverse"):
        run(core, image_order + feeds[3:], head_dim**-0.5, orders=(to_windows, swapped))


def _image_order(height: int, width: int, size: int) -> np.ndarray:
    """to_windows of a height x width image cut into size x size windows (MGDN's partition)."""
    grid = np.arange(height * width).reshape(height // size, size, width // size, size)
    return grid.transpose(0, 2, 1, 3).reshape(-1).astype(np.int64)


def test_bf16_rows_in_image_order_at_520x520(core):
    """The bf16 MFF model's case at full size: bf16 q, k, v rows in image order of a 520x520 image
    in 4x4 windows (30 channels: a whole and a partial 16-value block per row), shifted windows'
    masks. Each output row is attention of the bf16 inputs, rounded once: within half a bf16 ulp
    of float64, and back at its own row. (OpenVINO's CPU plugin hands the op f32 for f16 inputs
    on CPUs without f16 arithmetic, so f16 tensors are not reached here.)"""
    tokens, heads, head_dim = 16, 3, 10
    to_windows = _image_order(520, 520, 4)
    windows = to_windows.size // tokens
    feeds = random_case(windows, tokens, heads, head_dim, windows, 17)
    feeds[:3] = [_round_bf16(a) for a in feeds[:3]]
    image_order = [np.empty_like(a) for a in feeds[:3]]
    for a, window_order in zip(image_order, feeds[:3], strict=True):
        a[to_windows] = window_order
    orders = (to_windows, np.argsort(to_windows).astype(np.int64))
    out = run(core, image_order + feeds[3:], head_dim**-0.5, orders=orders, element=TensorProto.BFLOAT16)
    expected = np.empty_like(out)
    expected[to_windows] = reference(feeds, heads, head_dim**-0.5)
    assert np.array_equal(out, _round_bf16(out))  # the op's output was bf16
    assert np.all(np.abs(out - expected) <= np.abs(expected) * 2.0**-8 + 1e-6)


_ISA_SCRIPT = """
import sys, numpy as np, openvino as ov
from mgdn_edge.plugins import openvino_ext
sys.path.insert(0, sys.argv[3])
from test_openvino_window_attention import run
core = ov.Core()
openvino_ext.load_openvino_extension(core, sys.argv[1])
feeds = [np.load(f"{sys.argv[2]}/{i}.npy") for i in range(5)]
np.save(f"{sys.argv[2]}/out.npy", run(core, feeds, 0.25))
"""


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_narrower_isa_builds_agree(ov_extension, tmp_path, isa):
    """The baseline and AVX2 builds of the loop (picked with $MGDN_OV_ISA in a child process)."""
    feeds = random_case(40, 16, 3, 10, 20, 11)
    for i, a in enumerate(feeds):
        np.save(tmp_path / f"{i}.npy", a)
    env = {**os.environ, "MGDN_OV_ISA": isa}
    args = [sys.executable, "-c", _ISA_SCRIPT, str(ov_extension), str(tmp_path), str(Path(__file__).parent)]
    subprocess.run(args, check=True, env=env)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), reference(feeds, 3, 0.25), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.__setitem__(3, f[3][:, :, :15]), "bias must be [heads, tokens, tokens]"),
        (lambda f: f.__setitem__(slice(0, 3), [a[:-1] for a in f[:3]]), "do not fill whole windows"),
        (lambda f: f.__setitem__(4, f[4][:3]), "multiple of the mask's window count"),
        (
            lambda f: f.__setitem__(3, np.zeros((4, 16, 16), np.float32)),
            "channels must be a multiple of heads",
        ),
    ],
    ids=["bias", "partial-window", "mask-count", "heads"],
)
def test_bad_shapes_are_named(core, change, message):
    feeds = random_case(8, 16, 3, 10, 8, 5)
    change(feeds)
    model = core.read_model(attention_model(30, 0.3, True), b"")
    compiled = core.compile_model(model, "CPU")
    with pytest.raises(Exception, match=message.replace("[", r"\[").replace("]", r"\]")):
        compiled(feeds)
