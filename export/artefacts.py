"""The export artefact format: every name a writer and a reader of mgdn-edge files must agree on.

One definition of the file names and suffixes of every artefact (export folder, OpenVINO IR,
TensorRT engine and its sidecar), the metadata keys a model file carries about itself (ONNX
``metadata_props``, OpenVINO ``rt_info``) and the custom op's identity (domain, type, attribute,
plugin version and namespace). Export, runtimes, calibration, the pipeline and the tests import
these; none spells them again. The keys of ``manifest.json`` and of the engine sidecar are the
fields of their typed records (:mod:`mgdn_edge.export.manifest_record`,
:mod:`mgdn_edge.runtimes.tensorrt_engine_file`). Deliberately free of heavy imports (no onnx, no
torch): the CLI's ``--help`` path reads it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------------------ file names
MODEL_ONNX = "model.onnx"  # custom DynamicFilter nodes + their portable ONNX function
PORTABLE_ONNX = "model.portable.onnx"  # functions inlined: standard ops only
FP16_ONNX = "model.fp16.onnx"  # FP16 tensors, float32 I/O, norms kept FP32
MANIFEST_FILE = "manifest.json"
CHECKPOINT_SUFFIXES = (".pth", ".pt")  # PyTorch checkpoints
CHECKPOINT_FILE = "model" + CHECKPOINT_SUFFIXES[0]
ONNX_SUFFIX = ".onnx"
IR_SUFFIX = ".xml"  # OpenVINO IR: the graph ...
IR_WEIGHTS_SUFFIX = ".bin"  # ... and its weights, beside it under the same stem
ENGINE_SUFFIXES = (".engine", ".plan")  # TensorRT engines (trtexec writes .plan)
ENGINE_SIDECAR_SUFFIX = ".json"  # appended to the engine's name: model.engine.json
IR_XML = "model" + IR_SUFFIX
ENGINE_FILE = "model" + ENGINE_SUFFIXES[0]


def ir_weights(xml_path: Path) -> Path:
    """The weights file of the OpenVINO IR ``xml_path``: ``model.xml`` -> ``model.bin``."""
    return xml_path.with_suffix(IR_WEIGHTS_SUFFIX)


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

MANIFEST_VERSION = 1  # manifest.json's format version

# ------------------------------------------- what a model file says about itself (metadata)
# ONNX metadata_props keys; OpenVINO IRs carry the same facts in rt_info[IR_RT_SECTION][...].
METADATA_CONFIG_KEY = "mgdn_edge.config"  # MGDNConfig.to_dict() as JSON
METADATA_STATIC_KEY = "mgdn_edge.static_size"  # "HxW", or "" for any size
METADATA_PRECISION_KEY = "mgdn_edge.precision"  # the precision the file was built as
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
