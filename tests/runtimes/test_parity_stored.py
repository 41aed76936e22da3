"""``parity --reference REF.npz``: stored PyTorch outputs stand in for the checkpoint, torch-free."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mgdn_edge.cli import main
from mgdn_edge.errors import InputError
from mgdn_edge.model import preset
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.parity import read_stored_split


def _parity(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["parity", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_stored_outputs_are_the_checkpoints_and_judge_like_it(tiny_mff_export, tmp_path, capsys):
    ckpt, stored = tiny_mff_export.parent / "model.pth", tmp_path / "ref.npz"
    model = ["--runtime", "onnxruntime", "--model", str(tiny_mff_export)]
    code, live = _parity(capsys, *model, "--sizes", "24x30", "33x20", "--save-reference", str(stored))
    assert code == 0 and stored.is_file()
    # what was stored is what PyTorch computes on the stored inputs, recomputed independently here
    torch_runtime = open_runtime("torch", ckpt, task="mff")
    cases, reference, _ = read_stored_split(stored, torch_runtime.config)
    assert [c.inputs[0].shape for c in cases] == [(1, 3, 24, 30), (1, 3, 33, 20)]
    assert [r.name for r in reference.cases] == [c.name for c in cases]
    for case, stored_run in zip(cases, reference.cases, strict=True):
        np.testing.assert_array_equal(stored_run.output, torch_runtime.run(case.inputs))
    code, replay = _parity(capsys, *model, "--reference", str(stored))
    assert code == 0 and replay["reference"]["stored"] is True
    assert [c["outputs"] for c in replay["cases"]] == [c["outputs"] for c in live["cases"]]


def test_a_stored_output_off_by_a_hundredth_breaks_the_budget(tiny_mff_export, tmp_path, capsys):
    stored, tampered = tmp_path / "ref.npz", tmp_path / "tampered.npz"
    model = ["--runtime", "onnxruntime", "--model", str(tiny_mff_export)]
    assert _parity(capsys, *model, "--sizes", "24x30", "--save-reference", str(stored))[0] == 0
    with np.load(stored) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["s0_ref"] = arrays["s0_ref"] + np.float32(0.01)
    np.savez(tampered, **arrays)
    code, report = _parity(capsys, *model, "--reference", str(tampered))
    assert code == 1 and report["worst"]["max_abs"] == pytest.approx(0.01, abs=1e-4)
    assert any(v.startswith("max_abs") for v in report["cases"][0]["violations"])


def test_stored_outputs_of_another_layout_or_with_own_cases_are_one_line_errors(
    tiny_mff_export, tmp_path, cli_error
):
    np.savez(tmp_path / "hdr.npz", names=np.array(["x"]), s0_in0=np.zeros((1, 6, 8, 8), np.float32))
    with pytest.raises(InputError, match="no 's0_in1'"):
        read_stored_split(tmp_path / "hdr.npz", preset("mff"))
    np.savez(tmp_path / "plain.npz", A=np.zeros((1, 3, 8, 8), np.float32))
    model = ["parity", "--runtime", "onnxruntime", "--model", str(tiny_mff_export)]
    assert "no stored reference outputs" in cli_error([*model, "--reference", str(tmp_path / "plain.npz")])
    line = cli_error([*model, "--reference", str(tmp_path / "hdr.npz"), "--sizes", "8x8"])
    assert line.endswith("brings its own inputs: drop --sizes")
    assert "not found" in cli_error([*model, "--reference", str(tmp_path / "missing.npz")])


def test_a_path_holds_the_whole_file_or_none(tiny_mff_export, tmp_path, capsys):
    stored = tmp_path / "ref.npz"
    model = ["--runtime", "onnxruntime", "--model", str(tiny_mff_export)]
    assert _parity(capsys, *model, "--sizes", "16x16", "--save-reference", str(stored))[0] == 0
    assert [p.name for p in Path(tmp_path).iterdir()] == ["ref.npz"]  # no temporary left beside it
