"""``mgdn-edge info CKPT``: what network a checkpoint holds."""

from __future__ import annotations

import argparse
import json

from mgdn_edge.cli.args import add_json_out, add_task


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="detect the task and configuration of a checkpoint")
    p.add_argument("checkpoint", help="a .pth state dict trained with the authors' code")
    add_task(p, "check it against this task")
    add_json_out(p, "the configuration (instead of the text listing when FILE is '-')")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mgdn_edge.core.atomic import write_text_or_stdout
    from mgdn_edge.model import count_parameters, load_model

    model = load_model(args.checkpoint, task=args.task)
    cfg = model.config
    info = {
        "checkpoint": args.checkpoint,
        "task": cfg.task,
        "preset": cfg.name,
        "inputs": dict(zip(cfg.io.input_names, cfg.io.input_channels, strict=True)),
        "output_channels": cfg.io.output_channels,
        "embed_dim": cfg.embed_dim,
        "depths": list(cfg.depths),
        "swin_heads": list(cfg.swin_heads),
        "window_size": cfg.window_size,
        "mlp_ratio": cfg.mlp_ratio,
        "kernel_size": cfg.kernel_size,
        "parameters": count_parameters(model),
    }
    if args.json_out:
        write_text_or_stdout(args.json_out, json.dumps(info, indent=2) + "\n")
        if args.json_out == "-":
            return 0
    for key, value in info.items():
        print(f"{key:16s} {value}")
    if cfg.task in ("mff", "mef") and args.task is None:
        print("note             MFF and MEF share one architecture; pass --task to fuse as the other")
    return 0
