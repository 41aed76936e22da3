"""A filesystem that refuses a write (full, read-only, over quota, forbidden) is one ``error:`` line
naming the destination, status 2, and nothing half-written: a real small tmpfs where this machine
lets a test mount one, a faked errno for what root cannot meet (EACCES, EDQUOT)."""

from __future__ import annotations

import errno
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mgdn_edge.core import atomic
from mgdn_edge.core.errors import WriteError
from mgdn_edge.export.artefacts import sha256_file


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs: room for one export of the tiny MFF model's size class, not for two."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _export_argv(checkpoint: Path, out: Path) -> list[str]:
    return ["export", "--task", "mff", "--model", str(checkpoint), "--out", str(out), "--no-verify"]


def test_export_onto_a_full_filesystem_is_one_line_and_leaves_the_old_export_whole(
    mff_checkpoint, small_fs, cli_error
):
    from mgdn_edge.cli import main

    out = small_fs / "export"
    assert main(_export_argv(mff_checkpoint, out)) == 0  # the first export fits
    manifest = json.loads((out / "manifest.json").read_text())
    before = {p.name: sha256_file(p) for p in out.iterdir()}

    line = cli_error(_export_argv(mff_checkpoint, out))  # the second needs room for both copies
    assert line.startswith(f"error: cannot write {out}: No space left on device (ENOSPC);"), line
    assert "written before it failed" in line and "free on that filesystem" in line
    assert {p.name: sha256_file(p) for p in out.iterdir()} == before
    assert all(before[name] == entry["sha256"] for name, entry in manifest["files"].items())
    assert sorted(p.name for p in small_fs.iterdir()) == ["export"]  # no temporary left behind


def test_export_onto_a_read_only_filesystem_is_one_line(mff_checkpoint, small_fs, cli_error):
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    line = cli_error(_export_argv(mff_checkpoint, small_fs / "export"))
    assert line == f"error: cannot write {small_fs / 'export'}: Read-only file system (EROFS)"
    assert list(small_fs.iterdir()) == []


@pytest.mark.parametrize(
    ("code", "name"), [(errno.EACCES, "EACCES"), (errno.EDQUOT, "EDQUOT"), (errno.EPERM, "EPERM")]
)
def test_a_refused_write_names_the_destination_not_the_temporary(tmp_path, monkeypatch, code, name):
    def refuse(src, dst):  # type: ignore[no-untyped-def]
        raise OSError(code, "refused", str(dst))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    dest = tmp_path / "out.json"
    with pytest.raises(WriteError, match=rf"^cannot write {dest}: refused \({name}\)"):
        atomic.write_json(dest, {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_input_is_not_reported_as_a_write(tmp_path):
    """An EACCES about another path inside the writer's block passes through unchanged."""
    with pytest.raises(PermissionError) as caught, atomic.atomic_files(tmp_path / "out.bin"):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "input.png"))
    assert not isinstance(caught.value, WriteError)


def test_a_filesystem_error_outside_the_writers_is_one_line(monkeypatch, cli_error):
    from mgdn_edge.cli import info as info_cli

    def refuse(args):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, "Read-only file system", "/mnt/ro/report.json")

    monkeypatch.setattr(info_cli, "run", refuse)
    line = cli_error(["info", "whatever.pth"])
    assert line == "error: Read-only file system: /mnt/ro/report.json (EROFS)"
