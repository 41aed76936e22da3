"""Frozen dataclasses <-> the JSON files mgdn-edge writes beside its artefacts (manifest, sidecar).

One reader for every such record: each field is checked against its type hint as it is read, so
a malformed file is one :class:`BackendError` naming the file and the field (``field
'files.model.onnx.sha256' must be a string, got 5``), never a ``KeyError`` deep inside a
runtime. Values are kept
as the file holds them (an int stays an int where a float is allowed; lists become tuples only
where the hint says so) and fields are written in declaration order, so a file read and written
again is the same bytes. Supported hints: ``str``, ``int``, ``float``, ``bool``, ``Any``,
``X | None``, ``tuple[X, ...]``, ``dict[str, X]``, nested records, and classes with
``from_dict``/``to_dict``. Unknown keys are ignored (a newer writer's extra field does not break
an older reader); a field whose dataclass default exists may be absent.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from mgdn_edge.errors import BackendError, one_line

T = TypeVar("T")

# Field metadata: leave the key out of the written file while the value is None ...
OMIT_NONE = {"omit_none": True}
# ... or always (a field the record keeps about the file, not in it).
NOT_IN_FILE = {"not_in_file": True}


class _Malformed(Exception):
    """A field that does not fit its hint; turned into one BackendError naming the file."""

    def __init__(self, where: str, expected: str, value: Any = None, missing: bool = False) -> None:
        self.where, self.expected, self.value = where, expected, value
        problem = "is missing" if missing else f"must be {expected}, got {_shown(value)}"
        super().__init__(f"field {where!r} {problem}" if where else f"{expected} was expected")


def _shown(value: Any) -> str:
    text = json.dumps(value) if _is_json(value) else repr(value)
    return text if len(text) <= 40 else f"{type(value).__name__} {text[:37]}..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; BackendError ``cannot read WHAT PATH: ...`` otherwise (for a
    file that is no JSON object, in the native runner's words: the C++ side reads sidecars too)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendError(f"cannot read {what} {path}: {one_line(exc)}") from exc
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise BackendError(f"cannot read {what} {path}: it is not a JSON object (truncated?)")
    return data


def from_json(cls: type[T], data: Any, source: str | Path, hint: str = "") -> T:
    """``data`` (parsed JSON) as the record ``cls``; BackendError ``SOURCE: FIELD must be ...``
    (then ``hint``, e.g. how to rewrite the file) on the first field that does not fit."""
    try:
        return _record(cls, data, "")
    except _Malformed as exc:
        raise BackendError(f"{source}: {exc}" + (f"; {hint}" if hint else "")) from None


def to_json(record: Any) -> dict[str, Any]:
    """The record as JSON values, keys in field order (the inverse of :func:`from_json`)."""
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.metadata.get("not_in_file") or (value is None and f.metadata.get("omit_none")):
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else to_json(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _record(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise _Malformed(where, "a JSON object", data)
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # records are dataclasses
        if f.metadata.get("not_in_file"):
            continue
        at = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], at)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _Malformed(at, "", missing=True)
    return cls(**values)


def _value(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked against ``hint`` (and converted where the hint is a record or tuple)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        failures = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _value(option, value, where)
            except _Malformed as exc:
                failures.append(exc)
        if all(f.where == where for f in failures):  # no option fits at all: name them all
            raise _Malformed(where, " or ".join(f.expected for f in failures), value)
        raise next(f for f in failures if f.where != where)  # the option that fits best, deeper
    if origin is tuple:
        fixed = args[-1] is not Ellipsis
        if not isinstance(value, list) or (fixed and len(value) != len(args)):
            raise _Malformed(where, f"a list of {len(args)}" if fixed else "a list", value)
        items = args if fixed else args[:1] * len(value)
        return tuple(_value(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(items, value, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise _Malformed(where, "a JSON object", value)
        return {k: _value(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hasattr(hint, "from_dict"):
            try:
                return hint.from_dict(value)  # type: ignore[attr-defined]
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                raise _Malformed(where, f"a valid {hint.__name__}", value) from None
        return _record(hint, value, where)
    return _scalar(hint, value, where)


_SCALARS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _scalar(hint: Any, value: Any, where: str) -> Any:
    if hint not in _SCALARS:
        raise TypeError(f"json_record does not read fields of type {hint!r}")
    fits = isinstance(value, hint) and (hint is bool or not isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        fits = True  # JSON writes 1.0 as 1 in other tools: a number is a number
    if not fits:
        raise _Malformed(where, _SCALARS[hint], value)
    return value
