"""The one precision type: what a model file is built as, or what a runtime executes in."""

from __future__ import annotations

from enum import Enum

from mgdn_edge.core.errors import InputError


class Precision(str, Enum):
    """A str-valued enum, so ``Precision.FP16 == "fp16"`` and JSON/CLI text need no conversion."""

    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"  # an execution mode (OpenVINO on CPUs with bf16), never a file of its own
    INT8 = "int8"

    def __str__(self) -> str:
        return self.value

    def __hash__(self) -> int:  # hash as the string, so "fp16" finds Precision.FP16 in dicts and sets
        return str.__hash__(self)

    @classmethod
    def parse(cls, text: str | Precision, allowed: tuple[Precision, ...] | None = None) -> Precision:
        """``"FP16"`` -> Precision.FP16; unknown or (given ``allowed``) unsupported: InputError."""
        try:
            value = cls(str(text).strip().lower())
        except ValueError:
            raise InputError(f"unknown precision {text!r}; expected one of {', '.join(PRECISIONS)}") from None
        if allowed is not None and value not in allowed:
            raise InputError(f"precision {value} is not one of {', '.join(allowed)} here")
        return value


PRECISIONS: tuple[str, ...] = tuple(p.value for p in Precision)
# What a file can be built as (bf16 runs an FP32 file in bf16).
FILE_PRECISIONS = (Precision.FP32, Precision.FP16, Precision.INT8)
