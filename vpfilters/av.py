"""PyAV integration: protect files with ``transcode``, or your own frame loop with ``FrameFilter``.

Example::

    import av
    from vpfilters.av import FrameFilter

    protect = FrameFilter("blur=box=100/80/300/260")
    with av.open("in.mp4") as src:
        for frame in src.decode(video=0):
            frame = protect(frame)   # same pixel format, pts and time base
"""

from vpfilters.hosts.pyav import (IDENTIFYING_TAGS, KEPT_CONTAINER_TAGS, KEPT_STREAM_TAGS,
                                  FrameFilter, core_to_frame, frame_to_core, protect_frames,
                                  transcode)

__all__ = [
    "IDENTIFYING_TAGS", "KEPT_CONTAINER_TAGS", "KEPT_STREAM_TAGS", "FrameFilter",
    "core_to_frame", "frame_to_core", "protect_frames", "transcode",
]
