"""Typed errors: every user-facing failure is one of these, with a one-line message.

The CLI prints ``error: <message>`` and exits non-zero for any :class:`MgdnEdgeError`; anything
else is a bug and keeps its traceback.
"""

import errno


class MgdnEdgeError(Exception):
    """Base class for errors a user can act on."""


class InputError(MgdnEdgeError, ValueError):
    """Wrong input count, channels, sizes, dtype or non-finite values."""


class CheckpointError(MgdnEdgeError):
    """A checkpoint that does not match the requested task/config (names the keys and shapes)."""


class ImageReadError(MgdnEdgeError, OSError):
    """An image or data file that is missing, unreadable or of an unsupported kind."""


class BackendError(MgdnEdgeError):
    """A runtime, plugin library or model file that cannot be used."""


class ExportError(MgdnEdgeError):
    """An exported graph failed a check (checker, shape inference, structure or numerics)."""


class WriteError(MgdnEdgeError, OSError):
    """The filesystem refused a write: full, read-only, over quota or not ours to write."""


# Filesystem errors a user fixes outside mgdn-edge (free space, permissions, another mount).
FILESYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def filesystem_error_line(exc: OSError) -> str:
    """A filesystem error as one line naming the path and the errno, e.g.
    ``Read-only file system: /mnt/out (EROFS)``."""
    name = errno.errorcode.get(exc.errno or 0, "")
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}" + (f" ({name})" if name else "")


def one_line(exc: BaseException) -> str:
    """An exception as one line: our own errors by their message, others prefixed by their type."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line if isinstance(exc, MgdnEdgeError) and line else f"{type(exc).__name__}: {line}".rstrip(": ")


def listing(names: object, most: int = 5) -> str:
    """At most ``most`` names for an error message, with a count of the rest."""
    items = [str(n) for n in names]  # type: ignore[attr-defined]  # any iterable
    shown = ", ".join(items[:most])
    return shown + (f" (+{len(items) - most} more)" if len(items) > most else "")
