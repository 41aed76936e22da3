"""Regenerate ``trt_parser_ops.json`` from onnx-tensorrt sources (a maintainer's tool, not run by tests).

The lint's facts must come from what each TensorRT release's ONNX parser actually compiles, not
from memory or release notes: the importer list is the set of ``DEFINE_BUILTIN_OP_IMPORTER(Op)``
lines of ``builtin_op_importers.cpp`` (up to 9.x) or ``onnxOpImporters.cpp`` (10.x), the routing
of a node without a builtin importer is read from ``ModelImporter.cpp``'s dispatch, the
attributes the plugin path reads from ``FallbackPluginImporter``, and the documented opset range
from ``docs/operators.md``. The parser commit of a release is the ``parsers/onnx`` submodule
that NVIDIA/TensorRT's ``release/X.Y`` branch pins, so a table names both commits.

Inputs are bare git directories (as ``git clone --mirror`` or a fetched snapshot gives them);
the commit objects may live in a fork of onnx-tensorrt when the upstream snapshot lacks them.
Usage::

    python tools/dev/trt_parser_ops_build.py --tensorrt TRT.git \\
        --parser onnx-tensorrt.git [--parser fork.git ...] --out export/trt_parser_ops.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import Any

# TensorRT release branch -> (label, onnx-tensorrt branch of the same release when one exists)
RELEASES: tuple[tuple[str, str, str | None], ...] = (
    ("8.5", "release/8.5", "8.5-GA"),
    ("8.6", "release/8.6", "8.6-GA"),
    ("9.0", "release/9.0", "9.0-GA"),
    ("10.0", "release/10.0", "10.0-GA"),
    ("10.1", "release/10.1", "10.1-GA"),
    ("10.2", "release/10.2", None),
    ("10.3", "release/10.3", None),
    ("10.4", "release/10.4", None),
    ("10.5", "release/10.5", None),
    ("10.6", "release/10.6", None),
    ("10.7", "release/10.7", None),
    ("10.8", "release/10.8", None),
    ("10.9", "release/10.9", None),
    ("10.10", "release/10.10", None),
)
PSEUDO_IMPORTERS = ("FallbackPluginImporter", "LocalFunctionImporter")
IMPORTER_FILES = ("onnxOpImporters.cpp", "builtin_op_importers.cpp")


def _git(git_dir: Path, *args: str) -> str | None:
    proc = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


def _show(git_dirs: list[Path], commit: str, path: str) -> tuple[str, Path] | None:
    for git_dir in git_dirs:
        text = _git(git_dir, "show", f"{commit}:{path}")
        if text is not None:
            return text, git_dir
    return None


def routing(model_importer: str) -> str:
    """How the dispatch treats a node that has no builtin importer (see trt_lint.ROUTINGS)."""
    start = model_importer.find("Dispatch to appropriate converter")
    dispatch = model_importer[start : start + 1600]
    if "localFunctions().count" not in dispatch:
        return "plugin"
    if "isNodeInPluginRegistry" in dispatch:
        return "plugin_then_function"
    return "function_first"


def plugin_attributes(importers: str) -> dict[str, str]:
    """Attribute name -> default of every ``attrs.get<std::string>("plugin_...", default)`` read."""
    start = importers.find("DEFINE_BUILTIN_OP_IMPORTER(FallbackPluginImporter)")
    body = importers[start : start + 1500]
    found = re.findall(r'attrs\.get<std::string>\("(plugin_\w+)",\s*"([^"]*)"\)', body)
    return dict(found)


def max_opset(operators_md: str) -> int | None:
    match = re.search(r"up to Opset (\d+)|opset \d+ to opset (\d+)", operators_md, re.IGNORECASE)
    return int(match.group(1) or match.group(2)) if match else None


def table(trt_dir: Path, parser_dirs: list[Path], label: str, branch: str, parser_branch: str | None) -> dict:
    trt_commit = (_git(trt_dir, "rev-parse", branch) or "").strip()
    tree = _git(trt_dir, "ls-tree", branch, "parsers/onnx") or ""
    parser_commit = tree.split()[2]
    for name in IMPORTER_FILES:
        found = _show(parser_dirs, parser_commit, name)
        if found:
            importers, where = found
            importer_file = name
            break
    else:
        raise SystemExit(f"{label}: parser commit {parser_commit} not found in {parser_dirs}")
    model_importer, _ = _show(parser_dirs, parser_commit, "ModelImporter.cpp") or ("", where)
    operators_md, _ = _show(parser_dirs, parser_commit, "docs/operators.md") or ("", where)
    ops = sorted(set(re.findall(r"^DEFINE_BUILTIN_OP_IMPORTER\((\w+)\)", importers, re.MULTILINE)))
    return {
        "version": label,
        "ops": [op for op in ops if op not in PSEUDO_IMPORTERS],
        "routing": routing(model_importer),
        "plugin_attributes": plugin_attributes(importers),
        "max_opset": max_opset(operators_md),
        "source": {
            "tensorrt_repo": "NVIDIA/TensorRT",
            "tensorrt_branch": branch,
            "tensorrt_commit": trt_commit,
            "parser_repo": "onnx/onnx-tensorrt",
            "parser_branch": parser_branch,
            "parser_commit": parser_commit,
            "read_from": where.parent.name.replace("+", "/") if where.name == "repo" else str(where),
            "files": [importer_file, "ModelImporter.cpp", "docs/operators.md"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tensorrt", type=Path, required=True, help="bare git dir of NVIDIA/TensorRT")
    parser.add_argument(
        "--parser", type=Path, action="append", required=True, help="onnx-tensorrt git dir(s)"
    )
    parser.add_argument("--changelog-branch", default="release/11.1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    tables: list[dict[str, Any]] = [table(args.tensorrt, args.parser, *r) for r in RELEASES]
    changelog_commit = (_git(args.tensorrt, "rev-parse", args.changelog_branch) or "").strip()
    document = {
        "about": (
            "Per TensorRT release: the ONNX ops its parser imports natively, how it routes a node "
            "without a builtin importer, the attributes its plugin path reads (name -> default) and "
            "the documented maximum opset. Generated by tools/dev/trt_parser_ops_build.py from "
            "the sources named in each table; do not edit by hand."
        ),
        "routings": {
            "plugin": "no local-function support: builtin importer, else plugin lookup",
            "function_first": "builtin importer, else the model-local function of that name, else plugin",
            "plugin_then_function": (
                "builtin importer, else (when a local function of that name exists) the plugin if the "
                "registry holds (op, plugin_version, plugin_namespace), else the function; else plugin"
            ),
        },
        "later_releases": {
            "rule": "a release without a table uses the newest table of the same major below it",
            "11": "10.10",
            "note": (
                "TensorRT 10.11-10.16 and 11.x parser commits were not available to read; their tables "
                "are 10.10's, so their op lists are what 10.10 imports (later releases add ops; an op "
                "removed later would be missed). NVIDIA/TensorRT CHANGELOG.md names for 10.15 the "
                "opt-in kENABLE_PLUGIN_OVERRIDE flag (plugins may then override builtin ops); a later "
                "ModelImporter.cpp seen without its commit also tries the plugin first for nodes that "
                "carry plugin_namespace. For a node without a builtin importer both give the verdict "
                "of plugin_then_function."
            ),
            "changelog": {
                "repo": "NVIDIA/TensorRT",
                "branch": args.changelog_branch,
                "commit": changelog_commit,
                "file": "CHANGELOG.md",
            },
        },
        "tables": tables,
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
