"""Did the bundled demo HDR model learn? Held-out synthetic scenes, demo model vs classical merges.

    python -m mgdn_edge.tools.eval_demo_hdr [--model CKPT] [--seed 1] [--scenes 8] [--size 256x256]

Held-out data: scenes of the synthetic generator's stream ``--seed`` (default 1), generated in
memory. The demo model was trained on stream ``data.seed`` of its sidecar JSON (0); every scene
is a pure function of (seed, index), so a different seed is a different scene set. Both are
checked before anything runs: the seeds must differ and no held-out reference bracket may equal
a training one byte for byte (the training scenes are regenerated to compare hashes).

Every method gets the same inputs: the three 8-bit brackets and their EVs (relative to the
shortest bracket, as ``exposure.txt`` holds them).

- **demo**: the network, inputs built by :func:`mgdn_edge.model.tasks.hdr_network_input` exactly as
  ``mgdn-edge fuse`` builds them; the output is clipped to [0, 1] as ``fuse`` saves it.
- **debevec** (the fair classical baseline): OpenCV ``createMergeDebevec`` with the *known*
  exposure times ``t_i = 2^EV_i`` and the *known* camera response, passed as a 256-entry
  lookup table ``g(z) = (max(z, 0.5) / 255)^2.2`` (the 0.5 keeps log g finite at code 0). The
  merged radiance ``E = exp(sum w(z) (log g(z) - log t) / sum w(z))`` is then already in the
  ground truth's units (short bracket full scale = 1, see :mod:`mgdn_edge.calibration.synthetic_hdr`),
  so no rescaling is applied; it is clipped to [0, 1] exactly as the ground truth is
  (``GT = clip(H_ref, 0, 1)``). This gives the baseline every piece of information the network
  has, plus the true response curve; what it lacks is deghosting, which is the task.
- **reference**: the reference bracket alone, linearised (``LDR_ref^2.2 / 2^EV_ref``), clipped
  to [0, 1]: the no-fusion floor (no library needed, shown for context).

Mertens exposure fusion (``createMergeMertens``) is *not* scored: it returns a display-referred
LDR image with no radiance scale, so any mapping to the ground truth's linear units would need
a gain fitted on the ground truth itself.

Metrics (scikit-image through :func:`mgdn_edge.runtimes.parity.image_metrics`, data range 1):
PSNR-mu / SSIM-mu on mu-law tonemapped images (mu = 5000) and PSNR-L on linear values, per
scene, then the mean over scenes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from mgdn_edge.calibration.synthetic_hdr import SyntheticHDRConfig, SyntheticScene, generate_scene
from mgdn_edge.core.atomic import write_text_or_stdout
from mgdn_edge.core.errors import InputError
from mgdn_edge.core.imageio import to_nchw
from mgdn_edge.core.size import Size
from mgdn_edge.model.tasks import GAMMA, hdr_network_input
from mgdn_edge.runtimes.parity import image_metrics

DEFAULT_EVAL_SEED = 1
METRICS = ("psnr_mu", "psnr_l", "ssim_mu")
METHODS = ("demo", "debevec", "reference")


def known_response(gamma: float = GAMMA) -> np.ndarray:
    """OpenCV's response format (256x1x3 float32): 8-bit code -> linear exposure, g(z) = (z/255)^gamma."""
    z = np.maximum(np.arange(256, dtype=np.float64), 0.5) / 255.0
    return np.repeat((z**gamma).astype(np.float32)[:, None, None], 3, axis=2)


def _to_bgr8(ldr: np.ndarray) -> np.ndarray:
    codes = np.round(np.clip(ldr, 0.0, 1.0) * 255.0)
    return np.ascontiguousarray(codes[:, :, ::-1], dtype=np.uint8)


def debevec_merge(ldrs: Sequence[np.ndarray], evs: Sequence[float], gamma: float = GAMMA) -> np.ndarray:
    """OpenCV Debevec merge with known exposures and response; HxWx3 RGB radiance clipped to [0, 1]."""
    times = np.array([2.0 ** (ev - min(evs)) for ev in evs], dtype=np.float32)
    merged = cv2.createMergeDebevec().process([_to_bgr8(x) for x in ldrs], times, known_response(gamma))
    return np.clip(merged[:, :, ::-1], 0.0, 1.0).astype(np.float32)


def reference_only(ldrs: Sequence[np.ndarray], evs: Sequence[float], gamma: float = GAMMA) -> np.ndarray:
    """The linearised reference bracket in the ground truth's units, clipped to [0, 1]."""
    ev_ref = evs[1] - min(evs)
    return np.clip(np.power(ldrs[1], gamma) / np.float32(2.0**ev_ref), 0.0, 1.0).astype(np.float32)


def network_inputs(scene: SyntheticScene) -> list[np.ndarray]:
    """The NCHW inputs ``mgdn-edge fuse`` builds from the scene's brackets and EVs."""
    shortest = min(scene.evs)
    return [to_nchw(hdr_network_input(x, ev - shortest)) for x, ev in zip(scene.ldrs, scene.evs, strict=True)]


def scene_hash(scene: SyntheticScene) -> str:
    return hashlib.sha256(np.ascontiguousarray(scene.ldrs[1]).tobytes()).hexdigest()


def check_held_out(
    train: dict[str, object],
    seed: int,
    indices: Sequence[int],
    config: SyntheticHDRConfig,
    content: bool = True,
) -> None:
    """Refuse evaluation scenes that could be training scenes (by seed, then by bracket content)."""
    train_seed, n_train = int(train["seed"]), int(train["scenes"])  # type: ignore[arg-type]
    if seed == train_seed:
        raise InputError(f"evaluation seed {seed} is the training seed: the scenes would not be held out")
    if content:
        train_cfg = replace(config, size=tuple(train["size"]))  # type: ignore[arg-type]
        seen = {scene_hash(generate_scene(i, train_seed, train_cfg)) for i in range(n_train)}
        clash = [i for i in indices if scene_hash(generate_scene(i, seed, config)) in seen]
        if clash:
            raise InputError(f"held-out scenes {clash} equal training scenes")


def evaluate(
    runtime: object, scenes: Sequence[SyntheticScene], methods: Sequence[str] = METHODS
) -> dict[str, dict[str, float]]:
    """Mean metrics over ``scenes`` for each method (``runtime`` runs the network)."""
    per: dict[str, dict[str, list[float]]] = {m: {k: [] for k in METRICS} for m in methods}
    for scene in scenes:
        gt = to_nchw(scene.radiance)
        outputs = {}
        if "demo" in methods:
            outputs["demo"] = np.clip(runtime.run(network_inputs(scene)), 0.0, 1.0)  # type: ignore[attr-defined]
        if "debevec" in methods:
            outputs["debevec"] = to_nchw(debevec_merge(scene.ldrs, scene.evs))
        if "reference" in methods:
            outputs["reference"] = to_nchw(reference_only(scene.ldrs, scene.evs))
        for method, out in outputs.items():
            metrics = image_metrics(gt, out, "hdr")
            for key in METRICS:
                per[method][key].append(float(metrics[key]))  # type: ignore[arg-type]
    return {m: {k: float(np.mean(v)) for k, v in values.items()} for m, values in per.items()}


def main(argv: Sequence[str] | None = None) -> int:
    from mgdn_edge.assets import demo_model_info, demo_model_path
    from mgdn_edge.runtimes import open_runtime

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="checkpoint (default: the bundled demo model)")
    p.add_argument("--info", default=None, help="its training JSON (default: the demo model's)")
    p.add_argument("--seed", type=int, default=DEFAULT_EVAL_SEED, help="held-out scene stream (default 1)")
    p.add_argument("--scenes", type=int, default=8, help="number of held-out scenes (default 8)")
    p.add_argument("--size", type=Size.parse, default=Size(256, 256), help="scene size HxW (default 256x256)")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON to FILE ('-': stdout)")
    args = p.parse_args(argv)

    model = Path(args.model) if args.model else demo_model_path()
    info = json.loads(Path(args.info).read_text()) if args.info else demo_model_info()
    config = replace(SyntheticHDRConfig(), size=tuple(args.size))
    indices = list(range(args.scenes))
    check_held_out(info["data"], args.seed, indices, config)
    scenes = [generate_scene(i, args.seed, config) for i in indices]
    runtime = open_runtime("torch", model, task="hdr")
    results = evaluate(runtime, scenes)
    print(f"{len(scenes)} held-out scenes (seed {args.seed}, {args.size[0]}x{args.size[1]}); model {model}")
    print(f"{'method':<10} {'PSNR-mu':>8} {'PSNR-L':>8} {'SSIM-mu':>8}")
    for method, m in results.items():
        print(f"{method:<10} {m['psnr_mu']:8.2f} {m['psnr_l']:8.2f} {m['ssim_mu']:8.4f}")
    if args.json:
        payload = {"seed": args.seed, "scenes": args.scenes, "size": list(args.size), "results": results}
        write_text_or_stdout(args.json, json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
