"""INT8 IRs compiled shape-specialised: the sequence that crashed OpenVINO natively, as a regression test.

NNCF quantization, then the quantized IR compiled for a static input shape and run, in one process
(a child, so a regression shows as a crash status rather than killing pytest). On OpenVINO 2026.4
this ended in SIGSEGV / "double free or corruption" until INT8 IRs compiled without the CPU
plugin's snippets (runtimes/openvino_runtime.py ``_compile_config``). The model, the calibration
images and the 48x48 size are the ones that reproduced it; the model cache is off because a
cached compile took another path that hid the crash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")
pytest.importorskip("nncf")

CHILD = """
import json, sys
from pathlib import Path
import numpy as np, torch
from PIL import Image
from mgdn_edge.calibration.quantize import quantize_model
from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN, preset
from mgdn_edge.runtimes import open_runtime

work = Path(sys.argv[1])
torch.manual_seed(0)
model = MGDN(preset("mff", embed_dim=12, depths=[1, 1], swin_heads=[2, 2], window_size=4)).eval()
export_model(model, work / "export", verify=False, fp16=False)
rng = np.random.default_rng(0)
for sub in ("A", "B"):
    (work / "pairs" / sub).mkdir(parents=True)
for i in range(4):
    for sub in ("A", "B"):
        image = Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8))
        image.save(work / "pairs" / sub / f"{i}.png")
result = quantize_model(work / "export", work / "pairs", "openvino", out=work / "q.xml", progress=False)
int8 = open_runtime("openvino", result.path, cache=False)
fp32 = open_runtime("openvino", work / "export", cache=False)
x = [np.random.default_rng(1).random((1, 3, 48, 48), dtype=np.float32) for _ in range(2)]
for _ in range(3):
    out = int8.run(x)
ref = fp32.run(x)
psnr = float(10 * np.log10(1.0 / np.mean((out.astype(np.float64) - ref) ** 2)))
info = int8.describe()
print(json.dumps({"shapes": info["shapes"], "precision": info["precision"], "psnr": psnr}))
"""


def test_quantize_then_static_int8_compile_runs_in_one_process(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-1500:]}"
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["shapes"] == "compiled per input shape" and got["precision"] == "int8"
    assert got["psnr"] >= 30.0  # INT8 of a random tiny model: a crash-free run must still be right
