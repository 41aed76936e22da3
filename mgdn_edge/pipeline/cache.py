"""Content-keyed step cache: a step is reused only when its inputs and its outputs are unchanged.

Every step stores the key of its inputs (sha256 of the checkpoint, the options, the data split,
the upstream artefacts' sha256, the tool versions) beside its outputs, with the sha256 of each
output file. A re-run reuses a step whose key matches and whose files still hash as recorded, so
a changed input or a file edited or truncated on disk is rebuilt, never served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mgdn_edge import __version__
from mgdn_edge.export.artefacts import sha256_file


def cache_key(value: Any) -> str:
    """sha256 of a canonical JSON rendering: equal inputs, equal key, on every machine."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def tool_versions(*packages: str) -> dict[str, str | None]:
    """Installed versions of ``packages`` (None if absent), with mgdn-edge's own."""
    from importlib import metadata

    out: dict[str, str | None] = {"mgdn-edge": __version__}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def read_record(path: Path) -> dict[str, Any] | None:
    """A step's stored record, or None when it is missing or unreadable (the step then reruns)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def artefact_records(paths: Sequence[Path], root: Path) -> list[dict[str, Any]]:
    return [{"path": relative(p, root), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in paths]


def artefacts_intact(records: Sequence[dict[str, Any]], root: Path) -> bool:
    for rec in records:
        path = root / rec["path"]
        if not path.is_file() or sha256_file(path) != rec["sha256"]:
            return False
    return True


def data_fingerprint(spec: str) -> Any:
    """What identifies the data: a synthetic spec itself, a folder by its files' names/sizes/mtimes."""
    root = Path(spec)
    if not root.is_dir():
        return spec
    return [
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]
