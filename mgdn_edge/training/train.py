"""Fine-tune (or train from scratch) an MGDN with L1 + lambda * masked-MI, as the paper trains.

Loss: ``fusion_loss`` (L1; L1 on mu-law tonemapped images for HDR) plus ``mi_weight`` times the
masked-MI terms of every stage (see :mod:`mgdn_edge.training.losses` for the choices the paper leaves
open). Optimiser: Adam, lr 1e-4 by default (the paper's). Batches are random crops of one fixed
size that is a multiple of the window size, so the network never pads and the shifted-window
masks are those of training.

Outputs, so the result drops straight into ``load_model`` / ``mgdn-edge info`` / ``fuse``:

- ``OUT.pth``: the plain MGDN state dict in the authors' parameter names (strict-loadable);
- ``OUT.json``: config, hyper-parameters, data, seed and the per-step loss curve;
- ``OUT.mi_heads.pth``: the auxiliary MI heads (training-only, kept apart from the deployable
  weights so no export ever sees them).

Runs are deterministic for a given seed on one machine and thread count: the seed fixes the
initial weights of a from-scratch model and the MI heads, the crop positions and batch order,
and deterministic algorithms are enforced while training.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mgdn_edge.core.atomic import atomic_files, refuse_overwriting_inputs
from mgdn_edge.core.errors import InputError, MgdnEdgeError
from mgdn_edge.model.checkpoint import load_model
from mgdn_edge.model.config import PRESETS, MGDNConfig, preset
from mgdn_edge.model.network import MGDN
from mgdn_edge.training.data import PairedDataset, Sample
from mgdn_edge.training.losses import DEFAULT_MI_WEIGHT, MaskedMILoss, fusion_loss

DEFAULT_CROP = 128
_COMPATIBLE = {"mff": {"mff", "mef"}, "mef": {"mff", "mef"}, "hdr": {"hdr"}, "gdsr": {"gdsr"}}


@dataclass
class TrainResult:
    """Where the run wrote its files, and its loss curve (one dict per step)."""

    checkpoint: Path
    sidecar: Path
    heads: Path | None
    config: MGDNConfig
    curve: list[dict[str, object]] = field(default_factory=list)


def build_config(task: str, preset_name: str, **overrides: object) -> MGDNConfig:
    """A preset's sizes (optionally overridden) for ``task``.

    MFF and MEF share one architecture, so their presets serve each other; other cross-task
    combinations would change the network's inputs and are refused.
    """
    if preset_name not in PRESETS:
        raise InputError(f"unknown preset {preset_name!r}; known: {', '.join(sorted(PRESETS))}")
    base_task = PRESETS[preset_name].task
    if base_task not in _COMPATIBLE[task]:
        raise InputError(f"preset {preset_name!r} is a {base_task} network, not usable for task {task!r}")
    try:
        config = preset(preset_name, **overrides)
        return config if config.task == task else config.replace(task=task)
    except ValueError as exc:
        raise InputError(f"invalid model size: {exc}") from exc


def _resolve_crop(crop: int | None, window: int, samples: list[Sample]) -> int:
    smallest = min(min(s.size) for s in samples)
    if crop is None:
        crop = min(DEFAULT_CROP, smallest) // window * window
    if crop < window or crop % window:
        raise InputError(f"crop {crop} must be a positive multiple of the window size {window}")
    for s in samples:
        if min(s.size) < crop:
            raise InputError(
                f"training pair {s.name!r} is {s.size[1]}x{s.size[0]} (WxH), smaller than the crop {crop}"
            )
    return crop


def _batch(
    samples: list[Sample], rng: np.random.Generator, batch_size: int, crop: int
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Random samples (with replacement) and random crop positions, all drawn from ``rng``."""
    inputs: list[list[np.ndarray]] = [[] for _ in samples[0].inputs]
    targets = []
    for index in rng.integers(len(samples), size=batch_size):
        s = samples[int(index)]
        h, w = s.size
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        for slot, arr in zip(inputs, s.inputs, strict=True):
            slot.append(arr[:, y : y + crop, x : x + crop])
        targets.append(s.target[:, y : y + crop, x : x + crop])
    return [torch.from_numpy(np.stack(a)) for a in inputs], torch.from_numpy(np.stack(targets))


def train(
    task: str,
    data: str | Path,
    out: str | Path,
    *,
    checkpoint: str | Path | None = None,
    config: MGDNConfig | None = None,
    steps: int = 1000,
    batch_size: int = 4,
    crop: int | None = None,
    lr: float = 1e-4,
    mi_weight: float = DEFAULT_MI_WEIGHT,
    seed: int = 0,
    device: str = "cpu",
    log: Callable[[str], None] | None = print,
    log_every: int = 1,
) -> TrainResult:
    """Train on the paired data in ``data`` and write ``out`` (+ sidecar and MI heads).

    Exactly one of ``checkpoint`` (fine-tune: strict load, its config) and ``config`` (from
    scratch, seeded init) chooses the starting model. ``mi_weight=0`` trains with L1 only and
    builds no MI heads. On CUDA, deterministic mode only warns where cuBLAS/cuDNN cannot comply
    (bit-exact GPU reruns need CUBLAS_WORKSPACE_CONFIG=:4096:8 set before the process starts).
    It stays over 60 lines only for its keyword signature and the run record it saves; the
    checks, the device move and the step loop are helpers.
    """
    out = _check_train_args(task, data, out, checkpoint, config, steps, batch_size, lr, mi_weight)

    dataset = PairedDataset(task, data)
    samples = [dataset[i] for i in range(len(dataset))]  # small sets: read once, errors up front

    torch.manual_seed(seed)
    if checkpoint is not None:
        model = load_model(checkpoint, task=task)
        config = model.config
    else:
        assert config is not None
        model = MGDN(config)
    crop = _resolve_crop(crop, config.window_size, samples)
    heads = MaskedMILoss(config) if mi_weight > 0 else None
    target_device = _to_device(device, model, heads)
    params = list(model.parameters()) + (list(heads.parameters()) if heads is not None else [])
    optimizer = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)

    start = time.perf_counter()
    curve = _run_steps(
        task,
        model,
        heads,
        optimizer,
        samples,
        rng,
        target_device,
        steps=steps,
        batch_size=batch_size,
        crop=crop,
        mi_weight=mi_weight,
        log=log,
        log_every=log_every,
        start=start,
    )

    return _save(
        out,
        model,
        heads,
        config,
        curve,
        {
            "task": task,
            "init": str(checkpoint) if checkpoint is not None else "scratch",
            "data": str(Path(data)),
            "pairs": dataset.names,
            "steps": steps,
            "batch_size": batch_size,
            "crop": crop,
            "lr": lr,
            "mi_weight": mi_weight,
            "seed": seed,
            "device": str(target_device),
            "seconds": round(time.perf_counter() - start, 3),
        },
    )


def _check_train_args(
    task: str,
    data: str | Path,
    out: str | Path,
    checkpoint: str | Path | None,
    config: MGDNConfig | None,
    steps: int,
    batch_size: int,
    lr: float,
    mi_weight: float,
) -> Path:
    """Refuse bad arguments for :func:`train` before anything is read; return ``out`` as a Path."""
    if (checkpoint is None) == (config is None):
        raise InputError("give exactly one start: a checkpoint to fine-tune or a config (from scratch)")
    if steps < 1 or batch_size < 1:
        raise InputError(f"steps ({steps}) and batch size ({batch_size}) must be at least 1")
    if lr <= 0 or mi_weight < 0:
        raise InputError(f"learning rate ({lr}) must be positive and MI weight ({mi_weight}) non-negative")
    out = Path(out)
    if out.suffix.lower() == ".json":
        raise InputError(f"output {out} must be a checkpoint path (.pth); the .json sidecar goes beside it")
    if config is not None and config.task != task:
        raise InputError(f"config is for task {config.task!r}, not {task!r}")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give the checkpoint file to write (e.g. {out}/tuned.pth)")
    written = [out, out.with_suffix(".mi_heads.pth"), out.with_suffix(".json")]
    refuse_overwriting_inputs([("--out", p) for p in written], [checkpoint, data])
    return out


def _to_device(device: str, model: MGDN, heads: MaskedMILoss | None) -> torch.device:
    """Move the model (and the MI heads, if any) to ``device``; an unusable device is an input error."""
    try:
        target_device = torch.device(device)
        model.to(target_device)
        if heads is not None:
            heads.to(target_device)
    except (RuntimeError, AssertionError) as exc:
        raise InputError(f"cannot use device {device!r}: {str(exc).splitlines()[0]}") from exc
    return target_device


def _run_steps(
    task: str,
    model: MGDN,
    heads: MaskedMILoss | None,
    optimizer: torch.optim.Optimizer,
    samples: list[Sample],
    rng: np.random.Generator,
    target_device: torch.device,
    *,
    steps: int,
    batch_size: int,
    crop: int,
    mi_weight: float,
    log: Callable[[str], None] | None,
    log_every: int,
    start: float,
) -> list[dict[str, object]]:
    """The optimisation loop of :func:`train`, in deterministic mode; return the loss curve.

    It stays one function because one training step reads best whole: batch, forward, loss,
    backward, record and log.
    """
    curve: list[dict[str, object]] = []
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=target_device.type != "cpu")
    model.train()
    try:
        for step in range(1, steps + 1):
            inputs, target = _batch(samples, rng, batch_size, crop)
            inputs, target = [x.to(target_device) for x in inputs], target.to(target_device)
            output, filtered = model.forward_with_features(*inputs)
            rec = fusion_loss(task, output, target)
            mi_loss, mask_mi = heads(filtered) if heads is not None else (rec.new_zeros(()), [])
            loss = rec + mi_weight * mi_loss
            if not torch.isfinite(loss):
                raise MgdnEdgeError(
                    f"loss became non-finite at step {step} (fusion {rec.item()}, MI {mi_loss.item()})"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            record = {
                "step": step,
                "loss": loss.item(),
                "fusion": rec.item(),
                "mi": mi_loss.item(),
                "mask_mi": [round(v, 6) for v in mask_mi],
            }
            curve.append(record)
            if log is not None and (step % log_every == 0 or step in (1, steps)):
                elapsed = time.perf_counter() - start
                log(
                    f"step {step}/{steps}  loss {loss.item():.5f}  fusion {rec.item():.5f}  "
                    f"mi {mi_loss.item():.4f} (x{mi_weight:g})  "
                    f"MaskMI {' '.join(f'{v:.3f}' for v in mask_mi)}  "
                    f"{elapsed / step:.2f} s/step"
                )
    finally:
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
    return curve


def _save(
    out: Path,
    model: MGDN,
    heads: MaskedMILoss | None,
    config: MGDNConfig,
    curve: list[dict[str, object]],
    meta: dict[str, object],
) -> TrainResult:
    heads_path = out.with_suffix(".mi_heads.pth") if heads is not None else None
    sidecar = out.with_suffix(".json")
    payload = {
        **meta,
        "checkpoint": out.name,
        "mi_heads": heads_path.name if heads_path is not None else None,
        "config": config.to_dict(),
        "curve": curve,
    }
    # All files of one run appear together, the sidecar (what names the others) last.
    targets = [out, *([heads_path] if heads_path is not None else []), sidecar]
    with atomic_files(*targets) as temps:
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, temps[0])
        if heads is not None:
            torch.save({k: v.detach().cpu() for k, v in heads.state_dict().items()}, temps[1])
        temps[-1].write_text(json.dumps(payload, indent=2) + "\n")
    return TrainResult(out, sidecar, heads_path, config, curve)
