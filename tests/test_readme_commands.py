"""Every command the README shows is valid as written: each `mgdn-edge ...` line of its code
blocks parses with the real CLI (flags, choices, values) without a deprecated spelling, and each
`python -m mgdn_edge...` module it names exists. Running them needs data and minutes each; the
commands' behaviour is tested in their own test files."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from mgdn_edge.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _code_block_commands(text: str) -> list[str]:
    """The `mgdn-edge` command lines of the fenced code blocks, continuation lines joined,
    trailing comments and optional `[...]` parts dropped."""
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("mgdn-edge "):
                line = re.sub(r"\s+#.*$", "", line)
                commands.append(re.sub(r"\s*\[[^\]]*\]", "", line))
    return commands


COMMANDS = _code_block_commands(README.read_text())
MODULES = sorted(set(re.findall(r"python -m (mgdn_edge(?:\.\w+)+)", README.read_text())))


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 25 and len(MODULES) >= 8, (len(COMMANDS), MODULES)


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_parses_as_written(command: str, capsys) -> None:
    argv = shlex.split(command)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of refusing
        pytest.fail(f"`{command}` does not parse: {capsys.readouterr().err.strip()} (status {exc.code})")
    assert callable(getattr(args, "handler", None)), command
    assert "deprecated" not in capsys.readouterr().err, command


@pytest.mark.parametrize("module", MODULES)
def test_readme_module_exists(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, module
