"""Rebuild the bundled demo HDR model (mgdn_edge/assets/demo_hdr.pth) from nothing, reproducibly.

    python tools/dev/train_demo_hdr.py --work /tmp/demo-hdr          # data + train + pack + plot
    python tools/dev/train_demo_hdr.py --work /tmp/demo-hdr --pack-only   # pack + plot again

It runs the project's own two commands (printed, and recorded in the asset's JSON):

1. ``mgdn-edge synth-hdr`` writes the training scenes (Kalantari layout, scene stream ``SEED``);
2. ``mgdn-edge train`` trains a small MGDN-HDR from scratch with L1-on-mu-law + masked MI;

then packs the result: the float32 state dict (authors' key layout, checked by a strict
``load_model``) goes to ``mgdn_edge/assets/demo_hdr.pth``, a JSON beside it records the config,
commands, seed, data spec, wall time, sampled training curve and final losses, and the curve is
plotted to ``docs/demo_hdr_curve.png``.

Why these sizes: the machine this was made on has two shared CPU cores. A 24-channel, two-stage
network (148k parameters, 0.6 MB) runs ~1.8 s per step of four 64x64 crops there, so 1500 steps
fit in about 45 minutes; lr 5e-4 (5x the paper's fine-tuning rate) because this is a short run
from scratch. Runs are deterministic for a seed on one machine and thread count (see
:mod:`mgdn_edge.training.train`); other thread counts give slightly different but equivalent weights.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # a maintainer tool: it writes into the checkout
ASSET = REPO / "mgdn_edge" / "assets" / "demo_hdr.pth"
CURVE_PNG = REPO / "docs" / "demo_hdr_curve.png"

SEED = 0
DATA = {"generator": "mgdn-edge synth-hdr", "seed": SEED, "scenes": 64, "size": [256, 256]}
SIZES = {"embed_dim": 24, "depths": [2, 2], "swin_heads": [3, 3]}
HYPER = {"steps": 1000, "batch_size": 4, "crop": 64, "lr": 5e-4, "mi_weight": 0.01}
CURVE_EVERY = 10  # steps between stored curve samples (each the mean of its window)


def commands(work: Path, steps: int) -> list[list[str]]:
    data = work / "train"
    synth = [
        "mgdn-edge", "synth-hdr", "--out", str(data), "--scenes", str(DATA["scenes"]),
        "--size", "{}x{}".format(*DATA["size"]), "--seed", str(SEED), "--quiet", "--overwrite",
    ]  # fmt: skip
    train = [
        "mgdn-edge", "train", "--task", "hdr", "--preset", "hdr",
        "--embed-dim", str(SIZES["embed_dim"]),
        "--depths", *map(str, SIZES["depths"]), "--swin-heads", *map(str, SIZES["swin_heads"]),
        "--data", str(data), "--out", str(work / "demo_hdr.pth"),
        "--steps", str(steps), "--batch-size", str(HYPER["batch_size"]), "--crop", str(HYPER["crop"]),
        "--lr", str(HYPER["lr"]), "--mi-weight", str(HYPER["mi_weight"]), "--seed", str(SEED),
        "--log-every", "25",
    ]  # fmt: skip
    return [synth, train]


def _window_means(values: list[float], every: int) -> list[float]:
    return [
        round(sum(values[i : i + every]) / len(values[i : i + every]), 6)
        for i in range(0, len(values), every)
    ]


def pack(work: Path, cmds: list[list[str]], wall_s: float | None) -> dict[str, object]:
    """Copy the trained weights into the package (strict-load checked) and write the JSON + plot."""
    import torch

    from mgdn_edge.model import load_model

    trained = work / "demo_hdr.pth"
    run = json.loads(trained.with_suffix(".json").read_text())
    model = load_model(trained, task="hdr")  # strict: the authors' key layout, nothing extra
    state = {k: v.detach().to(torch.float32).clone() for k, v in model.state_dict().items()}
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, ASSET)
    curve = run["curve"]
    steps = [int(r["step"]) for r in curve]
    tail = curve[-100:]
    info = {
        "checkpoint": ASSET.name,
        "config": run["config"],
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "commands": [shlex.join(c).replace(str(work), "WORK") for c in cmds],
        "seed": SEED,
        "data": DATA,
        "training": {k: run[k] for k in ("steps", "batch_size", "crop", "lr", "mi_weight", "seed", "device")},
        "train_seconds": run["seconds"],
        "wall_seconds": None if wall_s is None else round(wall_s, 1),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "curve": {
            "every": CURVE_EVERY,
            "step": steps[CURVE_EVERY - 1 :: CURVE_EVERY] or steps[-1:],
            "loss": _window_means([r["loss"] for r in curve], CURVE_EVERY),
            "fusion": _window_means([r["fusion"] for r in curve], CURVE_EVERY),
            "mi": _window_means([r["mi"] for r in curve], CURVE_EVERY),
        },
        "final": {
            "window": len(tail),
            "loss": round(sum(r["loss"] for r in tail) / len(tail), 6),
            "fusion": round(sum(r["fusion"] for r in tail) / len(tail), 6),
            "mi": round(sum(r["mi"] for r in tail) / len(tail), 6),
        },
    }
    ASSET.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    plot_curve(info)
    return info


def plot_curve(info: dict[str, object]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = info["curve"]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    steps = curve["step"][: len(curve["fusion"])]
    ax.plot(steps, curve["fusion"][: len(steps)], label="fusion (L1 on mu-law)")
    ax.plot(steps, curve["loss"][: len(steps)], label="total (fusion + 0.01 x masked MI)", alpha=0.7)
    ax.set_xlabel("step (4 crops of 64x64)")
    ax.set_ylabel(f"loss (mean of {curve['every']} steps)")
    ax.set_yscale("log")
    ax.set_title(f"demo HDR model training (seed {info['seed']})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    CURVE_PNG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(CURVE_PNG)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, required=True, help="folder for the training data and raw outputs")
    p.add_argument(
        "--steps", type=int, default=HYPER["steps"], help=f"training steps (default {HYPER['steps']})"
    )
    p.add_argument("--pack-only", action="store_true", help="skip data and training; pack WORK's result")
    args = p.parse_args(argv)
    cmds = commands(args.work, args.steps)
    wall = None
    if not args.pack_only:
        args.work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        for cmd in cmds:
            print("+", shlex.join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=sys.stdout, stderr=sys.stderr)
        wall = time.perf_counter() - start
    info = pack(args.work, cmds, wall)
    print(f"wrote {ASSET} ({ASSET.stat().st_size / 1e6:.2f} MB), {ASSET.with_suffix('.json')}, {CURVE_PNG}")
    print(f"final losses (mean of last {info['final']['window']} steps): {info['final']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
