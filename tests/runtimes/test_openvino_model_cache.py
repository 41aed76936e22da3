"""The OpenVINO compiled-model cache: one blob per compile key, verified before OpenVINO imports it.

OpenVINO's CPU plugin keys its blobs by the model and the device name only, so a blob compiled at
one precision was imported by a compile at another (all-NaN bf16 on AMX CPUs). References: the
same model compiled with the cache off, in the same process, and the authors' MFF outputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mgdn_edge.core.budgets import budget_for
from mgdn_edge.core.errors import BackendError
from mgdn_edge.export.artefacts import sha256_file
from mgdn_edge.runtimes import open_runtime
from mgdn_edge.runtimes.parity import image_metrics, violations

ov = pytest.importorskip("openvino")
from mgdn_edge.runtimes.openvino.model_cache import RECORD, model_cache_dir  # noqa: E402
from mgdn_edge.runtimes.openvino.runtime import unavailable_reason  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
MFF = FIXTURES / "official-mff"
HAS_BF16 = unavailable_reason("bf16") is None


def _fixture(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test starts from an empty compiled-model cache of its own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


@pytest.fixture(scope="module")
def extension(ov_extension: Path) -> Path:
    return ov_extension


@pytest.fixture(scope="module")
def mff_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mgdn_edge.export.onnx_export import export_checkpoint

    folder = tmp_path_factory.mktemp("mff_export")
    export_checkpoint(_fixture(MFF / "mff_62000_E.pth"), folder, task="mff", verify=False, fp16=False)
    return folder


@pytest.fixture(scope="module")
def crop() -> dict[str, np.ndarray]:
    data = np.load(_fixture(MFF / "mff_lytro01_crop64.npz"))
    return {k: data[k] for k in data.files}


def _open(model: Path, extension: Path, **options):  # type: ignore[no-untyped-def]
    return open_runtime("openvino", model, task="mff", extension=extension, **options)


def _run(model: Path, extension: Path, x: list[np.ndarray], **options) -> tuple[np.ndarray, object]:
    rt = _open(model, extension, **options)
    return rt.run(x), rt


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning:")]


# Two compile configurations every CPU offers; bf16 where the CPU has it (the case seen all-NaN).
OTHER = {"precision": "bf16"} if HAS_BF16 else {"threads": 1}


def test_each_compile_config_has_its_own_blob_and_a_second_runtime_imports_it(
    mff_export, extension, crop, capsys
):
    x = [crop["A"], crop["B"]]
    configs = {"fp32": {}, "fp16": {"precision": "fp16"}, "other": OTHER}
    entries, first = {}, {}
    for name, options in configs.items():
        first[name], rt = _run(mff_export, extension, x, **options)
        assert not rt._specialized.loaded_from_cache()
        entries[name] = rt._specialized.entry.folder
        assert len(rt._specialized.entry.blobs()) == 1 and (entries[name] / RECORD).is_file()
    assert len(set(entries.values())) == len(configs), "two compile configs shared one cache entry"
    for name, options in configs.items():
        again, rt = _run(mff_export, extension, x, **options)  # a new ov.Core, as a second process has
        assert rt._specialized.loaded_from_cache(), f"{name}: the cache did not save the compile"
        assert np.abs(again - first[name]).max() == 0.0, name
        uncached, _ = _run(mff_export, extension, x, cache=False, **options)
        assert np.abs(uncached - first[name]).max() == 0.0, name
        precision = options.get("precision", "fp32")
        assert violations(image_metrics(crop["out"], again, "mff"), budget_for(precision), "mff") == []
    assert _warnings(capsys.readouterr().err) == []


def test_the_cache_folder_is_keyed_by_the_extension_bytes(extension, tmp_path):
    folder = model_cache_dir(extension)
    assert folder is not None and folder.name.endswith(sha256_file(extension)[:16])
    other = tmp_path / "libmgdn_openvino.so"
    other.write_bytes(extension.read_bytes() + b"\0")
    assert model_cache_dir(other) != folder and model_cache_dir(None) != folder


def _spoil(how: str, entry, foreign_blob: Path) -> None:  # type: ignore[no-untyped-def]
    blob = entry.blobs()[0]
    if how == "truncated":
        blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    elif how == "foreign":  # another config's blob under this entry's name (OpenVINO's name matches)
        blob.unlink()
        shutil.copyfile(foreign_blob, blob)
    elif how == "unrecorded":
        (entry.folder / RECORD).unlink()


@pytest.mark.parametrize("how", ["truncated", "foreign", "unrecorded"])
def test_a_blob_that_does_not_match_its_record_is_deleted_with_one_warning(
    how, mff_export, extension, crop, capsys
):
    x = [crop["A"], crop["B"]]
    _, fp32 = _run(mff_export, extension, x)
    reference, rt = _run(mff_export, extension, x, **OTHER)
    _spoil(how, rt._specialized.entry, fp32._specialized.entry.blobs()[0])
    capsys.readouterr()
    out, again = _run(mff_export, extension, x, **OTHER)
    warnings = _warnings(capsys.readouterr().err)
    assert len(warnings) == 1 and str(again._specialized.entry.folder) in warnings[0], warnings
    assert not again._specialized.loaded_from_cache()
    assert np.abs(out - reference).max() == 0.0
    _, third = _run(mff_export, extension, x, **OTHER)  # the fresh blob was recorded: imported, quietly
    assert third._specialized.loaded_from_cache() and _warnings(capsys.readouterr().err) == []


def _nan_copy(export: Path, folder: Path) -> Path:
    """``export``'s model.onnx with one weight set to NaN (no manifest: a plain file)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(export / "model.onnx")
    weight = next(t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and t.dims)
    values = numpy_helper.to_array(weight).copy()
    values.flat[0] = np.nan
    weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    folder.mkdir()
    onnx.save(model, folder / "model.onnx")
    return folder / "model.onnx"


def test_nan_from_an_imported_blob_is_recomputed_by_a_fresh_compile(
    mff_export, extension, crop, tmp_path, capsys
):
    """A blob that passes its record (here a forged one) but computes NaN: deleted, recompiled, one
    warning, the correct output; only a fresh compile's NaN is judged (and blamed on the weights)."""
    x = [crop["A"], crop["B"]]
    reference, good = _run(mff_export, extension, x)
    nan_model = _nan_copy(mff_export, tmp_path / "nan")
    bad = _open(nan_model, extension)
    with pytest.raises(BackendError, match="its weights hold NaN/Inf"):
        bad.run(x)
    assert _warnings(capsys.readouterr().err) == []  # a fresh compile's NaN: no cache warning
    entry = good._specialized.entry
    blob = entry.blobs()[0]
    shutil.copyfile(bad._specialized.entry.blobs()[0], blob)
    record = json.loads((entry.folder / RECORD).read_text())
    (entry.folder / RECORD).write_text(json.dumps({**record, "sha256": sha256_file(blob)}))

    out, again = _run(mff_export, extension, x)
    warnings = _warnings(capsys.readouterr().err)
    assert len(warnings) == 1 and "gave NaN/Inf" in warnings[0] and "recompiled" in warnings[0], warnings
    assert np.abs(out - reference).max() == 0.0
    assert not again._specialized.loaded_from_cache()


# ----------------------------------------------------------------------------------- full size


def _full_size_pair(size: int = 520) -> list[np.ndarray]:
    """The authors' Lytro crop (96x96) resized to ``size``: real image content at a user's size."""
    data = np.load(_fixture(MFF / "mff_lytro01_crop96.npz"))
    return [
        cv2.resize(data[k][0].transpose(1, 2, 0), (size, size), interpolation=cv2.INTER_CUBIC)
        .clip(0, 1)
        .transpose(2, 0, 1)[None]
        .astype(np.float32)
        for k in ("A", "B")
    ]


def _calibration_pairs(folder: Path, pair: list[np.ndarray]) -> Path:
    """The pair itself and its mirror images: calibrated at the size it runs, like a user would."""
    for sub in ("A", "B"):
        (folder / sub).mkdir(parents=True)
    for i, flip in enumerate((None, 0, 1)):
        for sub, image in zip(("A", "B"), pair, strict=True):
            hwc = image[0].transpose(1, 2, 0)[..., ::-1]
            hwc = hwc if flip is None else cv2.flip(hwc, flip)
            cv2.imwrite(str(folder / sub / f"{i}.png"), (hwc * 255).round().astype(np.uint8))
    return folder


def _cpu_features() -> str:
    info = Path("/proc/cpuinfo")
    flags = info.read_text().split("flags", 1)[-1].splitlines()[0] if info.exists() else ""
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return ", ".join(f for f in wanted if f in flags.split()) or "none of " + ", ".join(wanted)


def test_every_precision_at_full_size_in_both_orders_cached_and_uncached(mff_export, extension, tmp_path):
    """520x520, one process: each precision this CPU offers, forward then reverse order with the cache
    on, then uncached; every run equals the uncached one and holds its budget against PyTorch."""
    pytest.importorskip("nncf")
    from mgdn_edge.calibration.quantize import quantize_model

    pair = _full_size_pair()
    int8 = quantize_model(
        mff_export,
        _calibration_pairs(tmp_path / "pairs", pair),
        "openvino",
        out=tmp_path / "int8.xml",
        progress=False,
    ).path
    variants = {"fp32": (mff_export, {}), "fp16": (mff_export, {"precision": "fp16"})}
    if HAS_BF16:
        variants["bf16"] = (mff_export, {"precision": "bf16"})
        variants["int8, rest bf16"] = (int8, {"int8_rest": "bf16"})
    variants["int8, rest f32"] = (int8, {"int8_rest": "f32"})
    features = _cpu_features()

    uncached = {name: _run(m, extension, pair, cache=False, **o)[0] for name, (m, o) in variants.items()}
    for order in (list(variants), list(reversed(variants))):
        for name in order:
            model, options = variants[name]
            out, rt = _run(model, extension, pair, **options)
            diff = float(np.abs(out - uncached[name]).max())
            assert diff <= 1e-6, f"{name} cached vs uncached: max abs {diff:.3g} (CPU: {features})"
    reference = open_runtime("torch", _fixture(MFF / "mff_62000_E.pth"), task="mff").run(pair)
    for name, out in uncached.items():
        precision = "int8" if name.startswith("int8") else name
        broken = violations(image_metrics(reference, out, "mff"), budget_for(precision), "mff")
        assert broken == [], f"{name} vs PyTorch at 520x520: {broken} (CPU: {features})"
    print(f"precisions {', '.join(variants)} checked on a CPU with {features}")
