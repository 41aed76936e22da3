"""Whole or absent: every file and folder mgdn-edge writes goes through here.

A reader (a runtime, a later pipeline run, a user's script) must never see a half-written
artefact, and a killed writer must never leave one behind under the real name. So everything is
written under a hidden unique name in the destination's own folder (same filesystem, so the
final ``os.replace`` is atomic) and renamed into place only once complete. Leftover temporaries
of a killed writer keep their hidden name and are never mistaken for the real file.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import FILESYSTEM_ERRNOS, InputError, WriteError, filesystem_error_line

TMP_MARK = ".mgdn-tmp-"
LOCK_MARK = ".mgdn-lock-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def temp_sibling(path: str | os.PathLike[str], token: str | None = None) -> Path:
    """A hidden, unique name beside ``path`` that keeps its suffix (tools pick formats by suffix)."""
    path = Path(path)
    token = token or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return path.with_name(f"{TMP_MARK}{path.stem}.{token}{path.suffix}")


def _size(path: Path) -> int:
    """Bytes under ``path`` (a file or a folder), 0 if it is gone."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.is_file() else 0


def _free_bytes(path: Path) -> int | None:
    """Free bytes on the filesystem holding ``path`` (its nearest existing folder), if known."""
    for folder in [path, *path.parents]:
        if folder.is_dir():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _names_our_path(exc: OSError, dest: Path, temps: list[Path]) -> bool:
    """Whether ``exc`` is about writing ``dest``: no file named (a failed write() call), or the
    destination, its folder, its lock, a temporary or a file inside a temporary folder."""
    if exc.filename is None:
        return True
    path = Path(exc.filename)
    return path in (dest.parent, lock_path(dest)) or any(
        path == p or path.is_relative_to(p) for p in (dest, *temps)
    )


@contextlib.contextmanager
def write_errors_named(dest: Path, temps: Iterable[Path] = ()) -> Iterator[None]:
    """Turn the filesystem refusing a write to ``dest`` (or to its temporaries) into one
    :class:`WriteError` line naming ``dest``: full, over quota, read-only or not permitted.

    A full disk names how much this write had put down and how much is free, which is what the
    user needs to free. Errors about other paths (an input that cannot be read) pass unchanged.
    """
    temps = [Path(t) for t in temps]
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        if exc.errno not in FILESYSTEM_ERRNOS or not _names_our_path(exc, dest, temps):
            raise
        detail = filesystem_error_line(OSError(exc.errno, exc.strerror))
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            written, free = sum(_size(t) for t in temps), _free_bytes(dest.parent)
            detail += f"; {_megabytes(written)} written before it failed"
            detail += "" if free is None else f", {_megabytes(free)} free on that filesystem"
        raise WriteError(f"cannot write {dest}: {detail}") from exc


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
    try:
        with write_errors_named(targets[-1], temps):
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
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


class DestinationBusy(InputError):
    """Another process holds the write lock of the same destination."""


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The hidden lock file beside ``path`` (a sibling, so it survives ``path`` being replaced)."""
    path = Path(path)
    return path.with_name(f"{LOCK_MARK}{path.name}")


@contextlib.contextmanager
def destination_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` *by name*, or refuse at once with a one-line error.

    Two writers to one destination would each build a complete temporary and race on the final
    rename (and on moving the old copy aside); refusing the second is simpler to reason about than
    queueing it. The lock is a ``flock`` on a hidden sibling file, which the kernel releases when
    the holder dies, so a killed writer never leaves a stale lock. The file is removed on release;
    a writer that opened the file just before that removal notices (the name no longer points at
    its inode) and retries on the new file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(target)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DestinationBusy(f"another mgdn-edge process is writing {target}") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the kernel, libc or filesystem cannot, so the caller falls back to two renames."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def write_text_or_stdout(dest: str | os.PathLike[str], text: str) -> None:
    """``--json FILE`` of every command: FILE written atomically, ``-`` printed to stdout."""
    if str(dest) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_text(dest, text)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], lock: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``path`` whole, else it is removed.

    An existing ``path`` is swapped with the new folder in one step where the kernel can
    (``renameat2``), else moved aside first and deleted only after the new folder is in place, so
    the name holds the complete old folder or the complete new one. With ``lock`` a second writer
    to the same ``path`` is refused (:func:`destination_lock`) instead of racing this one.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a folder")
    tmp = temp_sibling(target)
    with write_errors_named(target, [tmp]):  # the lock and the folders
        guard = destination_lock(target) if lock else contextlib.nullcontext()
        with guard:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            try:
                with write_errors_named(target, [tmp]):  # the contents, measured before removal
                    yield tmp
                    _swap_in(tmp, target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the finished folder ``tmp`` at ``target`` (see :func:`atomic_directory`)."""
    if not target.exists():
        os.rename(tmp, target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
    else:
        old = temp_sibling(target.with_name(target.name + "-old"))
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)


def refuse_overwriting_inputs(
    outputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
    inputs: Iterable[str | os.PathLike[str] | None],
) -> None:
    """One-line error when an output of a command is (or would replace a folder holding) one of
    the files it reads: the atomic rename would otherwise swap the source for the result.

    ``outputs`` are (flag, path) pairs so the message names what to change; paths are compared
    resolved (symlinks, ``..``), so ``out/../out/model.onnx`` is caught too.
    """
    sources = [Path(p).resolve() for p in inputs if p is not None]
    for flag, out in outputs:
        if out is None:
            continue
        dest = Path(out).resolve()
        for src in sources:
            if dest == src or dest in src.parents:
                what = "is" if dest == src else "holds"
                raise InputError(
                    f"{flag} {out} {what} the input {src} of this command; write the output elsewhere "
                    "(inputs are never overwritten)"
                )
