"""Fixtures of the runtime tests: one tiny exported network per task, shared by the session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from runtime_cases import TASKS, tiny

from mgdn_edge.export.onnx_export import export_model
from mgdn_edge.model import MGDN


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[MGDN, Path, Path]]:
    """Per task: (model, checkpoint, export folder), one tiny network each."""
    out = {}
    for i, task in enumerate(TASKS):
        model = tiny(task, seed=i)
        folder = tmp_path_factory.mktemp(f"export_{task}")
        ckpt = folder / "model.pth"
        torch.save(model.state_dict(), ckpt)
        export_model(model, folder / "onnx", checkpoint=ckpt, verify=False)
        out[task] = (model, ckpt, folder / "onnx")
    return out
