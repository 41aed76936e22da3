"""mgdn_edge.core.atomic: folders replaced whole, one writer per destination, inputs never overwritten."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from mgdn_edge.core.atomic import (
    TMP_MARK,
    DestinationBusy,
    atomic_directory,
    destination_lock,
    lock_path,
    refuse_overwriting_inputs,
    write_text_or_stdout,
)
from mgdn_edge.core.errors import InputError


def _tree(folder):
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_atomic_directory_replaces_whole_or_keeps_old(tmp_path):
    dest = tmp_path / "dest"
    with atomic_directory(dest) as tmp:
        (tmp / "a.txt").write_text("old")
    assert _tree(dest) == {"a.txt": "old"}
    with pytest.raises(RuntimeError), atomic_directory(dest) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("writer died")
    assert _tree(dest) == {"a.txt": "old"}  # the failed writer left nothing behind
    with atomic_directory(dest) as tmp:
        (tmp / "b.txt").write_text("new")
    assert _tree(dest) == {"b.txt": "new"}  # replaced whole: no old file mixed in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]  # no temporaries, no lock file


def test_second_writer_to_one_destination_is_refused_by_name(tmp_path):
    dest = tmp_path / "dest"
    with destination_lock(dest):
        busy = pytest.raises(DestinationBusy, match=f"another mgdn-edge process is writing {dest}$")
        with busy, atomic_directory(dest):
            pass
        # another process sees the same lock (flock, not a Python-level flag)
        code = textwrap.dedent(
            f"""
            from mgdn_edge.core.atomic import atomic_directory, DestinationBusy
            try:
                with atomic_directory({str(dest)!r}):
                    pass
            except DestinationBusy as exc:
                print(exc)
            """
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"another mgdn-edge process is writing {dest}"
    assert not lock_path(dest).exists()
    with atomic_directory(dest) as tmp:  # released: the next writer goes ahead
        (tmp / "x").write_text("1")
    assert _tree(dest) == {"x": "1"}


def test_atomic_directory_refuses_a_file_destination(tmp_path):
    dest = tmp_path / "file"
    dest.write_text("keep")
    with pytest.raises(InputError, match="exists and is not a folder"), atomic_directory(dest):
        pass
    assert dest.read_text() == "keep"


def test_refuse_overwriting_inputs_compares_resolved_paths(tmp_path):
    src = tmp_path / "export" / "model.onnx"
    src.parent.mkdir()
    src.write_text("x")
    sneaky = tmp_path / "export" / ".." / "export" / "model.onnx"
    with pytest.raises(InputError, match=r"--out .* is the input .*model\.onnx"):
        refuse_overwriting_inputs([("--out", sneaky)], [src])
    link = tmp_path / "link.onnx"
    os.symlink(src, link)
    with pytest.raises(InputError, match="is the input"):
        refuse_overwriting_inputs([("--out", link)], [src])
    with pytest.raises(InputError, match="holds the input"):  # a folder output replacing the input's folder
        refuse_overwriting_inputs([("--out", tmp_path / "export")], [src])
    refuse_overwriting_inputs([("--out", tmp_path / "export" / "model.int8.onnx")], [src, None])


def test_json_dash_is_stdout(tmp_path, capsys):
    write_text_or_stdout("-", '{"a": 1}\n')
    assert capsys.readouterr().out == '{"a": 1}\n'
    write_text_or_stdout(tmp_path / "r.json", '{"a": 2}\n')
    assert (tmp_path / "r.json").read_text() == '{"a": 2}\n'
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_MARK)]
