"""vpfilters: privacy-protection filters (T/AI 110.2) for VapourSynth, PyAV and ffmpeg pipelines."""

from vpfilters.errors import (
    BackendError,
    FormatError,
    InputError,
    ModelError,
    OutputError,
    ParameterError,
    ProtectionError,
    SpecError,
    VpfError,
)

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "FormatError",
    "InputError",
    "ModelError",
    "OutputError",
    "ParameterError",
    "ProtectionError",
    "SpecError",
    "VpfError",
    "__version__",
]
