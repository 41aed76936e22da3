"""The export artefact format: every name a writer and a reader of mgdn-edge files must agree on.

One definition of the file names in an export folder, the manifest's keys, the metadata keys a
model file carries about itself (ONNX ``metadata_props``, OpenVINO ``rt_info``) and the custom
op's identity (domain, type, attribute, plugin version and namespace). Export, runtimes,
calibration, the pipeline and the tests import these; none spells them again. Deliberately free
of heavy imports (no onnx, no torch): the CLI's ``--help`` path reads it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

# ------------------------------------------------------------------------------ file names
MODEL_ONNX = "model.onnx"  # custom DynamicFilter nodes + their portable ONNX function
PORTABLE_ONNX = "model.portable.onnx"  # functions inlined: standard ops only
FP16_ONNX = "model.fp16.onnx"  # FP16 tensors, float32 I/O, norms kept FP32
MANIFEST_FILE = "manifest.json"
CHECKPOINT_FILE = "model.pth"
IR_XML = "model.xml"  # OpenVINO IR (+ model.bin beside it)
ENGINE_FILE = "model.engine"  # TensorRT engine (+ model.engine.json sidecar)
ONNX_SUFFIX = ".onnx"
IR_SUFFIX = ".xml"


def quantized_file(precision: str, suffix: str) -> str:
    """What ``quantize`` writes by default: ``model.int8.onnx``, ``model.int8.xml``, ``model.fp16.xml``."""
    return f"model.{precision}{suffix}"


INT8_ONNX = quantized_file("int8", ONNX_SUFFIX)

# TensorRT graphs: the DynamicFilter nodes without a function body (so no parser can prefer a
# function over the plugin) and only ops TensorRT 8.5's ONNX parser imports (LayerNormalization
# written out); see mgdn_edge.export.trt_graph.
TRT_TAG = "trt"


def tensorrt_file(name: str) -> str:
    """The TensorRT twin of an ONNX file name: ``model.int8.onnx`` -> ``model.trt.int8.onnx``."""
    head, _, rest = name.partition(".")
    return f"{head}.{TRT_TAG}.{rest}" if rest else f"{head}.{TRT_TAG}"


TRT_ONNX = tensorrt_file(MODEL_ONNX)  # model.trt.onnx
TRT_FP16_ONNX = tensorrt_file(FP16_ONNX)  # model.trt.fp16.onnx
TRT_INT8_ONNX = tensorrt_file(INT8_ONNX)  # model.trt.int8.onnx, written by quantize --runtime onnxruntime

OUTPUT_NAME = "output"  # the graph output's name in every exported file

# ----------------------------------------------------------------------- manifest.json keys
MANIFEST_VERSION = 1
MANIFEST_CONFIG = "config"
MANIFEST_FILES = "files"
MANIFEST_INPUTS = "inputs"
MANIFEST_DYNAMIC_AXES = "dynamic_axes"
MANIFEST_CUSTOM_OP = "custom_op"
MANIFEST_TENSORRT = "tensorrt"  # the TensorRT graphs: files, verification, parser lint verdicts

# ------------------------------------------- what a model file says about itself (metadata)
# ONNX metadata_props keys; OpenVINO IRs carry the same facts in rt_info[IR_RT_SECTION][...].
METADATA_CONFIG_KEY = "mgdn_edge.config"  # MGDNConfig.to_dict() as JSON
METADATA_STATIC_KEY = "mgdn_edge.static_size"  # "HxW", or "" for any size
METADATA_PRECISION_KEY = "mgdn_edge.core.precision"  # the precision the file was built as
METADATA_VERSION_KEY = "mgdn_edge.version"
METADATA_TARGET_KEY = "mgdn_edge.target"  # "tensorrt" on the TRT graphs (no function bodies)
TARGET_TENSORRT = "tensorrt"
IR_RT_SECTION = "mgdn_edge"
IR_RT_CONFIG = "config"
IR_RT_STATIC = "static_size"
IR_RT_PRECISION = "precision"

# ------------------------------------------------------------------- the custom op's identity
OP_DOMAIN = "mgdn"
OP_TYPE = "DynamicFilter"
OP_DOMAIN_VERSION = 1
KERNEL_SIZE_ATTR = "kernel_size"
# TensorRT's ONNX parser looks a custom node's plugin up by (op type, plugin_version,
# plugin_namespace): these must equal what the plugin's creator reports.
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = OP_DOMAIN
PLUGIN_VERSION_ATTR = "plugin_version"
PLUGIN_NAMESPACE_ATTR = "plugin_namespace"
PLUGIN_ATTRIBUTES = {PLUGIN_NAMESPACE_ATTR: PLUGIN_NAMESPACE, PLUGIN_VERSION_ATTR: PLUGIN_VERSION}
TORCH_OP = "mgdn::dynamic_filter"
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")  # their presence makes an ONNX file an INT8 one
# Nodes whose ONNX name contains this scope compute in FP32 even in FP16 TensorRT builds (the
# written-out LayerNormalization): weakly typed builds pin their layers, which the parser names
# after the nodes.
FP32_SCOPE = "/fp32_island/"


def is_filter_node(node: Any) -> bool:
    """An ONNX NodeProto that is one ``mgdn.DynamicFilter``."""
    return node.domain == OP_DOMAIN and node.op_type == OP_TYPE


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, read in 1 MiB blocks: how manifests, sidecars and caches name artefacts."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
