"""The OpenVINO runtime and IR conversion against independent PyTorch references.

References: the authors' MFF outputs stored with the fixture crops, the architecture fixtures'
golden HDR/GDSR outputs, and our PyTorch runtime where a size has no stored output. One export
per task is shared by the module; each runtime is opened once and then fed several sizes (it
compiles a shape-specialised model per size; the dynamic model is checked against it).
What every backend promises (inputs refused by name, `fuse` per task): test_runtime_contract.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runtime_cases import png

from mgdn_edge.cli import main
from mgdn_edge.core.budgets import budget_for
from mgdn_edge.core.errors import BackendError
from mgdn_edge.model.config import MGDNConfig
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.parity import image_metrics, violations

ov = pytest.importorskip("openvino")
from mgdn_edge.plugins import library_cache, openvino_ext  # noqa: E402
from mgdn_edge.runtimes.openvino import runtime as openvino_runtime  # noqa: E402
from mgdn_edge.runtimes.openvino.channels_last_filter import CHANNELS_LAST_OP  # noqa: E402
from mgdn_edge.runtimes.openvino.convert import convert_to_openvino  # noqa: E402
from mgdn_edge.runtimes.openvino.ir import count_filter_ops, read_ir_description  # noqa: E402
from mgdn_edge.runtimes.openvino.window_attention import ATTENTION_OP  # noqa: E402

TOL = 1e-4
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
CHECKPOINTS = {
    "mff": FIXTURES / "official-mff" / "mff_62000_E.pth",
    "hdr": FIXTURES / "architecture" / "hdr_arch_depth222_seed1234.pth",
    "gdsr": FIXTURES / "architecture" / "gdsr_arch_seed1234.pth",
}


def _fixture(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    return path


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory) -> Path:
    """The compiled-model cache of these tests goes to a temp folder, not the shared ~/.cache."""
    root = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root))
        yield root


@pytest.fixture(scope="module")
def extension(ov_extension: Path) -> Path:
    return ov_extension


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """Export folders of the authors' MFF model and the HDR / GDSR architecture fixtures."""
    from mgdn_edge.export.onnx_export import export_checkpoint

    out = {}
    for task, ckpt in CHECKPOINTS.items():
        folder = tmp_path_factory.mktemp(f"ov_{task}")
        export_checkpoint(_fixture(ckpt), folder, task=task, verify=False)
        out[task] = folder
    return out


@pytest.fixture(scope="module")
def irs(exports, extension, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ir")
    out = {
        task: convert_to_openvino(exports[task], folder / f"{task}.xml", extension=extension)
        for task in exports
    }
    out["mff16"] = convert_to_openvino(exports["mff"], folder / "mff16.xml", "fp16", extension=extension)
    return out


@pytest.fixture(scope="module")
def runtimes(exports, irs, extension) -> dict[str, object]:
    """Compiled once per module; every test feeds them several sizes."""
    opened = {}
    for task in ("mff", "hdr", "gdsr"):
        opened[f"{task}-onnx"] = open_runtime("openvino", exports[task], task=task, extension=extension)
        opened[f"{task}-ir"] = open_runtime("openvino", irs[task], task=task, extension=extension)
    return opened


def _mff_crops() -> list[dict[str, np.ndarray]]:
    crops = []
    for name in ("crop64", "crop96", "crop61x75"):
        data = np.load(_fixture(FIXTURES / "official-mff" / f"mff_lytro01_{name}.npz"))
        crops.append({k: data[k] for k in data.files})
    return crops


def _within(precision: str, task: str, reference: np.ndarray, output: np.ndarray) -> list[str]:
    return violations(image_metrics(reference, output, task), budget_for(precision), task)


# --------------------------------------------------------------------------- FP32 parity


@pytest.mark.parametrize("form", ["onnx", "ir"])
def test_fp32_reproduces_authors_mff_output_at_three_sizes(runtimes, form):
    rt = runtimes[f"mff-{form}"]
    for crop in _mff_crops():  # 64x64, 96x96, 61x75 through one runtime
        got = rt.run([crop["A"], crop["B"]])
        assert got.dtype == np.float32 and got.shape == crop["out"].shape
        assert np.abs(got - crop["out"]).max() <= TOL
    assert rt.describe()["inference_precision"] == "f32"


def test_shape_specialised_and_dynamic_models_agree(exports, extension):
    dynamic = open_runtime("openvino", exports["mff"], extension=extension, specialize=False)
    special = open_runtime("openvino", exports["mff"], extension=extension)
    assert dynamic.describe()["shapes"] == "as compiled"
    assert special.describe()["shapes"] == "compiled per input shape"
    crops = _mff_crops()
    for crop in [*crops, crops[0]]:  # back to the first size: compiled again, same result
        inputs = [crop["A"], crop["B"]]
        got = special.run(inputs)
        assert np.abs(got - crop["out"]).max() <= TOL
        assert np.abs(got - dynamic.run(inputs)).max() <= 1e-5


@pytest.mark.parametrize("form", ["onnx", "ir"])
def test_fp32_hdr_two_sizes_and_a_batch(runtimes, form):
    data = np.load(_fixture(FIXTURES / "architecture" / "hdr_arch_io.npz"))
    rt = runtimes[f"hdr-{form}"]
    for size in ("64x80", "61x75"):
        got = rt.run([data[f"{size}_in{i}"] for i in range(3)])
        assert np.abs(got - data[f"{size}_out"]).max() <= TOL
    batch = [np.concatenate([data[f"64x80_in{i}"]] * 2) for i in range(3)]
    got = rt.run(batch)
    assert got.shape[0] == 2 and np.abs(got - data["64x80_out"]).max() <= TOL


@pytest.mark.parametrize("form", ["onnx", "ir"])
def test_fp32_gdsr_fixture_and_a_second_size(runtimes, form):
    data = np.load(_fixture(FIXTURES / "architecture" / "gdsr_arch_io.npz"))
    rt = runtimes[f"gdsr-{form}"]
    assert np.abs(rt.run([data["rgb"], data["depth"]]) - data["out"]).max() <= TOL
    crop = [
        np.ascontiguousarray(data["rgb"][..., 3:40, 5:50]),
        np.ascontiguousarray(data["depth"][..., 3:40, 5:50]),
    ]
    expected = open_runtime("torch", CHECKPOINTS["gdsr"], task="gdsr").run(crop)
    assert np.abs(rt.run(crop) - expected).max() <= TOL


# --------------------------------------------------------------------------- reduced precision


def test_fp16_ir_is_within_the_fp16_budget(irs, extension):
    rt = open_runtime("openvino", irs["mff16"], precision="fp16", extension=extension)
    info = rt.describe()
    assert info["file_precision"] == "fp16" and info["inference_precision"] == "f32"
    assert "decompressed to f32" in info["executes"]
    for crop in _mff_crops():
        got = rt.run([crop["A"], crop["B"]])
        assert _within("fp16", "mff", crop["out"], got) == []
        assert np.abs(got - crop["out"]).max() > 0  # the weights really are rounded


def test_fp16_weights_halve_the_ir(irs, extension):
    size = {k: irs[k].with_suffix(".bin").stat().st_size for k in ("mff", "mff16")}
    assert size["mff16"] < 0.55 * size["mff"]
    assert read_ir_description(_read(irs["mff16"], extension)).precision == "fp16"


def _read(xml: Path, extension: Path):
    core = ov.Core()
    core.add_extension(str(extension))
    return core.read_model(str(xml))


def test_bf16_within_budget_or_refused(exports, extension):
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in caps:
        with pytest.raises(BackendError, match="no bf16"):
            open_runtime("openvino", exports["mff"], precision="bf16", extension=extension)
        pytest.skip("CPU has no bf16")
    rt = open_runtime("openvino", exports["mff"], precision="bf16", extension=extension)
    info = rt.describe()
    assert info["inference_precision"] == "bf16" and info["dynamic_filter_precision"] == "bf16"
    for crop in _mff_crops():
        assert _within("bf16", "mff", crop["out"], rt.run([crop["A"], crop["B"]])) == []


def test_bf16_filters_fed_bf16_give_the_f32_fed_output(exports, extension, monkeypatch):
    """The Converts that feed the filter bf16 move no value: the same image as the filter in f32."""
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("CPU has no bf16")
    crop = _mff_crops()[0]
    fed = open_runtime("openvino", exports["mff"], precision="bf16", extension=extension, cache=False)
    monkeypatch.setattr(openvino_runtime, "feed_extension_ops", lambda model, compute: 0)
    as_read = open_runtime("openvino", exports["mff"], precision="bf16", extension=extension, cache=False)
    outputs = [rt.run([crop["A"], crop["B"]]) for rt in (fed, as_read)]
    assert [rt.describe()["dynamic_filter_precision"] for rt in (fed, as_read)] == ["bf16", "f32"]
    assert np.abs(outputs[0] - outputs[1]).max() < 1e-4  # bf16 steps here are ~4e-3


def test_bf16_refused_where_the_cpu_lacks_it(exports, extension, monkeypatch):
    real = ov.Core.get_property

    def no_bf16(self, *args):
        if args[-1] == "OPTIMIZATION_CAPABILITIES":
            return ["FP32", "INT8"]
        return real(self, *args)

    monkeypatch.setattr(ov.Core, "get_property", no_bf16)
    with pytest.raises(BackendError, match=r"no bf16 execution here \(its capabilities: FP32, INT8\)"):
        open_runtime("openvino", exports["mff"], precision="bf16", extension=extension)


def test_a_file_is_not_relabelled(irs, extension):
    with pytest.raises(BackendError, match="built as fp16; open it with precision 'fp16'"):
        open_runtime("openvino", irs["mff16"], precision="fp32", extension=extension)
    with pytest.raises(BackendError, match="built as fp32.*NNCF"):
        open_runtime("openvino", irs["mff"], precision="int8", extension=extension)


# --------------------------------------------------------------------------- options, errors


def test_threads_and_hint_reach_openvino(irs, extension):
    info = open_runtime("openvino", irs["gdsr"], threads=1, hint="throughput", extension=extension).describe()
    assert info["threads"] == 1 and info["hint"] == "THROUGHPUT"
    with pytest.raises(BackendError, match="unknown performance hint 'fastest'"):
        open_runtime("openvino", irs["gdsr"], hint="fastest", extension=extension)
    with pytest.raises(BackendError, match="device 'NPU9' is not available"):
        open_runtime("openvino", irs["gdsr"], device="NPU9", extension=extension)


def test_missing_extension_names_the_file(irs, exports, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "libmgdn_openvino.so"
    with pytest.raises(BackendError, match=f"extension not found: {missing}"):
        open_runtime("openvino", irs["mff"], extension=missing)
    monkeypatch.setenv(openvino_ext.ENV_VAR, str(missing))
    with pytest.raises(BackendError, match=rf"{missing} \(from the \$MGDN_OPENVINO_EXTENSION\)"):
        open_runtime("openvino", exports["mff"])
    # Default location, no build tools: the error names the default file, nothing is built.
    monkeypatch.delenv(openvino_ext.ENV_VAR)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(library_cache, "fallback_root", lambda: tmp_path / "fallback")
    monkeypatch.setattr(openvino_ext, "can_build", lambda: False)
    expected = openvino_ext.default_extension_dir() / "libmgdn_openvino.so"
    assert expected.is_relative_to(tmp_path / ".cache" / "mgdn-edge" / "openvino")
    with pytest.raises(BackendError, match=f"looked for {expected}.*cannot be built here"):
        open_runtime("openvino", irs["mff"])
    # A model without the op needs no library at all.
    portable = open_runtime("openvino", exports["mff"] / "model.portable.onnx")
    assert portable.describe()["extension"] is None


def test_corrupt_extension_is_named(irs, tmp_path):
    bogus = tmp_path / "libmgdn_openvino.so"
    bogus.write_bytes(b"not a shared library")
    with pytest.raises(BackendError, match=f"could not load the extension {bogus}"):
        open_runtime("openvino", irs["mff"], extension=bogus)


# --------------------------------------------------------------------------- conversion


def test_ir_records_config_and_keeps_the_op(irs, exports, extension):
    import json

    manifest = json.loads((exports["hdr"] / "manifest.json").read_text())
    described = read_ir_description(_read(irs["hdr"], extension))
    assert described.config == MGDNConfig.from_dict(manifest["config"])
    assert described.static_size is None and described.precision == "fp32"
    model = _read(irs["hdr"], extension)
    assert count_filter_ops(model) == _onnx_filter_nodes(exports["hdr"]) > 0
    # every filter was converted channels-last (the layout of the convolutions around it)
    assert sum(op.get_type_name() == CHANNELS_LAST_OP for op in model.get_ops()) == count_filter_ops(model)


def _onnx_filter_nodes(folder: Path) -> int:
    import onnx

    graph = onnx.load(str(folder / "model.onnx")).graph
    return sum(n.domain == "mgdn" and n.op_type == "DynamicFilter" for n in graph.node)


@pytest.mark.parametrize("task", ["mff", "hdr", "gdsr"])
def test_each_window_attention_is_one_op(irs, extension, task):
    """Every transformer block's attention reaches OpenVINO as one WindowAttention op (the FP32
    and bf16 tests above judge its numbers through the same models)."""
    model = _read(irs[task], extension)
    depths = read_ir_description(model).config.depths
    assert sum(op.get_type_name() == ATTENTION_OP for op in model.get_ops()) == sum(depths)


def test_failed_convert_leaves_nothing(exports, extension, tmp_path, monkeypatch):
    def broken_save(model, path, compress_to_fp16):
        Path(path).write_text("<half")
        Path(path).with_suffix(".bin").write_bytes(b"\0")
        raise RuntimeError("Exception from src/core/serialize.cpp:1:\ndisk full")

    monkeypatch.setattr(ov, "save_model", broken_save)
    with pytest.raises(BackendError, match="cannot save the OpenVINO IR .*: disk full"):
        convert_to_openvino(exports["mff"], tmp_path / "m.xml", extension=extension)
    assert list(tmp_path.iterdir()) == []


def test_convert_cli(exports, extension, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(openvino_ext.ENV_VAR, str(extension))
    out = tmp_path / "gdsr.xml"
    assert main(["convert", "--runtime", "openvino", "--model", str(exports["gdsr"]), "--out", str(out)]) == 0
    assert f"{_onnx_filter_nodes(exports['gdsr'])} DynamicFilter ops" in capsys.readouterr().out
    assert out.is_file() and out.with_suffix(".bin").is_file()
    argv = ["convert", "--runtime", "openvino", "--model", str(tmp_path / "none"), "--out", str(out)]
    assert main(argv) == 2
    assert "model file not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- full size


@pytest.mark.slow  # 40-80 s on 2 shared cores: the PyTorch reference at Lytro size dominates
def test_full_lytro_size_fp32(runtimes):
    crop = _mff_crops()[1]  # 96x96 of a real Lytro pair, reflected out to the full 520x520
    pad = ((0, 0), (0, 0), (212, 212), (212, 212))
    inputs = [np.pad(crop[k], pad, mode="symmetric") for k in ("A", "B")]
    expected = open_runtime("torch", CHECKPOINTS["mff"], task="mff").run(inputs)
    got = runtimes["mff-ir"].run(inputs)
    assert got.shape == (1, 3, 520, 520)
    assert np.abs(got - expected).max() <= TOL


# --------------------------------------------------------------------------- start-up and caches


@pytest.fixture
def compile_calls(monkeypatch) -> list[object]:
    calls: list[object] = []
    original = ov.Core.compile_model

    def counting(self, model, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(model)
        return original(self, model, *args, **kwargs)

    monkeypatch.setattr(ov.Core, "compile_model", counting)
    return calls


def test_open_compiles_nothing_and_each_shape_once(exports, extension, compile_calls):
    rt = open_runtime("openvino", exports["mff"], extension=extension)
    assert compile_calls == []  # opening validates the file without compiling the dynamic model
    crops = _mff_crops()
    for crop in (crops[0], crops[0], crops[1]):
        assert np.abs(rt.run([crop["A"], crop["B"]]) - crop["out"]).max() <= TOL
    assert len(compile_calls) == 2  # 64x64 once (reused for the second call), then 96x96
    assert all(not p.get_partial_shape().is_dynamic for m in compile_calls for p in m.inputs)
    assert rt.describe()["inference_precision"] == "f32" and len(compile_calls) == 2


def test_unspecialised_runtime_compiles_the_dynamic_model_once(exports, extension, compile_calls):
    rt = open_runtime("openvino", exports["mff"], extension=extension, specialize=False)
    assert compile_calls == []
    for crop in _mff_crops():
        assert np.abs(rt.run([crop["A"], crop["B"]]) - crop["out"]).max() <= TOL
    assert len(compile_calls) == 1 and compile_calls[0].inputs[0].get_partial_shape().is_dynamic


def test_a_bad_model_still_fails_in_one_line(exports, extension, monkeypatch):
    """Compile failures moved from open to the first run: still a BackendError naming the file."""
    rt = open_runtime("openvino", exports["mff"], extension=extension)

    def broken(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Exception from src/plugin.cpp:1:\nno kernel for op X")

    monkeypatch.setattr(ov.Core, "compile_model", broken)
    with pytest.raises(BackendError, match=r"OpenVINO cannot compile model.onnx: no kernel for op X"):
        rt.run([np.zeros((1, 3, 32, 32), np.float32)] * 2)


def test_model_cache_is_reused_across_runtimes(exports, extension, tmp_path, monkeypatch):
    """Keys, verification and NaN recovery: tests/runtimes/test_openvino_model_cache.py."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    crop = _mff_crops()[0]
    first = open_runtime("openvino", exports["mff"], extension=extension)
    assert first.model_cache is not None and first.model_cache.is_relative_to(tmp_path / "xdg" / "mgdn-edge")
    first.run([crop["A"], crop["B"]])
    blobs = sorted(first.model_cache.rglob("*.blob"))
    assert len(blobs) == 1
    second = open_runtime("openvino", exports["mff"], extension=extension)  # a new ov.Core
    assert np.abs(second.run([crop["A"], crop["B"]]) - crop["out"]).max() <= TOL
    assert sorted(first.model_cache.rglob("*.blob")) == blobs  # the blob was imported: none added
    assert "model_cache" in first.describe()
    uncached = open_runtime("openvino", exports["mff"], extension=extension, cache=False)
    assert uncached.model_cache is None


def test_fuse_with_a_truncated_cached_extension_is_one_line(exports, extension, tmp_path, monkeypatch):
    """The issue: a truncated ~/.cache library made every OpenVINO command die of SIGBUS (135)."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    files = [png(tmp_path / f"in{i}.png", rng.random((24, 24, 3))) for i in range(2)]
    argv = [sys.executable, "-m", "mgdn_edge.cli", "fuse", "--task", "mff", "--runtime", "openvino"]
    argv += ["--model", str(exports["mff"])]
    argv += [*files, "-o", str(tmp_path / "out.png")]
    home = tmp_path / "home"
    env = {"HOME": str(home), "TMPDIR": str(tmp_path), "PATH": "/nonexistent"}  # no cmake, no compiler
    for name in ("XDG_CACHE_HOME", openvino_ext.ENV_VAR, "CXX", *library_cache.FLAG_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The default library of exactly that environment, cached and then truncated.
    library = openvino_ext.default_extension_dir() / openvino_ext.EXTENSION_LIBRARY
    library_cache.install_library(extension, library, openvino_ext.extension_key())
    library.write_bytes(extension.read_bytes()[:100_000])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: OpenVINO extension {library} does not match its manifest's sha256")
    assert "build-plugins --openvino --clean" in lines[0]
    # The same bytes named by $MGDN_OPENVINO_EXTENSION (no manifest): the self-check child crashes.
    truncated = tmp_path / "elsewhere" / openvino_ext.EXTENSION_LIBRARY
    truncated.parent.mkdir()
    truncated.write_bytes(library.read_bytes())
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env | {openvino_ext.ENV_VAR: str(truncated)}, timeout=600
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"could not load the extension {truncated}" in lines[0]
    assert "crashed a child process (SIG" in lines[0]
