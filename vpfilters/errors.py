"""Typed errors: each also inherits the builtin it resembles, so callers may catch either."""

from __future__ import annotations


class VpfError(Exception):
    """Base of every error vpfilters raises on purpose.

    ``file``, ``frame`` and ``parameter`` name where the problem is, when known, and are
    prefixed to the message so a user can act on it.
    """

    def __init__(self, message: str, *, file=None, frame=None, parameter=None):
        self.file = None if file is None else str(file)
        self.frame = frame
        self.parameter = parameter
        self.message = message
        where = []
        if self.file is not None:
            where.append(self.file)
        if frame is not None:
            where.append(f"frame {frame}")
        if parameter is not None:
            where.append(f"parameter '{parameter}'")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)


class ParameterError(VpfError, ValueError):
    """An argument has a wrong value or type (names the parameter)."""


class FormatError(VpfError, ValueError):
    """A frame, plane or clip has a format the operation does not accept."""


class SpecError(ParameterError):
    """A filter spec string cannot be parsed or names unknown protectors/options."""


class InputError(VpfError, OSError):
    """An input file is missing, unreadable, empty or not a video/image."""


class OutputError(VpfError, OSError):
    """An output path cannot be written."""


class ModelError(VpfError, RuntimeError):
    """A bundled or user model is missing, corrupt or failed at run time."""


class BackendError(VpfError, RuntimeError):
    """A requested kernel backend (native, cupy) is not available."""


class ProtectionError(VpfError, RuntimeError):
    """A protector could not protect a frame and was asked to stop rather than fail closed."""
