"""Compiled-model cache for the OpenVINO runtime: one verified blob per compile key.

Why not hand OpenVINO one ``CACHE_DIR`` and let it key the blobs: OpenVINO names a blob by a hash
of the model and of the compile properties the device plugin lists in ``CACHING_PROPERTIES``, and
the CPU plugin lists only ``FULL_DEVICE_NAME`` (OpenVINO 2024.x to 2026.4 at least). The
inference precision, performance hint, thread count, profiling and snippets mode are therefore
*not* in the hash: a model compiled at f32 and then at bf16 maps to one blob, and the second
compile imports the first one's blob with the new properties applied on top of a graph
transformed for the old ones. On CPUs with AMX that gives an all-NaN bf16 output; elsewhere it
silently runs what the first compile prepared. Nor does OpenVINO's hash cover the code behind a
custom op, which it knows only by name.

So each compile gets its own folder, named by a digest of everything that shapes the compiled
model (:func:`compile_key`: model bytes, requested precision, every compile property, input
shapes, device name; the OpenVINO build and our extension name the parent folder). OpenVINO
writes at most one blob there. Blobs are whole or absent: a fresh compile writes into a hidden
staging folder, and its blob is renamed into the entry folder with a record (``blob.json``: its
name and sha256) written after it, under a lock. Before OpenVINO may import a blob, the blob must
match its record; a blob that does not (truncated, edited, copied in from elsewhere, left by
another tool) is deleted with one warning line and the model compiled afresh.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mgdn_edge.core.atomic import TMP_MARK, write_json
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.plugins import library_cache

MODEL_CACHE = "openvino-model-cache"
BLOB_SUFFIX = ".blob"
RECORD = "blob.json"
RECORD_FORMAT = "mgdn-edge compiled model"
LOCK = ".lock"


def model_cache_dir(extension: Path | None) -> Path | None:
    """The cache folder for models run with ``extension`` under this OpenVINO build, or None if
    it cannot be written (then nothing is cached)."""
    import openvino as ov

    version = str(ov.get_version())
    library = sha256_file(extension)[:16] if extension is not None else "no-extension"
    name = f"{library_cache.safe_name(version.split('-')[0])}-{library_cache.key_digest({'ov': version})[:8]}"
    folder = library_cache.cache_root() / MODEL_CACHE / f"{name}-{library}"
    if not library_cache.usable_dir(folder):
        return None
    for stray in folder.glob(f"*{BLOB_SUFFIX}"):  # blobs of the one-folder layout, keyed too loosely
        stray.unlink(missing_ok=True)
    return folder


def compile_key(
    model_files: Sequence[str],
    precision: str,
    config: Mapping[str, Any],
    shapes: Sequence[Sequence[int]] | None,
    device: str,
) -> dict[str, Any]:
    """Everything that makes one compiled model differ from another, as JSON-ready values.

    ``model_files``: sha256 of the files the model was read from; ``precision``: what the runtime
    made of them (e.g. fp16 weights compressed in memory); ``config``: every compile property;
    ``shapes``: the static input shapes, or None for the dynamic model; ``device``: the full name.
    """
    return {
        "model": list(model_files),
        "precision": precision,
        "config": {str(k): str(v) for k, v in sorted(config.items(), key=lambda kv: str(kv[0]))},
        "shapes": None if shapes is None else [list(s) for s in shapes],
        "device": device,
    }


class CacheEntry:
    """The folder of one compile key: at most one blob, and the record that vouches for it."""

    def __init__(self, root: Path, key: dict[str, Any]) -> None:
        self.key = key
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        self.folder = root / digest

    def blobs(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{BLOB_SUFFIX}"))

    def _record(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder / RECORD).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("format") == RECORD_FORMAT else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers and verifiers of this entry across processes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _problem(self) -> str | None:
        """Why the entry's blob must not be imported, or None (no blob, or one that matches)."""
        blobs = self.blobs()
        if not blobs:
            return None
        record = self._record()
        if len(blobs) > 1:
            return f"holds {len(blobs)} blobs where one is expected"
        if record is None:
            return f"holds {blobs[0].name}, which mgdn-edge did not record (written by another tool?)"
        if record.get("blob") != blobs[0].name or record.get("key") != self.key:
            return f"holds {blobs[0].name}, which its record does not describe"
        if record.get("sha256") != sha256_file(blobs[0]):
            size = blobs[0].stat().st_size
            return f"holds {blobs[0].name}, whose bytes changed since it was written ({size} bytes)"
        return None

    def discard(self) -> None:
        """Delete the entry's blob(s) and record."""
        for path in [*self.blobs(), self.folder / RECORD]:
            path.unlink(missing_ok=True)

    def verified(self) -> tuple[bool, str | None]:
        """(whether a blob OpenVINO may import is present, a warning line if one was deleted)."""
        try:
            with self._locked():
                problem = self._problem()
                if problem is not None:
                    self.discard()
                    return False, f"the compiled-model cache {self.folder} {problem}; deleted it, recompiling"
                return bool(self.blobs()), None
        except OSError:
            return False, None  # an unwritable cache only means no caching

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private CACHE_DIR for a fresh compile; afterwards its blob becomes the entry's."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=TMP_MARK, dir=self.folder))
        try:
            yield stage
            self._adopt(stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _adopt(self, stage: Path) -> None:
        """Rename the staged blob into the entry and record it (the record last, so a reader never
        finds a record for a blob that is not there)."""
        staged = sorted(stage.glob(f"*{BLOB_SUFFIX}"))
        if len(staged) != 1:
            return  # OpenVINO wrote no blob (a model it will not cache): nothing to adopt
        blob = staged[0]
        try:
            with self._locked():
                self.discard()
                record = {"format": RECORD_FORMAT, "blob": blob.name, "sha256": sha256_file(blob)}
                record["key"] = self.key
                os.replace(blob, self.folder / blob.name)
                write_json(self.folder / RECORD, record)
        except OSError:
            self.discard()  # a full disk mid-way leaves no blob without its record


def warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)
