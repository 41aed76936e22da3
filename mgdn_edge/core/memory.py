"""Give freed heap memory back to the operating system between large, short-lived allocations.

Runtimes without their own arena (ONNX Runtime with ``enable_cpu_mem_arena=False``) allocate
activations with ``malloc``. glibc serves blocks under its (adaptive, up to 32 MB) mmap
threshold from the heap and keeps them after ``free``, so a loop that allocates hundreds of MB
per step keeps the high-water mark of every step resident. ``malloc_trim`` returns the free
pages; elsewhere (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError, TypeError):
        return None


def release_freed_memory() -> None:
    """Return the heap's free pages to the OS (glibc only; cheap, a few ms)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
