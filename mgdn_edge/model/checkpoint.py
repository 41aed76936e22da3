"""Load the authors' checkpoints with strict semantics and detect their configuration.

Accepted wrappers: a plain state dict, ``{"params": state_dict}`` (the authors' training code) and
``module.``-prefixed keys (DataParallel). ``attn_mask`` buffers are dropped: they are sized for
the 128x128 construction size and are recomputed for the real input size. Anything else that
does not match is an error naming the keys and shapes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from mgdn_edge.core.errors import CheckpointError, listing
from mgdn_edge.model.config import PRESETS, MGDNConfig
from mgdn_edge.model.network import MGDN

_MAX_LISTED = 8


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The bare state dict of a checkpoint file, unwrapped and without ``module.`` prefixes."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]
        ) from exc
    return unwrap_state_dict(data, str(path))


def unwrap_state_dict(data: object, origin: str = "checkpoint") -> dict[str, Tensor]:
    if isinstance(data, Mapping) and "params" in data and isinstance(data["params"], Mapping):
        data = data["params"]
    if not isinstance(data, Mapping) or not all(isinstance(v, Tensor) for v in data.values()):
        raise CheckpointError(
            f"{origin} is not a state dict of tensors (or a {{'params': state_dict}} wrapper)"
        )
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in data.items()}


def _shape(sd: Mapping[str, Tensor], key: str, rank: int, used: dict[str, list[int]]) -> list[int]:
    """The shape of ``sd[key]`` (recorded in ``used`` as evidence), which must have ``rank`` dims."""
    if key not in sd:
        found = f"; it has {listing(sorted(used), _MAX_LISTED)}" if used else ""
        raise CheckpointError(f"not an MGDN checkpoint: no {key}{found}")
    shape = list(sd[key].shape)
    used[key] = shape
    if len(shape) != rank:
        raise CheckpointError(f"{key} has shape {shape}; an MGDN checkpoint has {rank} dimensions there")
    return shape


def _detect_stem(sd: Mapping[str, Tensor], used: dict[str, list[int]]) -> tuple[str, int]:
    """The task family and embedding width from the first convolution(s)."""
    if "conv1.weight" in sd:
        detected_task, embed_dim = "hdr", _shape(sd, "conv1.weight", 4, used)[0]
    elif "inconv1.weight" in sd and "inconv2.weight" in sd:
        embed_dim = _shape(sd, "inconv1.weight", 4, used)[0]
        detected_task = "gdsr" if _shape(sd, "inconv2.weight", 4, used)[1] == 1 else "mff"
    else:
        raise CheckpointError(
            "not an MGDN checkpoint: it has neither conv1.weight (HDR) nor inconv1/inconv2 weights"
        )
    return detected_task, embed_dim


def _detect_stages(sd: Mapping[str, Tensor], used: dict[str, list[int]]) -> tuple[list[int], list[int]]:
    """Blocks and attention heads of every ``layers.<i>`` stage."""
    stages = sorted({int(m.group(1)) for k in sd if (m := re.match(r"layers\.(\d+)\.", k))})
    if not stages:
        raise CheckpointError("not an MGDN checkpoint: no layers.<i>.* parameters")
    depths, heads = [], []
    for s in stages:
        blocks = {
            int(m.group(1))
            for k in sd
            if (m := re.match(rf"layers\.{s}\.residual_group\.blocks\.(\d+)\.", k))
        }
        depths.append(len(blocks))
        table = f"layers.{s}.residual_group.blocks.0.attn.relative_position_bias_table"
        if table not in sd:
            raise CheckpointError(
                f"stage {s} has no transformer blocks (missing relative_position_bias_table)"
            )
        heads.append(_shape(sd, table, 2, used)[1])
    return depths, heads


def _check_task(sd: Mapping[str, Tensor], detected_task: str, task: str) -> str:
    """``task``, when the detected network family can run it; otherwise a CheckpointError."""
    compatible = {"hdr": {"hdr"}, "gdsr": {"gdsr"}, "mff": {"mff", "mef"}}[detected_task]
    if task not in compatible:
        evidence = "conv1.weight" if detected_task == "hdr" else "inconv2.weight"
        raise CheckpointError(
            f"checkpoint is a {detected_task.upper()} network ({evidence} {list(sd[evidence].shape)}), "
            f"not usable for task {task!r}"
        )
    return task


def detect_config(state_dict: Mapping[str, Tensor], task: str | None = None) -> MGDNConfig:
    """Infer task and sizes from parameter names and shapes.

    MFF and MEF nets are the same architecture; a checkpoint matching a published preset gets
    that preset's task, other two-input RGB nets default to ``mff`` unless ``task`` says otherwise.
    Shapes that describe no buildable network (e.g. a resized first layer whose width the
    attention heads do not divide) are refused naming every key the sizes were read from.
    """
    sd = state_dict
    used: dict[str, list[int]] = {}
    detected_task, embed_dim = _detect_stem(sd, used)

    depths, heads = _detect_stages(sd, used)
    block0 = "layers.0.residual_group.blocks.0"
    window = math.isqrt(_shape(sd, f"{block0}.attn.relative_position_index", 2, used)[0])
    mlp_ratio = _shape(sd, f"{block0}.mlp.fc1.weight", 2, used)[0] / embed_dim
    predictor = "kernel_predictor_under" if detected_task == "hdr" else "kernel_predictor_ref"
    kernel_size = math.isqrt(_shape(sd, f"layers.0.MGF.{predictor}.2.weight", 4, used)[0])
    mgca_heads = _shape(sd, "layers.0.MGF.TCA.temperature", 3, used)[0]

    if task is not None:
        detected_task = _check_task(sd, detected_task, task)
    try:
        config = MGDNConfig(
            detected_task,
            embed_dim,
            tuple(depths),
            tuple(heads),
            window,
            float(mlp_ratio),
            kernel_size,
            mgca_heads,
        )
    except ValueError as exc:
        shapes = [f"{k} {shape}" for k, shape in used.items()]
        raise CheckpointError(
            f"checkpoint shapes agree with no MGDN config ({exc}); read from: {listing(shapes, len(shapes))}"
        ) from None
    for candidate in PRESETS.values():
        same_sizes = dataclasses.replace(config, task=candidate.task) == candidate
        if same_sizes and (task is None or task == candidate.task):
            return candidate
    return config


def check_state_dict(model: MGDN, state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Strict comparison with the model; returns the state dict to load (attn_mask dropped)."""
    incoming = {k: v for k, v in state_dict.items() if not k.endswith(".attn_mask")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(incoming))
    unexpected = sorted(set(incoming) - set(expected))
    wrong_shape = [
        f"{k}: checkpoint {list(incoming[k].shape)} vs model {list(expected[k].shape)}"
        for k in sorted(set(expected) & set(incoming))
        if incoming[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {listing(missing, _MAX_LISTED)}")
    if unexpected:
        problems.append(f"unexpected keys: {listing(unexpected, _MAX_LISTED)}")
    if wrong_shape:
        problems.append(f"shape mismatches: {listing(wrong_shape, _MAX_LISTED)}")
    if problems:
        raise CheckpointError(
            f"checkpoint does not match config {model.config.name!r}: " + "; ".join(problems)
        )
    check_finite_weights(incoming)
    return incoming


def check_finite_weights(state_dict: Mapping[str, Tensor]) -> None:
    """Refuse NaN/Inf weights by key: they would turn every output pixel into NaN (a black image)."""
    bad = []
    for key, value in state_dict.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            count = int((~torch.isfinite(value)).sum())
            bad.append(f"{key} ({count} of {value.numel()} values)")
    if bad:
        raise CheckpointError(f"checkpoint has NaN/Inf weights: {listing(bad, _MAX_LISTED)}")


def load_model(path: str | Path, task: str | None = None, config: MGDNConfig | None = None) -> MGDN:
    """Build the network a checkpoint describes (or ``config``) and load it strictly, in eval mode."""
    state_dict = read_state_dict(path)
    try:
        if config is None:
            config = detect_config(state_dict, task)
        elif task is not None and config.task != task:
            raise CheckpointError(f"config is for task {config.task!r}, not {task!r}")
        model = MGDN(config)
        model.load_state_dict(check_state_dict(model, state_dict), strict=True)
    except CheckpointError as exc:
        text = str(exc)
        raise CheckpointError(text if str(path) in text else f"{path}: {text}") from None
    return model.eval()
