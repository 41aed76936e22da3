"""Reading a JSON record that names its own schema (pipeline results, device run records)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mgdn_edge.core.errors import InputError


def read_record(path: Path, schema: str, what: str, missing: str, hint: str = "") -> dict[str, Any]:
    """The JSON object at ``path`` whose "schema" is ``schema``; otherwise one InputError line:
    "{missing} not found", the parse error, or "{path} is not {what} (schema ... found ...){hint}"."""
    if not path.is_file():
        raise InputError(f"{missing} not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path} is not {what} (schema {schema!r} expected, found {found!r}){hint}")
    return data
