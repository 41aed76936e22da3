"""Every command in docs/jetson.md's **tested** blocks runs here, with the exit status it states.

The blocks run in a scratch folder holding the authors' MFF checkpoint (linked) and an image
pair made from the Lytro fixture crop; the files they write are then checked against independent
facts (input sizes, the reference output against the PyTorch model on the same pair).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "jetson.md"
FIXTURES = REPO.parent / "shared" / "fixtures" / "official-mff"


def _tested_commands() -> list[tuple[str, int]]:
    """(command, expected exit status) of each line of the blocks that follow a **tested** marker."""
    text = DOC.read_text()
    commands = []
    for block in re.findall(r"\*\*tested\*\*\s*```sh\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.strip():
                expected = 2 if re.search(r"#\s*exit 2", line) else 0
                commands.append((line, expected))
    return commands


def test_doc_marks_every_block() -> None:
    """Each sh block is labelled tested or device-only, and the tested ones hold commands."""
    text = DOC.read_text()
    blocks = re.findall(r"(\*\*(?:tested|device-only)\*\*\s*)?```sh\n", text)
    assert blocks and all(blocks), "an unlabelled sh block in docs/jetson.md"
    assert len(_tested_commands()) >= 5


def test_tested_blocks_run(tmp_path: Path) -> None:
    ckpt = FIXTURES / "mff_62000_E.pth"
    crop = FIXTURES / "mff_lytro01_crop96.npz"
    for path in (ckpt, crop):
        if not path.exists():
            pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    (tmp_path / "mff_62000_E.pth").symlink_to(ckpt)
    data = np.load(crop)
    for key, name in (("A", "A.png"), ("B", "B.png")):
        img = (data[key][0].transpose(1, 2, 0) * 255 + 0.5).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / name), img[:, :, ::-1])
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for command, expected in _tested_commands():
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == expected, (command, proc.stdout[-2000:], proc.stderr[-2000:])
        if expected == 2:
            assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    h, w = data["A"].shape[2:]
    out = tmp_path / "mff_export"
    for name in ("a.bin", "b.bin"):
        assert (out / name).stat().st_size == 3 * h * w * 4
    a = np.fromfile(out / "a.bin", dtype="<f4").reshape(1, 3, h, w)
    assert np.abs(a - data["A"]).max() <= 0.5 / 255 + 1e-6  # the PNG's 8-bit rounding only
    reference = np.load(out / "reference.npy")
    assert reference.dtype == np.float32 and np.squeeze(reference).shape in {(h, w, 3), (3, h, w)}
