"""Keyed, verified folders for the native libraries mgdn-edge compiles on the user's machine.

A native library is only valid for the exact toolchain, runtime release and sources it was
built from, and a library loaded into a process is trusted blindly: a truncated file crashes
the process (SIGBUS) before Python can say anything. So every built library lives in a folder
named after a *key* (runtime version, a hash of the plugin sources, the compiler and its flags,
the machine) and carries a manifest beside it (``<library>.manifest.json``: the key, the
library's sha256 and the verdict of a self-check run in a child process). A library is used
only when the manifest's key equals the current one and its sha256 matches the file on disk;
anything else is rebuilt (or refused in one line where building is impossible).

Libraries are compiled in a throw-away build tree and copied into place with the one atomic
writer, library first and manifest last, so a reader never sees a half-written library, and a
process that has the previous library mapped keeps its (old, intact) inode.

The cache root is ``$XDG_CACHE_HOME/mgdn-edge`` (``~/.cache/mgdn-edge`` when unset). Where it is
not writable (a read-only HOME), builds go to a private folder under the system temp dir
(``mgdn-edge-<uid>``), which lookups also search.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mgdn_edge.core.atomic import TMP_MARK, atomic_files, write_json
from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.plugins.cmake import cmake_build

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = "mgdn-edge native library"
LOCK_FILE = ".build.lock"
CACHE_ENV = "XDG_CACHE_HOME"
FLAG_VARIABLES = ("CXXFLAGS", "CPPFLAGS", "LDFLAGS", "CUDAFLAGS")  # what CMake folds into its flags


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/mgdn-edge`` if set to an absolute path (the XDG rule), else ~/.cache/mgdn-edge."""
    xdg = os.environ.get(CACHE_ENV, "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mgdn-edge"


def fallback_root() -> Path:
    """The private per-user folder under the system temp dir used when the cache root is read-only."""
    return Path(tempfile.gettempdir()) / f"mgdn-edge-{os.getuid()}"


def source_digest(*folders: Path) -> str:
    """sha256 over the relative paths and bytes of every source file under ``folders``.

    Build trees, caches and hidden files are skipped so that an in-source build does not change
    the key; a change of any source or header does.
    """
    digest = hashlib.sha256()
    for folder in folders:
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and not any(part.startswith((".", "__pycache__", "build", "CMakeFiles")) for part in p.parts[-3:])
        )
        for path in files:
            digest.update(f"{folder.name}/{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def compiler_identity(
    env_var: str = "CXX", candidates: Iterable[str] = ("c++", "g++", "clang++")
) -> dict[str, str]:
    """What CMake will compile with: the resolved compiler, its version line, the flag variables."""
    chosen = os.environ.get(env_var) or next((c for c in candidates if shutil.which(c)), "")
    resolved = shutil.which(chosen) if chosen else None
    version = ""
    if resolved:
        try:
            proc = subprocess.run([resolved, "--version"], capture_output=True, text=True, timeout=30)
            version = (proc.stdout.strip().splitlines() or [""])[0]
        except (OSError, subprocess.SubprocessError):
            version = "unknown"
    return {
        "compiler": str(Path(resolved).resolve()) if resolved else chosen,
        "version": version,
        "flags": " ".join(os.environ.get(v, "") for v in FLAG_VARIABLES).strip(),
        "machine": platform.machine(),
    }


def key_digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def safe_name(text: str) -> str:
    """``text`` reduced to characters safe in a folder name (a version string like 2025.3.0-1-abc)."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in text)[:40] or "unknown"


def manifest_path(library: Path) -> Path:
    return library.with_name(library.name + MANIFEST_SUFFIX)


def read_manifest(library: Path) -> dict[str, Any] | None:
    """The manifest beside ``library``, or None when absent or unreadable (treated as unverified)."""
    try:
        data = json.loads(manifest_path(library).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else None


def update_manifest(library: Path, **fields: Any) -> bool:
    """Merge ``fields`` into the manifest (atomically); False when the folder is not writable."""
    data = read_manifest(library) or {"format": MANIFEST_FORMAT}
    data.update(fields)
    try:
        write_json(manifest_path(library), data)
    except OSError:
        return False
    return True


def problem_with(library: Path, key: dict[str, Any] | None) -> str | None:
    """Why ``library`` must not be loaded (missing, unverified, another key, changed bytes), or None.

    ``key=None`` checks the bytes only (a library found by an explicit path, whose key we cannot
    know): a manifest beside it must still match the file.
    """
    if not library.is_file():
        return "is missing"
    manifest = read_manifest(library)
    if manifest is None:
        return "has no manifest (not built by this version of mgdn-edge)" if key is not None else None
    if key is not None and manifest.get("key") != key:
        return "was built for another toolchain or source version"
    if manifest.get("sha256") != sha256_file(library):
        size = library.stat().st_size
        return f"does not match its manifest's sha256 (truncated or changed: {size} bytes)"
    return None


def install_library(built: Path, library: Path, key: dict[str, Any] | None, **fields: Any) -> Path:
    """Copy ``built`` to ``library`` and write its manifest, both atomically (manifest last)."""
    with atomic_files(library, manifest_path(library)) as (tmp_lib, tmp_manifest):
        shutil.copyfile(built, tmp_lib)
        os.chmod(tmp_lib, 0o755)
        manifest = {"format": MANIFEST_FORMAT, "key": key, "sha256": sha256_file(tmp_lib), **fields}
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    return library


VERDICTS = "verdicts"  # <cache>/<runtime>/verdicts/<sha>.json: self-checks of libraries built elsewhere


def verdict_files(runtime: str, sha: str) -> list[Path]:
    """Where a self-check verdict of the library with this sha256 may be kept outside its manifest."""
    return [d / VERDICTS / f"{sha[:32]}.json" for d in candidate_dirs(Path(runtime))]


def recorded_results(library: Path, runtime: str, version: str, sha: str) -> list[str]:
    """The self-check results recorded for exactly these bytes under this runtime ``version``: the
    one in the library's manifest first, then those in the user cache."""
    records = [(read_manifest(library) or {}).get("self_check")]
    for path in verdict_files(runtime, sha):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return [
        str(r.get("result"))
        for r in records
        if isinstance(r, dict) and r.get("sha256") == sha and r.get(runtime) == version and r.get("result")
    ]


def record_verdict(library: Path, runtime: str, version: str, sha: str, result: str) -> None:
    """Keep a self-check verdict in the manifest beside ``library``, else in the user cache (best
    effort: a verdict that cannot be written only means the check runs again)."""
    record = {"sha256": sha, runtime: version, "result": result}
    if read_manifest(library) is not None and update_manifest(library, self_check=record):
        return
    for path in verdict_files(runtime, sha):
        try:
            write_json(path, record)
            return
        except OSError:
            continue


def usable_dir(folder: Path) -> bool:
    """Create ``folder`` if needed and prove it writable (a read-only HOME fails here, not mid-build)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f"{TMP_MARK}probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True


def _private_fallback(root: Path) -> bool:
    """Whether ``root`` (under a shared temp dir) is ours alone: owned by us, not writable by others."""
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def candidate_dirs(relative: Path) -> list[Path]:
    """Where a cached library may live: the cache root first, then the temp fallback."""
    return [cache_root() / relative, fallback_root() / relative]


def writable_dir(relative: Path, elsewhere: str) -> Path:
    """The first of :func:`candidate_dirs` that can be written, or a one-line BackendError.

    The fallback under the temp dir is announced once on stderr, since it does not survive a
    reboot and the user may prefer to point the cache somewhere else.
    """
    primary = cache_root() / relative
    if usable_dir(primary):
        return primary
    if _private_fallback(fallback_root()) and usable_dir(fallback_root() / relative):
        print(
            f"mgdn-edge: the cache folder {cache_root()} is not writable; building into "
            f"{fallback_root() / relative} instead (set ${CACHE_ENV} to keep builds elsewhere)",
            file=sys.stderr,
        )
        return fallback_root() / relative
    raise BackendError(
        f"cannot write the build cache {primary} (nor {fallback_root()}): set ${CACHE_ENV} to a writable "
        f"folder, or {elsewhere}"
    )


@contextlib.contextmanager
def build_lock(folder: Path, hint: str) -> Iterator[None]:
    """Serialise builds into one folder across processes (released when the lock file closes).

    A folder that cannot be created or written is a one-line BackendError (``hint`` says what
    to do instead), raised before anything is built.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / LOCK_FILE, "w")  # noqa: SIM115 - held open for the with-block below
    except OSError as exc:
        raise BackendError(f"cannot write the build folder {folder} ({exc.strerror or exc}); {hint}") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def clean_folder(folder: Path, names: Iterable[str]) -> None:
    """Remove our files from ``folder`` (a user's --build-dir keeps everything else)."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if folder.is_dir():
        for leftover in folder.glob(f"{TMP_MARK}*"):
            leftover.unlink(missing_ok=True)


def build_once(
    folder: Path,
    outputs: Sequence[Path],
    key: dict[str, Any],
    force: bool,
    clean: bool,
    check: Callable[[], str | None],
    compile_into: Callable[[], None],
    leftovers: Sequence[str] = (),
) -> str | None:
    """Build ``outputs`` into ``folder`` unless they are up to date; the reason a fresh build
    fails ``check`` (the library's self-check), else None.

    Under the folder's lock: ``clean`` first removes the outputs, their manifests and
    ``leftovers``; otherwise outputs that match ``key`` and their manifests and pass ``check``
    are kept as they are, even when another process built them while this one waited. A fresh
    build is checked once more after the lock is released; the caller reports a failure its own way.
    """
    with build_lock(folder, f"pass a writable --build-dir or set ${CACHE_ENV}"):
        if clean:
            clean_folder(folder, [*(n for o in outputs for n in (o.name, manifest_path(o).name)), *leftovers])
        elif not force and all(problem_with(o, key) is None for o in outputs) and check() is None:
            return None
        compile_into()
    return check()


def build_checked(
    library: Path,
    key: dict[str, Any],
    force: bool,
    clean: bool,
    check: Callable[[], str | None],
    compile_into: Callable[[], None],
    failure: str,
    leftovers: Sequence[str] = (),
) -> Path:
    """:func:`build_once` for one library in its folder: the library, or a BackendError of
    ``failure`` (formatted with ``library`` and ``reason``) where a fresh build fails ``check``."""
    reason = build_once(library.parent, [library], key, force, clean, check, compile_into, leftovers)
    if reason is not None:
        raise BackendError(failure.format(library=library, reason=reason))
    return library


def cmake_install(
    source_dir: Path, defines: dict[str, str], outputs: Sequence[Path], key: dict[str, Any], announce: str
) -> None:
    """CMake ``source_dir`` in a throw-away tree, then install each of ``outputs`` (in order, so a
    library lands before the program that loads it) atomically with its manifest."""
    print(f"mgdn-edge: {announce} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="mgdn-build-") as tmp:
        cmake_build(source_dir, Path(tmp), defines)
        for out in outputs:
            built = Path(tmp) / out.name
            if not built.is_file():
                raise BackendError(f"the build of {out} finished but produced no {out.name}")
            try:
                install_library(built, out, key)
            except OSError as exc:
                raise BackendError(f"cannot write {out} ({exc.strerror or exc}); set ${CACHE_ENV}") from exc


def explicit_path(
    path: str | os.PathLike[str] | None, env_var: str, filename: str
) -> tuple[Path, str] | None:
    """(library, where it came from) for ``path`` or ``$env_var`` (a folder means ``filename`` in it)."""
    chosen = path if path is not None else os.environ.get(env_var)
    if not chosen:
        return None
    candidate = Path(chosen)
    if candidate.is_dir():
        candidate = candidate / filename
    return candidate, "argument" if path is not None else f"${env_var}"


def find_library(
    what: str,
    filename: str,
    env_var: str,
    default_dir: Callable[[], Path],
    hint: str,
    path: str | os.PathLike[str] | None,
) -> Path:
    """The library to load: ``path``, else ``$env_var``, else the default build under ``default_dir()``.

    An explicit path is never replaced by another library, so a typo fails naming the file; the
    default folder (keyed by what the build depends on, headers included) is asked for only when
    no path is given, so a prebuilt library loads where nothing could build it.
    """
    explicit = explicit_path(path, env_var, filename)
    if explicit is not None:
        candidate, source = explicit
        if not candidate.is_file():
            raise BackendError(f"{what} not found: {candidate} (from the {source}); {hint}")
        return candidate
    candidates = [d / filename for d in candidate_dirs(default_dir())]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise BackendError(
            f"{what} not found: looked for {candidates[0]} (no path given, ${env_var} unset); {hint}"
        )
    return found


def run_child_check(module: str, library: Path, timeout_s: int) -> str | None:
    """Run ``python -m MODULE LIBRARY`` (a self-check that loads the library); None when it exits 0.

    Otherwise one line saying why: the signal that killed the child (a truncated library dies of
    SIGBUS while being mapped), a timeout, or the last line the child printed.
    """
    cmd = [sys.executable, "-m", module, str(library)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"the self-check did not finish within {timeout_s} s"
    if proc.returncode == 0:
        return None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        return f"loading it crashed a child process ({name})"
    lines = [line for line in (proc.stderr + proc.stdout).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"the self-check exited with status {proc.returncode}"


def child_main(check: Callable[[str], str], module: str, argv: Sequence[str]) -> int:
    """The child side of :func:`run_child_check`: ``check(LIBRARY)``'s summary on stdout and status
    0, or the cause on the last line of stderr and status 1."""
    if len(argv) != 1:
        print(f"usage: python -m {module} LIBRARY", file=sys.stderr)
        return 2
    try:
        print(check(argv[0]))
    except Exception as exc:  # the parent reports the last line; keep it the cause
        text = [line for line in str(exc).strip().splitlines() if line.strip()]
        print(f"{type(exc).__name__}: {text[-1] if text else ''}", file=sys.stderr)
        return 1
    return 0


def against_lean_filter(out: Any, feat: Any, kernels: Any, k: int, tolerance: float) -> str:
    """A self-check's verdict on one DynamicFilter output: a summary within ``tolerance`` of the
    lean filter's numpy form (no torch: a runtime-only install checks its libraries too), else
    RuntimeError."""
    import numpy as np

    from mgdn_edge.model.dynamic_filter_numpy import dynamic_filter_numpy

    expected = dynamic_filter_numpy(feat, kernels, k)
    diff = float(np.max(np.abs(out - expected))) if out.shape == expected.shape else float("inf")
    if not diff <= tolerance:
        raise RuntimeError(
            f"the DynamicFilter op gives wrong results (max abs diff {diff:.3g} > {tolerance} "
            "against the lean filter)"
        )
    return f"ok: max abs diff {diff:.3g}"
