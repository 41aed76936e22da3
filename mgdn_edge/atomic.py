"""Whole or absent: every file and folder mgdn-edge writes goes through here.

A reader (a runtime, a later pipeline run, a user's script) must never see a half-written
artefact, and a killed writer must never leave one behind under the real name. So everything is
written under a hidden unique name in the destination's own folder (same filesystem, so the
final ``os.replace`` is atomic) and renamed into place only once complete. Leftover temporaries
of a killed writer keep their hidden name and are never mistaken for the real file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_MARK = ".mgdn-tmp-"


def temp_sibling(path: str | os.PathLike[str], token: str | None = None) -> Path:
    """A hidden, unique name beside ``path`` that keeps its suffix (tools pick formats by suffix)."""
    path = Path(path)
    token = token or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return path.with_name(f"{TMP_MARK}{path.stem}.{token}{path.suffix}")


@contextlib.contextmanager
def atomic_files(*paths: str | os.PathLike[str]) -> Iterator[tuple[Path, ...]]:
    """Yield temporary names for ``paths``; on success rename them into place, else delete them.

    With several files that belong together (an IR's .bin and .xml, an engine and its sidecar)
    the *last* one is the file readers pair the others with: it is removed before the others are
    renamed in and renamed in last, so a new file is never read with an old partner.
    """
    targets = [Path(p) for p in paths]
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temps = tuple(temp_sibling(p, token) for p in targets)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield temps
        for temp in temps:
            if not temp.is_file():
                raise FileNotFoundError(f"the writer produced no {temp.name}")
        if len(targets) > 1:
            targets[-1].unlink(missing_ok=True)
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_files(path) as (tmp,), open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Indented JSON; values JSON does not know (paths, numpy scalars) are written as strings."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``path`` whole, else it is removed.

    An existing ``path`` is moved aside first and deleted only after the new folder is in place,
    so at every instant the name holds either the complete old folder or the complete new one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(target)
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            old = temp_sibling(target.with_name(target.name + "-old"))
            os.rename(target, old)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
