"""A corpus of broken files, made here (no binary fixtures), through every command that reads them.

Each must end in one ``error:`` line naming the file (conftest's ``cli_error``: status 2, no
traceback), or in a correct result; never in status 0 with a silently wrong output.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mgdn_edge.cli import main
from mgdn_edge.core.errors import CheckpointError, ImageReadError, InputError
from mgdn_edge.core.image_headers import MAX_PIXELS_ENV, read_header
from mgdn_edge.core.imageio import read_image
from mgdn_edge.model import MGDN, load_model, preset
from mgdn_edge.model.tasks import prepare_inputs

TINY = {"embed_dim": 12, "depths": [1], "swin_heads": [2]}
H, W = 24, 28


# ------------------------------------------------------------------------------ file makers
def _rgb(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _encoded(suffix: str, image: np.ndarray | None = None) -> bytes:
    ok, data = cv2.imencode(suffix, _rgb() if image is None else image)
    assert ok
    return data.tobytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming width x height, and a few hundred bytes of deflated zeros."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 << 16), 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _float_tiff(value: float) -> bytes:
    image = np.full((H, W, 3), 0.5, np.float32)
    image[3, 4, 1] = value
    return _encoded(".tif", image)


# name -> (file name, bytes, words the error must hold besides the file name)
BROKEN_IMAGES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "truncated png": ("cut.png", lambda: _encoded(".png")[: len(_encoded(".png")) // 2], "is truncated (PNG"),
    "truncated jpeg": (
        "cut.jpg",
        lambda: _encoded(".jpg")[: len(_encoded(".jpg")) * 2 // 3],
        "truncated (JPEG",
    ),
    "truncated tiff": ("cut.tif", lambda: _encoded(".tif")[: len(_encoded(".tif")) // 2], ""),
    "bomb header": ("bomb.png", _bomb_png, "over the pixel budget"),
    "text as png": ("text.png", lambda: b"not an image at all\n" * 4, "cannot decode image"),
    "empty file": ("empty.png", lambda: b"", "is empty"),
    "NaN float tiff": ("nan.tif", lambda: _float_tiff(float("nan")), "NaN or Inf"),
    "huge float tiff": ("huge.tif", lambda: _float_tiff(1e30), "must lie in [0, 1]"),
}


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny MFF checkpoint, its export folder and a good pair; shared by the module."""
    from mgdn_edge.export.onnx_export import export_model

    root = tmp_path_factory.mktemp("hostile")
    torch.manual_seed(0)
    model = MGDN(preset("mff", **TINY)).eval()
    ckpt = root / "tiny.pth"
    torch.save(model.state_dict(), ckpt)
    export_model(model, root / "export", verify=False, fp16=False, checkpoint=ckpt)
    for i, name in enumerate(("a.png", "b.png")):
        cv2.imwrite(str(root / name), _rgb(i))
    return {"root": root, "ckpt": ckpt, "export": root / "export", "a": root / "a.png", "b": root / "b.png"}


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def _pairs_with(root: Path, bad_name: str, data: bytes) -> Path:
    """MFF pair folders (a/, b/, gt/): two good pairs and one whose b/ image is the broken file."""
    for folder in ("a", "b", "gt"):
        for i, stem in enumerate(("p1", "p2")):
            _write(root / folder, f"{stem}.png", _encoded(".png", _rgb(i + 7)))
    stem = Path(bad_name).stem
    _write(root / "a", f"{stem}.png", _encoded(".png", _rgb(3)))
    _write(root / "gt", f"{stem}.png", _encoded(".png", _rgb(4)))
    return _write(root / "b", bad_name, data)


def _fuse(work: dict[str, Path], model: Path, a: Path, b: Path, runtime: str = "auto") -> list[str]:
    out = work["root"] / "out.png"
    return [
        "fuse",
        "--task",
        "mff",
        "--model",
        str(model),
        "--runtime",
        runtime,
        str(a),
        str(b),
        "-o",
        str(out),
    ]


# ------------------------------------------------------------------------------ images
@pytest.mark.parametrize("kind", sorted(BROKEN_IMAGES))
def test_broken_image_through_fuse(kind, work, tmp_path, cli_error) -> None:
    name, make, words = BROKEN_IMAGES[kind]
    bad = _write(tmp_path, name, make())
    for model in (work["ckpt"], work["export"] / "model.onnx"):
        err = cli_error(_fuse(work, model, work["a"], bad))
        assert str(bad) in err and words in err, err


@pytest.mark.parametrize("kind", ["truncated png", "bomb header", "empty file", "huge float tiff"])
@pytest.mark.parametrize("command", ["parity", "quantize", "train"])
def test_broken_image_in_data_folders(kind, command, work, tmp_path, cli_error) -> None:
    name, make, words = BROKEN_IMAGES[kind]
    data = tmp_path / "data"
    bad = _pairs_with(data, name, make())
    out = tmp_path / "out"
    argv = {
        "parity": ["parity", "--runtime", "onnxruntime", "--model", str(work["export"] / "model.onnx")]
        + ["--reference", str(work["ckpt"]), "--data", str(data)],
        "quantize": ["quantize", "--model", str(work["export"]), "--data", str(data)]
        + ["--runtime", "onnxruntime", "--out", str(out / "q.onnx"), "--quiet"],
        "train": ["train", "--task", "mff", "--model", str(work["ckpt"]), "--data", str(data)]
        + ["--out", str(out / "t.pth"), "--steps", "1", "--batch-size", "1", "--crop", "16"],
    }[command]
    err = cli_error(argv)
    assert str(bad) in err and words in err, err
    assert not out.exists() or not any(out.iterdir())


def test_wrong_magic_for_the_suffix_decodes_by_content(work, tmp_path) -> None:
    """A JPEG named .png (and a PNG named .tif) is read by its content: a correct result."""
    jpeg_as_png = _write(tmp_path, "photo.png", _encoded(".jpg", _rgb(5)))
    png_as_tif = _write(tmp_path, "scan.tif", _encoded(".png", _rgb(6)))
    decoded = cv2.imdecode(np.frombuffer(jpeg_as_png.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_allclose(read_image(jpeg_as_png), decoded[..., ::-1] / 255.0, atol=1e-6)
    np.testing.assert_allclose(read_image(png_as_tif), _rgb(6)[..., ::-1] / 255.0, atol=1e-6)
    raw = tmp_path / "raw.npy"
    argv = ["fuse", "--task", "mff", "--model", str(work["ckpt"]), str(jpeg_as_png), str(png_as_tif)]
    assert main([*argv, "--raw", str(raw)]) == 0
    assert np.isfinite(np.load(raw)).all()


def test_truncation_is_found_in_the_header_walk(tmp_path) -> None:
    """Each format's whole file passes; every cut inside its data is called truncated."""
    for suffix in (".png", ".jpg", ".tif"):
        whole = _encoded(suffix)
        header = read_header(_write(tmp_path, f"whole{suffix}", whole))
        assert header is not None and header.truncated is None and (header.width, header.height) == (W, H)
        for cut in (len(whole) - 1, len(whole) * 3 // 4, len(whole) // 2):
            path = _write(tmp_path, f"cut{cut}{suffix}", whole[:cut])
            with pytest.raises(ImageReadError, match=r"is truncated|cannot decode"):
                read_image(path)
    # A JPEG with bytes appended after its EOI (camera trailers) is whole.
    trailer = _write(tmp_path, "trailer.jpg", _encoded(".jpg") + b"SAMSUNG trailer")
    assert read_image(trailer).shape == (H, W, 3)


def test_pixel_budget_is_checked_before_decoding(tmp_path, monkeypatch) -> None:
    bomb = _write(tmp_path, "bomb.png", _bomb_png())
    with pytest.raises(
        ImageReadError, match=r"100000x100000 \(WxH\) = 10000\.0 MP, over the pixel budget of 100 MP"
    ):
        read_image(bomb)
    monkeypatch.setenv(MAX_PIXELS_ENV, "0.0005")  # 500 pixels: a 24x28 image is over it
    with pytest.raises(ImageReadError, match="over the pixel budget of 0.0005 MP"):
        read_image(_write(tmp_path, "small.png", _encoded(".png")))
    np.save(tmp_path / "depth.npy", np.ones((30, 30), np.float32))
    with pytest.raises(ImageReadError, match="depth.npy is 30x30"):
        from mgdn_edge.core.imageio import read_depth

        read_depth(tmp_path / "depth.npy")


# ------------------------------------------------------------------------------ depth arrays
@pytest.mark.parametrize(
    ("values", "words"),
    [(float("nan"), "contains NaN or Inf"), (float("inf"), "contains NaN or Inf"), (3e38, "beyond float32")],
)
def test_non_finite_or_huge_depth(values, words, tmp_path, cli_error) -> None:
    torch.manual_seed(0)
    ckpt = tmp_path / "gdsr.pth"
    torch.save(MGDN(preset("gdsr", **TINY)).state_dict(), ckpt)
    rgb = _write(tmp_path, "rgb.png", _encoded(".png", _rgb(1, 16, 16)))
    depth = np.linspace(-1.0, 1.0, 64, dtype=np.float64).reshape(8, 8)
    depth[2, 3] = values
    depth[5, 5] = -values if np.isfinite(values) else 0.0
    np.save(tmp_path / "depth.npy", depth)
    err = cli_error(
        [
            "fuse",
            "--task",
            "gdsr",
            "--model",
            str(ckpt),
            str(rgb),
            str(tmp_path / "depth.npy"),
            "--raw",
            "x.npy",
        ]
    )
    assert "depth.npy" in err and words in err


# ------------------------------------------------------------------------------ checkpoints
def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return MGDN(preset("mff", **TINY)).state_dict()


def test_checkpoint_with_one_nan_weight_is_refused_by_key(work, tmp_path, cli_error) -> None:
    sd = _state()
    sd["layers.0.MGF.TCA.temperature"][1, 0, 0] = float("nan")
    bad = tmp_path / "nan.pth"
    torch.save(sd, bad)
    data = tmp_path / "data"
    _pairs_with(data, "p3.png", _encoded(".png", _rgb(9)))  # good data: the checkpoint is the problem
    with pytest.raises(
        CheckpointError, match=r"NaN/Inf weights: layers\.0\.MGF\.TCA\.temperature \(1 of 6 values\)"
    ):
        load_model(bad)
    for argv in (
        ["info", str(bad)],
        _fuse(work, bad, work["a"], work["b"]),
        ["export", "--model", str(bad), "--out", str(tmp_path / "exp")],
        [
            "train",
            "--task",
            "mff",
            "--model",
            str(bad),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "t.pth"),
        ],
    ):
        err = cli_error(argv)
        assert str(bad) in err and "layers.0.MGF.TCA.temperature" in err, err
    assert not (tmp_path / "exp").exists()


def test_checkpoint_of_random_bytes(work, tmp_path, cli_error) -> None:
    bad = _write(tmp_path, "random.pth", np.random.default_rng(0).bytes(4096))
    for argv in (
        ["info", str(bad)],
        _fuse(work, bad, work["a"], work["b"]),
        ["export", "--model", str(bad), "--out", str(tmp_path / "e")],
    ):
        assert f"cannot read checkpoint {bad}" in cli_error(argv)


def test_checkpoint_whose_shapes_fit_no_config_names_them(tmp_path, cli_error) -> None:
    """A consistently resized first layer (32 channels: no 6-head MGCA divides it): one line, no traceback."""
    sd = _state()
    sd["inconv1.weight"] = torch.zeros(32, 3, 3, 3)
    sd["inconv1.bias"] = torch.zeros(32)
    bad = tmp_path / "resized.pth"
    torch.save(sd, bad)
    err = cli_error(["info", str(bad)])
    assert (
        str(bad) in err and "agree with no MGDN config" in err and "not divisible by the 6 MGCA heads" in err
    )
    assert "inconv1.weight [32, 3, 3, 3]" in err and "layers.0.MGF.TCA.temperature [6, 1, 1]" in err
    # A first layer whose rank is wrong names the key and shape instead of an IndexError.
    sd["inconv1.weight"] = torch.zeros(12, 3)
    torch.save(sd, bad)
    assert "inconv1.weight has shape [12, 3]" in cli_error(["info", str(bad)])
    # A checkpoint missing a key the sizes are read from names it (no KeyError).
    sd = _state()
    del sd["layers.0.MGF.TCA.temperature"]
    torch.save(sd, bad)
    assert "no layers.0.MGF.TCA.temperature" in cli_error(["info", str(bad)])


# ------------------------------------------------------------------------------ model files
def test_onnx_of_random_bytes_and_ir_without_bin(work, tmp_path, cli_error) -> None:
    onnx_file = _write(tmp_path, "model.onnx", np.random.default_rng(1).bytes(2048))
    for argv in (
        _fuse(work, onnx_file, work["a"], work["b"]),
        _fuse(work, onnx_file, work["a"], work["b"], runtime="onnxruntime"),
        ["parity", "--runtime", "onnxruntime", "--model", str(onnx_file), "--reference", str(work["ckpt"])],
        [
            "quantize",
            "--model",
            str(onnx_file),
            "--data",
            "synthetic:2",
            "--runtime",
            "onnxruntime",
            "--out",
            str(tmp_path / "q.onnx"),
        ],
    ):
        assert str(onnx_file) in cli_error(argv)
    pytest.importorskip("openvino")
    xml = _write(tmp_path, "ir.xml", b"<?xml version='1.0'?><net name='x' version='11'></net>")
    for argv in (
        _fuse(work, xml, work["a"], work["b"]),
        ["parity", "--runtime", "openvino", "--model", str(xml), "--reference", str(work["ckpt"])],
    ):
        err = cli_error(argv)
        assert str(xml) in err and "no weights file ir.bin" in err


def test_results_json_of_another_schema(tmp_path, cli_error) -> None:
    other = tmp_path / "results.json"
    other.write_text(json.dumps({"schema": "someone-else/v3", "variants": []}))
    err = cli_error(["report", str(other), "--out", str(tmp_path / "r")])
    assert str(other) in err and "someone-else/v3" in err
    other.write_bytes(b"\x00\xff garbage")
    assert str(other) in cli_error(["report", str(other), "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


def test_wrong_suffixes(work, tmp_path, cli_error) -> None:
    model = _write(tmp_path, "model.txt", work["ckpt"].read_bytes())
    assert "model.txt" in cli_error(_fuse(work, model, work["a"], work["b"]))
    out = ["fuse", "--task", "mff", "--model", str(work["ckpt"]), str(work["a"]), str(work["b"])]
    assert "out.xyz" in cli_error([*out, "-o", str(tmp_path / "out.xyz")])


# ------------------------------------------------------------------------------ HDR exposures
def _brackets(tmp_path: Path, gains: tuple[float, ...]) -> list[Path]:
    """Three brackets of one scene, each ``gain`` times the radiance (gamma-encoded 8-bit)."""
    radiance = np.random.default_rng(2).random((16, 16, 3)) * 0.3 + 0.05
    paths = []
    for i, gain in enumerate(gains):
        ldr = np.clip(radiance * gain, 0, 1) ** (1 / 2.2)
        paths.append(
            _write(
                tmp_path,
                f"{i}_{gain:g}.png",
                _encoded(".png", np.round(ldr[..., ::-1] * 255).astype(np.uint8)),
            )
        )
    return paths


def test_exposures_that_contradict_the_brackets(tmp_path) -> None:
    right = _brackets(tmp_path, (0.25, 1.0, 4.0))
    assert len(prepare_inputs("hdr", right, [-2.0, 0.0, 2.0]).inputs) == 3
    with pytest.raises(
        InputError, match=r"exposure values \[2.0, 0.0, -2.0\] must rise from the under to the over"
    ):
        prepare_inputs("hdr", right, [2.0, 0.0, -2.0])
    swapped = [right[2], right[1], right[0]]  # 'over' file given as the under bracket
    with pytest.raises(
        InputError, match=r"contradict the brackets: .*1_1.png \(EV 0\) is darker than 2_4.png \(EV -2\)"
    ):
        prepare_inputs("hdr", swapped, [-2.0, 0.0, 2.0])
    with pytest.raises(InputError, match="share EV 0 but differ in brightness"):
        prepare_inputs("hdr", right, [0.0, 0.0, 2.0])


def test_exposure_txt_contradiction_names_the_files(tmp_path, cli_error) -> None:
    scene = tmp_path / "scene"
    for i, path in enumerate(_brackets(tmp_path, (4.0, 1.0, 0.25))):  # sorted names: over first
        img = cv2.imread(str(path))
        cv2.imwrite(str(_write(scene, f"{i}.tif", b"")), img.astype(np.uint16) * 257)
    (scene / "exposure.txt").write_text("0\n2\n4\n")
    err = cli_error(
        ["fuse", "--task", "hdr", "--model", "unused.pth", str(scene), "-o", str(tmp_path / "x.png")]
    )
    assert "contradict the brackets" in err and "1.tif (EV 2) is darker than 0.tif (EV 0)" in err
