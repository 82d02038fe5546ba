"""Hosts: VapourSynth, PyAV and ffmpeg-python move frames in and out; no privacy logic here."""
