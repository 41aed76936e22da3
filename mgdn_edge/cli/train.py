"""``mgdn-edge train``: fine-tune a checkpoint or train a preset on paired data (L1 + masked MI)."""

from __future__ import annotations

import argparse

from mgdn_edge.cli.args import add_data, add_seed, add_task

DATA_HELP = (
    "paired data: mff/mef/gdsr DIR/<input>/ + DIR/gt/ with files matched by name "
    "(a b | under over | rgb depth); hdr: DIR/<scene>/ Kalantari folders (3 .tif, exposure.txt, HDRImg.hdr)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="fine-tune or train a model on paired data (L1 + masked MI loss)")
    add_task(p, "the task the data and model are for", required=True)
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--model", help="checkpoint (.pth) to fine-tune (loaded strictly)")
    start.add_argument("--preset", help="train from scratch with a preset's sizes (mff, mef, hdr, gdsr_x4..)")
    sizes = p.add_argument_group("size overrides for --preset")
    sizes.add_argument("--embed-dim", type=int, help="feature channels (divisible by 6)")
    sizes.add_argument("--depths", type=int, nargs="+", help="transformer blocks per stage")
    sizes.add_argument("--swin-heads", type=int, nargs="+", help="attention heads per stage")
    sizes.add_argument("--window-size", type=int, help="attention window size")
    sizes.add_argument("--mlp-ratio", type=float, help="MLP hidden size / embed dim")
    add_data(p, DATA_HELP, synthetic=None, required=True)
    p.add_argument("--out", required=True, help="checkpoint (.pth) to write; OUT.json + OUT.mi_heads.pth too")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=4, help="crops per step (default 4)")
    p.add_argument(
        "--crop",
        metavar="HxW",
        help="square crop size N or NxN, a multiple of the window size (default 128 or less)",
    )
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4, the paper's)")
    p.add_argument("--mi-weight", type=float, help="lambda of the masked MI terms (default 0.01, 0: L1 only)")
    add_seed(p, "seed for init, crops and batch order")
    p.add_argument("--device", default="cpu", help="torch device to train on (default cpu; e.g. cuda)")
    p.add_argument("--log-every", type=int, default=10, help="print the loss every N steps (default 10)")
    p.set_defaults(handler=run)


def _square_crop(text: str | None) -> int | None:
    """``--crop N`` or ``NxN`` -> N (training crops are square)."""
    if text is None:
        return None
    from mgdn_edge.core.errors import InputError
    from mgdn_edge.core.size import Size

    size = Size.parse(text, "--crop", square=True)
    if size.height != size.width:
        raise InputError(f"--crop {text}: training crops are square (N or NxN)")
    return size.height


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.core.extras import require

    require("torch", "mgdn-edge train")
    from mgdn_edge.core.errors import InputError
    from mgdn_edge.training.losses import DEFAULT_MI_WEIGHT
    from mgdn_edge.training.train import build_config, train

    overrides = {
        "embed_dim": args.embed_dim,
        "depths": args.depths,
        "swin_heads": args.swin_heads,
        "window_size": args.window_size,
        "mlp_ratio": args.mlp_ratio,
    }
    given = [f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None]
    config = None
    if args.model is not None:
        if given:
            raise InputError(f"{', '.join(given)} only apply with --preset; a --model checkpoint fixes sizes")
    else:
        config = build_config(args.task, args.preset, **overrides)
    result = train(
        args.task,
        args.data,
        args.out,
        checkpoint=args.model,
        config=config,
        steps=args.steps,
        batch_size=args.batch_size,
        crop=_square_crop(args.crop),
        lr=args.lr,
        mi_weight=DEFAULT_MI_WEIGHT if args.mi_weight is None else args.mi_weight,
        seed=args.seed,
        device=args.device,
        log_every=max(1, args.log_every),
    )
    last = result.curve[-1]
    print(f"wrote {result.checkpoint} (final loss {last['loss']:.5f}), {result.sidecar}", end="")
    print(f", {result.heads}" if result.heads is not None else "")
    return 0
