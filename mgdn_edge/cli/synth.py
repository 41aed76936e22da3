"""``mgdn-edge synth-hdr``: write synthetic HDR scenes in the Kalantari layout.

Registration imports only argparse: the generator (numpy, OpenCV, scikit-image) loads inside the
handler, so ``mgdn-edge --help`` stays instant.
"""

from __future__ import annotations

import argparse

from mgdn_edge.cli.args import add_quiet


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth-hdr",
        help="write synthetic HDR scenes (Kalantari layout) built from bundled photos, with real ghosting",
        description=(
            "Generate deterministic HDR bracket triples from scikit-image's bundled photographs: expanded "
            "highlights, object and camera motion, camera response, 8-bit quantisation and noise. Each scene "
            "folder holds three 16-bit .tif brackets, exposure.txt (EVs relative to the shortest bracket) "
            "and "
            "HDRImg.hdr (reference-frame radiance in [0, 1]); scenes are written atomically."
        ),
    )
    p.add_argument(
        "--out", required=True, help="output folder (scene folders synth-00000, ... are created in it)"
    )
    p.add_argument("--scenes", type=int, default=64, help="number of scenes (default 64)")
    p.add_argument("--size", default="256x256", metavar="HxW", help="bracket size (default 256x256)")
    p.add_argument("--seed", type=int, default=0, help="scene stream; scene k is the same for any --scenes")
    p.add_argument(
        "--ev",
        type=float,
        nargs=3,
        default=[-2.0, 0.0, 2.0],
        metavar=("UNDER", "REF", "OVER"),
        help="exposure values in stops (default -2 0 2; only the gaps matter)",
    )
    p.add_argument("--noise", type=float, default=1.0, help="scale of shot and read noise (0 = noiseless)")
    p.add_argument("--gamma-jitter", type=float, default=0.0, help="per-scene camera gamma spread around 2.2")
    p.add_argument("--no-object-motion", action="store_true", help="no moving objects")
    p.add_argument("--no-camera-motion", action="store_true", help="no camera shake between brackets")
    p.add_argument("--overwrite", action="store_true", help="replace existing scene folders")
    add_quiet(p, "no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from mgdn_edge.calibration.synthetic_hdr import SyntheticHDRConfig, write_kalantari_scenes
    from mgdn_edge.core.errors import InputError
    from mgdn_edge.core.size import Size

    if args.noise < 0 or args.gamma_jitter < 0:
        raise InputError("--noise and --gamma-jitter must be >= 0")
    size = Size.parse(args.size, "--size")
    if min(size) < 16:
        raise InputError(f"--size must be at least 16x16, got {args.size!r}")
    base = SyntheticHDRConfig()
    cfg = replace(
        base,
        size=tuple(size),
        evs=tuple(args.ev),
        gamma_jitter=args.gamma_jitter,
        shot_noise=base.shot_noise * args.noise**2,
        read_noise=base.read_noise * args.noise,
    )
    if args.no_object_motion:
        cfg = replace(cfg, objects=(0, 0))
    if args.no_camera_motion:
        cfg = replace(cfg, camera_shift=0.0, camera_rotation=0.0)
    paths = write_kalantari_scenes(
        args.out, args.scenes, args.seed, cfg, overwrite=args.overwrite, progress=not args.quiet
    )
    evs = " ".join(f"{e:g}" for e in cfg.relative_evs)
    print(
        f"wrote {len(paths)} scenes of {cfg.size[0]}x{cfg.size[1]} to {args.out} "
        f"(exposure.txt EVs {evs}, seed {args.seed})"
    )
    return 0
