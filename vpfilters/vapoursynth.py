"""Public VapourSynth API: ``vpfilters.vapoursynth.protect(clip, spec)`` (see vpfilters.hosts.vapoursynth)."""

# Not imported by vpfilters/__init__; inside the package `import vapoursynth` stays the real module.
from __future__ import annotations

if __name__ == "vapoursynth":  # this file, found first on sys.path, standing in for VapourSynth
    raise ImportError(
        f"{__file__} was imported as the top-level 'vapoursynth' module because the vpfilters "
        "package folder is on sys.path (a script was run from inside it). Run scripts as "
        "`python -m vpfilters.<module>` or from another folder.")

from vpfilters.hosts.vapoursynth import MAX_WINDOW, as_frame, core_format, has_plugin, protect

__all__ = ["MAX_WINDOW", "as_frame", "core_format", "has_plugin", "protect"]
