"""The C API from C: a small program compiled here with the C compiler against mgdn_edge.h and
linked to the built libmgdn_edge.so (create, describe, fuse, error paths, release)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from example_app import compile_example

NATIVE = Path(__file__).resolve().parents[2] / "runtimes" / "native"


def test_c_program_exercises_the_api(native_build, exported, tmp_path: Path) -> None:
    cc = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang)")
    library = native_build["library"]
    program = tmp_path / "c_api_check"
    compile_cmd = [
        cc,
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        str(NATIVE / "include"),
        str(NATIVE / "tests" / "c_api_check.c"),
        "-o",
        str(program),
        str(library),
        f"-Wl,-rpath,{library.parent}",
        "-lm",
    ]
    built = subprocess.run(compile_cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    proc = subprocess.run(
        [str(program), str(exported("mff")), str(native_build["extension"])], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_cpp_wrapper_compiles(native_build, tmp_path: Path) -> None:
    """The header-only RAII wrapper compiles as C++17 and links against the library."""
    cxx = next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)
    if cxx is None:
        pytest.skip("no C++ compiler")
    source = tmp_path / "wrapper.cpp"
    source.write_text(
        '#include "mgdn_edge.hpp"\n#include <cstdio>\n'
        "int main(int argc, char** argv) {\n"
        '  try { mgdn::Model model(argc > 1 ? argv[1] : "/nonexistent.onnx"); }\n'
        "  catch (const mgdn::Failure& f) {\n"
        "    std::puts(f.what()); return f.status() == MGDN_E_FILE ? 0 : 1; }\n"
        "  return 1;\n}\n"
    )
    library = native_build["library"]
    cmd = [
        cxx,
        "-std=c++17",
        "-Wall",
        "-Werror",
        "-I",
        str(NATIVE / "include"),
        str(source),
        "-o",
        str(tmp_path / "wrapper"),
        str(library),
        f"-Wl,-rpath,{library.parent}",
    ]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    proc = subprocess.run([str(tmp_path / "wrapper")], capture_output=True, text=True)
    assert proc.returncode == 0 and "/nonexistent.onnx" in proc.stdout


def test_build_plugins_native_prints_both_paths(native_build, tmp_path: Path) -> None:
    """`mgdn-edge build-plugins --native --build-dir D` reuses an up-to-date build and names both files."""
    folder = native_build["runner"].parent
    code = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from mgdn_edge.cli import main; sys.exit(main(sys.argv[1:]))",
            "build-plugins",
            "--native",
            "--build-dir",
            str(folder),
        ],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0, code.stderr
    assert code.stdout.splitlines() == [
        f"built {folder / 'mgdn-fuse'}",
        f"built {folder / 'libmgdn_edge.so'}",
    ]
    assert "building" not in code.stderr  # up to date: nothing compiled


def test_example_app_fuses_with_openvino(native_build, exported, tmp_path: Path) -> None:
    """examples/fuse_pair.cpp, built as docs/jetson.md builds it, on an x86 box's backend: the
    authors' MFF model on the 64x64 Lytro fixture crop gives the authors' output."""
    import numpy as np

    cxx = next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)
    fixtures = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
    crop = fixtures / "official-mff" / "mff_lytro01_crop64.npz"
    if cxx is None or not crop.is_file():
        pytest.skip("needs a C++ compiler and the MFF fixture crop")
    library = native_build["library"]
    example = tmp_path / "fuse_pair"
    compile_example(cxx, library.parent, example)
    with np.load(crop) as npz:
        a, b, golden = npz["A"], npz["B"], npz["out"]
    a.astype(np.float32).tofile(tmp_path / "a.bin")
    b.astype(np.float32).tofile(tmp_path / "b.bin")
    out = tmp_path / "out.bin"
    args = ["openvino", str(exported("mff")), str(native_build["extension"]), "64", "64"]
    args += [str(tmp_path / "a.bin"), str(tmp_path / "b.bin"), str(out)]
    proc = subprocess.run([str(example), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fused 3x64x64 -> {out}"
    fused = np.fromfile(out, np.float32).reshape(golden.shape)
    assert float(np.abs(fused - golden).max()) <= 1e-5
