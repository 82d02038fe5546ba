"""Protect any ffmpeg input (files, image patterns, live streams) through two ffmpeg processes.

``vpfilters.ffmpeg.run(src, dst, spec)``; see :mod:`vpfilters.hosts.ffmpeg` for how it works.
"""

# Not imported by vpfilters/__init__; inside the package `import ffmpeg` stays ffmpeg-python.
from __future__ import annotations

if __name__ == "ffmpeg":  # this file, found first on sys.path, standing in for ffmpeg-python
    raise ImportError(
        f"{__file__} was imported as the top-level 'ffmpeg' module because the vpfilters "
        "package folder is on sys.path (a script was run from inside it). Run scripts as "
        "`python -m vpfilters.<module>` or from another folder.")

from vpfilters.hosts.ffmpeg import (RAW_FORMATS, decoder_command, encoder_command,
                                    nearest_raw_format, run)

__all__ = ["RAW_FORMATS", "decoder_command", "encoder_command", "nearest_raw_format", "run"]
