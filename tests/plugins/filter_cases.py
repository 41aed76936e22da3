"""What the native DynamicFilter op tests share (ONNX Runtime op library, OpenVINO extension):
the shapes, random inputs, the float64 oracle, one-node ONNX models and the narrower-ISA run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto, helper

from mgdn_edge.model.dynamic_filter import dynamic_filter_unfold

SHAPES = [  # (N, C, H, W, k): borders wider than the image, odd sizes, several column tiles
    (1, 3, 5, 4, 7),
    (2, 5, 17, 33, 3),
    (1, 60, 23, 130, 7),
    (2, 7, 9, 200, 5),
    (1, 2, 1, 1, 7),
    (1, 13, 31, 67, 9),
    (3, 1, 3, 70, 5),
    (2, 1, 3, 70, 5),
    (1, 4, 6, 6, 1),
]
ONNX_TYPES = {np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16}


def filter_model(
    k: int,
    feat_shape: list[int | str],
    kernels_shape: list[int | str],
    dtype: type = np.float32,
    extra_attributes: bool = False,
    function_body: bool = False,
) -> bytes:
    """One DynamicFilter node named 'filter'; without a function body only the native op can run
    it. Optionally with the TensorRT attributes, or with a deliberately wrong body (it returns
    feat), so that a correct result proves the runtime used the native op and not the body."""
    elem = ONNX_TYPES[dtype]
    attrs: dict[str, object] = {"kernel_size": k}
    if extra_attributes:
        attrs.update(plugin_namespace="mgdn", plugin_version="1")
    node = helper.make_node(
        "DynamicFilter", ["feat", "kernels"], ["out"], domain="mgdn", name="filter", **attrs
    )
    graph = helper.make_graph(
        [node],
        "dynamic_filter",
        [
            helper.make_tensor_value_info("feat", elem, feat_shape),
            helper.make_tensor_value_info("kernels", elem, kernels_shape),
        ],
        [helper.make_tensor_value_info("out", elem, None)],
    )
    functions = []
    if function_body:
        body = [helper.make_node("Identity", ["feat"], ["out"])]
        attributes = ["kernel_size", "plugin_namespace", "plugin_version"]
        opsets = [helper.make_opsetid("", 17)]
        functions.append(
            helper.make_function(
                "mgdn", "DynamicFilter", ["feat", "kernels"], ["out"], body, opsets, attributes
            )
        )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("mgdn", 1)],
        functions=functions,
    )
    return model.SerializeToString()


def random_inputs(n: int, c: int, h: int, w: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    feat = rng.standard_normal((n, c, h, w)).astype(np.float32)
    kernels = rng.standard_normal((n, k * k, h, w)).astype(np.float32)
    return feat, kernels


def oracle(feat: np.ndarray, kernels: np.ndarray, k: int) -> np.ndarray:
    """The unfold oracle in float64, so the comparison measures only the native op's rounding."""
    f64 = dynamic_filter_unfold(torch.from_numpy(feat).double(), torch.from_numpy(kernels).double(), k)
    return f64.numpy()


def run_with_isa(
    script: str, library: Path, folder: Path, isa: str, feat: np.ndarray, kernels: np.ndarray
) -> None:
    """Save feat/kernels into ``folder`` and run ``script LIBRARY FOLDER`` in a child process with
    $MGDN_OV_ISA capping the kernel's dispatch (the ISA is chosen once per process)."""
    np.save(folder / "feat.npy", feat)
    np.save(folder / "kernels.npy", kernels)
    env = {**os.environ, "MGDN_OV_ISA": isa}
    subprocess.run([sys.executable, "-c", script, str(library), str(folder)], check=True, env=env)
