"""One spelling per concept on the command line; the old spellings still parse, with a warning."""

from __future__ import annotations

import argparse

import pytest

from mgdn_edge.cli import build_parser

# Old spelling -> the one every command uses now.
RENAMED = {"--backend": "--runtime", "--to": "--runtime", "--no-progress": "--quiet"}
QUANTIZE = ["quantize", "--model", "m", "--out", "o"]


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _visible_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {
        flag
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
    }


def test_no_command_shows_an_old_spelling() -> None:
    commands = _commands()
    assert len(commands) >= 15
    for name, parser in commands.items():
        shown = _visible_flags(parser)
        assert not shown & set(RENAMED), (name, sorted(shown & set(RENAMED)))
        help_text = parser.format_help()
        for old in RENAMED:
            assert f"{old} " not in help_text, (name, old)


def test_one_runtime_and_quiet_spelling_where_commands_choose_them() -> None:
    commands = _commands()
    for name in ("fuse", "parity", "bench", "diff", "quantize", "convert"):
        assert "--runtime" in _visible_flags(commands[name]), name
    for name in ("fuse", "pipeline", "quantize", "synth-hdr"):
        assert "--quiet" in _visible_flags(commands[name]), name


@pytest.mark.parametrize(
    ("argv", "dest", "value", "warned"),
    [
        ([*QUANTIZE, "--backend", "onnx"], "runtime", "onnxruntime", "--backend"),
        ([*QUANTIZE, "--runtime", "ort"], "runtime", "ort", None),
        ([*QUANTIZE, "--no-progress"], "quiet", True, "--no-progress"),
        (["convert", "--model", "m", "--out", "o", "--to", "openvino"], "runtime", "openvino", "--to"),
        (["pipeline", "--no-progress"], "quiet", True, "--no-progress"),
    ],
)
def test_old_spellings_parse_with_one_warning(
    argv: list[str], dest: str, value: object, warned: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    err = capsys.readouterr().err
    if warned is None:
        assert err == ""
    else:
        new = RENAMED[warned]
        assert err.startswith(f"warning: {warned} is deprecated") and f"use {new}" in err
        assert err.count("\n") == 1


def test_builder_runtime_names_the_choices() -> None:
    from mgdn_edge.cli.args import builder_runtime
    from mgdn_edge.core.errors import InputError

    assert builder_runtime(argparse.Namespace(runtime="ov"), "quantize") == "openvino"
    with pytest.raises(InputError, match=r"required: --runtime \(onnxruntime, openvino\)"):
        builder_runtime(argparse.Namespace(runtime=None), "quantize")
    with pytest.raises(InputError, match="convert builds for openvino only"):
        builder_runtime(argparse.Namespace(runtime="onnxruntime"), "convert")


def test_train_crop_takes_hxw_squares_only() -> None:
    from mgdn_edge.cli.train import _square_crop
    from mgdn_edge.core.errors import InputError

    assert _square_crop("96") == 96 and _square_crop("96x96") == 96 and _square_crop(None) is None
    with pytest.raises(InputError, match="training crops are square"):
        _square_crop("96x128")
