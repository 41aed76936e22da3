"""Shared test fixtures: the read-only ../shared folder (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
MFF_CKPT = FIXTURES / "official-mff" / "mff_62000_E.pth"
MFF_CROPS = ("crop64", "crop96", "crop61x75")


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"fixture not available: {path} (../shared is absent in this checkout)")
    return path


@pytest.fixture
def mff_checkpoint() -> Path:
    return _require(MFF_CKPT)


@pytest.fixture(params=MFF_CROPS)
def mff_crop(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    data = np.load(_require(FIXTURES / "official-mff" / f"mff_lytro01_{request.param}.npz"))
    return {k: data[k] for k in data.files}


@pytest.fixture
def hdr_arch() -> tuple[Path, dict[str, np.ndarray]]:
    ckpt = _require(FIXTURES / "architecture" / "hdr_arch_depth222_seed1234.pth")
    data = np.load(_require(FIXTURES / "architecture" / "hdr_arch_io.npz"))
    return ckpt, {k: data[k] for k in data.files}


@pytest.fixture
def gdsr_arch() -> tuple[Path, dict[str, np.ndarray]]:
    ckpt = _require(FIXTURES / "architecture" / "gdsr_arch_seed1234.pth")
    data = np.load(_require(FIXTURES / "architecture" / "gdsr_arch_io.npz"))
    return ckpt, {k: data[k] for k in data.files}


@pytest.fixture
def manifest() -> dict:
    import json

    return json.loads(_require(SHARED / "reference" / "state_dict_manifest.json").read_text())


@pytest.fixture
def tiny_mff(tmp_path: Path) -> Path:
    """A random-weight one-stage MFF checkpoint: fast enough for CLI tests on any input size."""
    import torch

    from mgdn_edge.model import MGDN, preset

    torch.manual_seed(0)
    path = tmp_path / "tiny_mff.pth"
    torch.save(MGDN(preset("mff", embed_dim=12, depths=[1], swin_heads=[2])).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def tiny_mff_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny MFF network exported once per session (model.onnx, model.pth beside the folder)."""
    import torch

    from mgdn_edge.export.onnx_export import export_model
    from mgdn_edge.model import MGDN, preset

    torch.manual_seed(0)
    model = MGDN(preset("mff", embed_dim=12, depths=[1], swin_heads=[2])).eval()
    root = tmp_path_factory.mktemp("tiny_mff_export")
    torch.save(model.state_dict(), root / "model.pth")
    export_model(model, root / "export", checkpoint=root / "model.pth", verify=False, fp16=False)
    return root / "export"


@pytest.fixture(scope="module")
def mff_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The authors' MFF checkpoint exported (fp32 and fp16 ONNX) once per test module."""
    from mgdn_edge.export.onnx_export import export_checkpoint

    out = tmp_path_factory.mktemp("mff_export")
    # verify=False: the export's own ORT check is exercised elsewhere; here the fixtures judge.
    export_checkpoint(_require(MFF_CKPT), out, task="mff", verify=False)
    return out


@pytest.fixture(scope="session")
def ort_ops_library(request: pytest.FixtureRequest) -> Path:
    """libmgdn_ort.so built once per pytest cache (skipped without C API headers or build tools)."""
    pytest.importorskip("onnxruntime")
    from mgdn_edge.plugins import onnxruntime_ops

    reason = onnxruntime_ops.too_old(onnxruntime_ops.onnxruntime_version())
    if reason is None and onnxruntime_ops.find_include_dir() is None:
        reason = "no ONNX Runtime C API headers (set ONNXRUNTIME_INCLUDE_DIR, or ../shared is absent)"
    if reason is None and not onnxruntime_ops.can_build():
        reason = "no cmake or C++ compiler"
    if reason is not None:
        pytest.skip(f"libmgdn_ort.so cannot be built here: {reason}")
    return onnxruntime_ops.build_onnxruntime_ops(Path(request.config.cache.mkdir("mgdn_ort_ops")))


@pytest.fixture(scope="session")
def ov_extension(request: pytest.FixtureRequest) -> Path:
    """libmgdn_openvino.so built once per pytest cache (incremental CMake build afterwards);
    skipped without cmake or a C++ compiler, a failing build fails the test."""
    pytest.importorskip("openvino")
    from mgdn_edge.plugins import openvino_ext

    if not openvino_ext.can_build():
        pytest.skip("the OpenVINO extension cannot be built here (needs cmake and a C++ compiler)")
    return openvino_ext.build_openvino_extension(Path(request.config.cache.mkdir("mgdn_openvino_extension")))


@pytest.fixture
def cli_error(capsys: pytest.CaptureFixture[str]):
    """Run ``mgdn-edge ARGV``; assert it failed with status 2 and one ``error:`` line; return that line."""
    from mgdn_edge.cli import main

    def run(argv: list[str]) -> str:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "Traceback" not in err
        assert len(err.splitlines()) == 1, err
        return err

    return run


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is faster and immune to a busy neighbour's cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (full-size images)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow check (full-size images): run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
