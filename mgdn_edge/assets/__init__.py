"""Package data: the bundled demo HDR model (trained by ``tools/dev/train_demo_hdr.py``).

``demo_hdr.pth`` is a plain float32 MGDN state dict in the authors' parameter names, so
``load_model`` and ``mgdn-edge info`` read it like any published checkpoint; ``demo_hdr.json``
beside it records how it was made (config, commands, seed, data, loss curve, final losses).
"""

from __future__ import annotations

import json
from pathlib import Path

from mgdn_edge.core.errors import CheckpointError

_HERE = Path(__file__).resolve().parent
DEMO_HDR = "demo_hdr.pth"


def demo_model_path() -> Path:
    """Path of the bundled demo HDR checkpoint (a clear error if the package data is missing)."""
    path = _HERE / DEMO_HDR
    if not path.is_file():
        raise CheckpointError(
            f"bundled demo model not found at {path}; reinstall mgdn-edge or rebuild it with "
            "`python tools/dev/train_demo_hdr.py --work DIR` in a checkout"
        )
    return path


def demo_model_info() -> dict[str, object]:
    """The demo model's training record (``demo_hdr.json``)."""
    path = demo_model_path().with_suffix(".json")
    if not path.is_file():
        raise CheckpointError(f"demo model record not found: {path}")
    return json.loads(path.read_text())
