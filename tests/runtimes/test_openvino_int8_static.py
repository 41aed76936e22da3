"""INT8 IRs compiled shape-specialised: the sequence that crashed OpenVINO natively, as a regression test.

NNCF quantization, then the quantized IR compiled for a static input shape and run, in one process
(a child, so a regression shows as a crash status rather than killing pytest). On OpenVINO 2026.4
this ended in SIGSEGV / "double free or corruption" whenever the channel attention's MatMuls were
int8 and the CPU plugin's snippets were on (runtimes/openvino/int8.py). Now ``quantize`` keeps those
MatMuls float and the runtime keeps snippets on; an IR quantized the old way is detected and runs
with snippets off. The model, the calibration images and the 48x48 size are the ones that
reproduced it; the model cache is off because a cached compile took another path that hid the crash.
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
import nncf, numpy as np, torch
from PIL import Image
import mgdn_edge.calibration.quantize_openvino as quantize_openvino
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
fp32 = open_runtime("openvino", work / "export", cache=False)
x = [np.random.default_rng(1).random((1, 3, 48, 48), dtype=np.float32) for _ in range(2)]
ref = fp32.run(x)


def run_int8(path):
    int8 = open_runtime("openvino", path, cache=False)
    for _ in range(3):
        out = int8.run(x)
    psnr = float(10 * np.log10(1.0 / np.mean((out.astype(np.float64) - ref) ** 2)))
    info = int8.describe()
    return {"shapes": info["shapes"], "precision": info["precision"], "psnr": psnr,
            "snippets": int8._compile_config().get("SNIPPETS_MODE", "default")}


now = quantize_model(work / "export", work / "pairs", "openvino", out=work / "now.xml", progress=False)
rest_f32 = open_runtime("openvino", now.path, cache=False, int8_rest="f32")
rest_f32.run(x)
has_bf16 = "BF16" in rest_f32.core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
rests = {"f32": rest_f32.describe()["inference_precision"],
         "default": open_runtime("openvino", now.path, cache=False).int8_rest, "has_bf16": has_bf16}
# The old recipe: only the DynamicFilter in the ignored scope, the channel attention quantized.
quantize_openvino._nncf_options = lambda method, keep_patterns=(): {
    "ignored_scope": nncf.IgnoredScope(types=["DynamicFilter"], validate=False),
    "model_type": nncf.ModelType.TRANSFORMER,
}
old = quantize_model(work / "export", work / "pairs", "openvino", out=work / "old.xml", progress=False)
print(json.dumps({"now": run_int8(now.path), "old": run_int8(old.path), "rests": rests}))
"""


def test_quantize_then_static_int8_compile_runs_in_one_process(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-1500:]}"
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for made in ("now", "old"):
        assert got[made]["shapes"] == "compiled per input shape" and got[made]["precision"] == "int8"
        assert got[made]["psnr"] >= 30.0  # INT8 of a random tiny model: a crash-free run must still be right
    assert got["now"]["snippets"] == "default"  # today's IRs keep the CPU plugin's snippets on
    assert got["old"]["snippets"] == "DISABLE"  # an IR with an int8 channel attention runs without them
    rests = got["rests"]  # the float remainder: bf16 where the CPU has it, f32 on request
    assert rests["f32"] == "f32" and rests["default"] == ("bf16" if rests["has_bf16"] else "f32")


def test_quantized_channel_attention_is_found_through_fake_quantize() -> None:
    """The detector on hand-built graphs: a channel-attention MatMul fed by FakeQuantize is found,
    the same MatMul on float inputs and an int8 MatMul elsewhere are not."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    from mgdn_edge.runtimes.openvino.int8 import quantized_channel_attention

    def graph(name: str, quantize: bool) -> ov.Model:
        a = ops.parameter([1, 6, 2, 16], np.float32)
        b = ops.parameter([1, 6, 16, 2], np.float32)
        lo, hi = ops.constant(np.float32(-1)), ops.constant(np.float32(1))
        left = ops.fake_quantize(a, lo, hi, lo, hi, 256) if quantize else a
        matmul = ops.matmul(left, b, False, False)
        matmul.set_friendly_name(name)
        return ov.Model([matmul], [a, b])

    name = "/layers.0/MGF/TCA_1/MatMul"
    assert quantized_channel_attention(graph(name, True)) == [name]
    assert quantized_channel_attention(graph("/layers.0/MGF/TCA/MatMul_1", False)) == []
    assert quantized_channel_attention(graph("/layers.0/blocks.0/attn/MatMul", True)) == []
