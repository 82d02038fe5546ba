"""Invertible rescaling (cl. 6.5, A.1.6): Haar downscaling that an authorised user can undo.

The protected picture is the Haar LL band of the original (``factor`` = 2, 4 or 8: one lossless
integer Haar level per x2). ``size=same`` (default) writes it back at the original size as
pixel blocks (each LL sample repeated ``factor`` x ``factor`` times), so every host and encoder
takes it unchanged; ``size=small`` hands on the LL picture itself (a smaller video; PyAV, ffmpeg-python and VapourSynth hosts).

``restore=exact`` keeps the high-frequency bands (int16 detail bands of the lossless lifting of the
*original* frame), compressed and AES-GCM encrypted under a key file, bound to the frame index and
region. Where they go: ``data=PATH`` names a ``.vpfr`` sidecar (any host); without ``data`` the
PyAV and ffmpeg-python hosts (``vpf protect``, :func:`vpfilters.av.transcode`,
:func:`vpfilters.ffmpeg.run`) store them in the output itself when it is an ``.mkv`` (a Matroska
attachment, one file), else in the sidecar ``OUTPUT.vpfr``; the VapourSynth host needs ``data``.
:func:`restore_frame` / :func:`restore_video` rebuild the picture from the LL *as stored*:
bit-exact after a lossless carrier (FFV1), close after H.264. ``restore=learned`` uses the
IRN-style network of :mod:`vpfilters.protect.irn` (no side data). ``restore=none`` keeps nothing.

Region mode (``region=targets``): each detection is grown by ``pad`` (default
:data:`DETECTION_MARGIN`, half its size per side: the whole head, not just the face), aligned
outward to the ``factor << subsampling`` grid, and replaced by its own LL band shown in pixel
blocks. Blocks (nearest neighbour) rather than smooth up-sampling, because a smooth LL is a
blurred face that the face detector finds far more often (75 % vs 52 % of faces at x4, README).

``factor`` is the *least* downscaling a region gets. ``blocks=N`` gives a region more Haar levels
while it would still span more than N LL samples: at a literal x4 a 100 px face is 25 samples
wide and the face detector still finds 38.8 % of the faces of face_mask_detection; capped at
:data:`REGION_BLOCKS` (10) samples, 3.4 %. The default (``blocks`` auto) is that cap for detected
regions and none (the literal factor) for fixed ``box=`` regions, which the user sized; ``blocks=0``
keeps the literal factor for detections too. The region's level count is then the first byte of
its (encrypted) record, so restore stays bit-exact.

Padding rule (sizes that do not divide): with ``f`` = factor and chroma subsampling ``(sx, sy)``,
the luma plane is extended by replicating its last column/row to multiples of ``f << sx`` wide and
``f << sy`` high, and each chroma plane to those sizes shifted by ``(sx, sy)``; so the LL picture is
a valid frame of ``ceil`` sizes with even dimensions for 4:2:0 (1080 / 8 -> 1088 / 8 = 136 rows).
Restore undoes the transform on the padded planes and crops to the size stored in the header.
"""

from __future__ import annotations

import math

import numpy as np

from vpfilters.core.frame import Frame
from vpfilters.core.protector import (FrameContext, Option, Protector, StreamInfo, non_negative,
                                      parse_boxes, parse_list)
from vpfilters.core.region import Region, flat_boxes
from vpfilters.errors import FormatError, ParameterError
from vpfilters.kernels import HaarPyramid, haar_forward, haar_inverse
from vpfilters.protect import _restore_data as rd

FACTORS = (2, 4, 8)
#: Margin of detected regions in region mode (fraction of the box size per side), replacing the
#: detector's masking padding (0.2 for faces): the whole head and hair go into the LL band, not
#: only the face. Measured on face_mask_detection (benchmarks/rescale.py, README): faces the face
#: detector still finds after x4 fell from 51.6 % (0.2) to 38.8 % (0.5); 0.8 gave 37.4 %.
DETECTION_MARGIN = 0.5
#: Default ``blocks`` for detected regions: at most this many LL samples across a region. Measured
#: on face_mask_detection (benchmarks/rescale.py, README), faces the face detector still finds
#: after x4: literal factor 38.8 %, 16 samples 13.2 %, 12: 6.4 %, 10: 3.4 %, 8: 1.4 % (bar 10 %).
REGION_BLOCKS = 10
#: Most Haar levels a region gets with ``blocks`` (x256).
MAX_REGION_LEVELS = 8


def region_factor(box, factor: int, blocks: int) -> int:
    """The factor of one region: ``factor``, doubled while the region's longer side would still
    span more than ``blocks`` LL samples (``blocks`` = 0: always ``factor``)."""
    f = factor
    if blocks:
        side = max(box[2] - box[0], box[3] - box[1])
        while side > blocks * f and f < (1 << MAX_REGION_LEVELS):
            f *= 2
    return f


# ------------------------------------------------------------------------------------ geometry


def padded_size(width: int, height: int, factor: int, sub=(0, 0)) -> tuple[int, int]:
    """Luma (W, H) padded to multiples of ``factor << sx`` and ``factor << sy``."""
    mx, my = factor << sub[0], factor << sub[1]
    return -(-width // mx) * mx, -(-height // my) * my


def _plane_shapes(fmt_sub, nplanes, wp, hp):
    return [(hp, wp) if i == 0 else (hp >> fmt_sub[1], wp >> fmt_sub[0]) for i in range(nplanes)]


def _pad(plane: np.ndarray, shape) -> np.ndarray:
    h, w = plane.shape
    if (h, w) == tuple(shape):
        return plane
    return np.pad(plane, ((0, shape[0] - h), (0, shape[1] - w)), mode="edge")


def _blocks_view(plane: np.ndarray, f: int) -> np.ndarray:
    """A writable (h/f, f, w/f, f) view of ``plane`` (which may have padded rows)."""
    h, w = plane.shape
    s0, s1 = plane.strides
    return np.lib.stride_tricks.as_strided(plane, (h // f, f, w // f, f), (s0 * f, s0, s1 * f, s1))


#: (sample bytes, factor) -> (wider unsigned type, multiplier): ``x * multiplier`` in the wider
#: type holds ``x`` repeated ``factor`` times (whatever the byte order), a fast horizontal repeat
_SPREAD = {(1, 2): (np.uint16, 0x0101), (1, 4): (np.uint32, 0x01010101),
           (1, 8): (np.uint64, 0x0101010101010101), (2, 2): (np.uint32, 0x00010001),
           (2, 4): (np.uint64, 0x0001000100010001)}


def upsample_into(dst: np.ndarray, ll: np.ndarray, f: int) -> None:
    """Write ``ll`` repeated ``f`` x ``f`` into ``dst`` (cropping what lies beyond it)."""
    h, w = dst.shape
    spread = _SPREAD.get((ll.dtype.itemsize, f)) if ll.dtype.kind == "u" else None
    if spread is not None:  # 10x faster than np.repeat along rows for uint8 at x2
        wide, mul = spread
        rows = (ll.astype(wide) * wide(mul)).view(ll.dtype)[:, :w]
    else:
        rows = np.repeat(ll, f, axis=1)[:, :w]
    # then each row written f times
    hf = (h // f) * f
    if hf:
        s0, s1 = dst.strides
        view = np.lib.stride_tricks.as_strided(dst, (hf // f, f, w), (s0 * f, s0, s1))
        view[...] = rows[:hf // f, None, :]
    if hf < h:
        dst[hf:, :] = rows[hf // f]


def block_mean(plane: np.ndarray, f: int, shape) -> np.ndarray:
    """The LL band estimated from a block picture: mean of each ``f`` x ``f`` block (rounded).

    ``plane`` is first extended to ``shape`` (the padded size) by edge replication, as in the
    forward direction; for a losslessly stored picture every block is constant and this is exact.
    """
    p = _pad(np.asarray(plane), shape).astype(np.uint32)
    s = p.reshape(shape[0] // f, f, shape[1] // f, f).sum(axis=(1, 3))
    return ((s + (f * f) // 2) // (f * f)).astype(plane.dtype)


# ------------------------------------------------------------------------------------ payload


# payload = dtype code (1 byte: 1 = int8, 2 = int16, 4 = int32) | bands, raw little-endian.
# Details of 8-bit video are 9-bit signed, but smooth content often fits int8: then the payload
# is half the size and compresses twice as fast.


def pack_details(details_per_plane) -> np.ndarray:
    """Concatenated detail bands (plane by plane, finest level first, lh/hl/hh) as one uint8 buffer."""
    bands = [band for plane in details_per_plane for level in plane for band in level]
    total = sum(b.size for b in bands)
    lo = min((int(b.min()) for b in bands if b.size), default=0)
    hi = max((int(b.max()) for b in bands if b.size), default=0)
    code = 1 if -128 <= lo and hi <= 127 else 2 if -32768 <= lo and hi <= 32767 else 4
    out = np.empty(1 + total * code, np.uint8)
    out[0] = code
    view = out[1:].view({1: np.int8, 2: "<i2", 4: "<i4"}[code])
    pos = 0
    for b in bands:  # cast straight into place: no concatenated copy
        view[pos:pos + b.size].reshape(b.shape)[...] = b
        pos += b.size
    return out


def unpack_details(payload: bytes, shapes, levels: int, dtype) -> list:
    """Inverse of :func:`pack_details` for planes of padded ``shapes`` (bands as ``dtype``)."""
    if not payload:
        raise FormatError("empty restore record", parameter="data")
    code = payload[0]
    if code not in (1, 2, 4):
        raise FormatError(f"unknown detail sample size {code} in restore data", parameter="data")
    stored = np.dtype({1: np.int8, 2: "<i2", 4: "<i4"}[code])
    out, pos = [], 1
    buf = memoryview(payload)
    for (h, w) in shapes:
        plane = []
        for _ in range(levels):
            h, w = h // 2, w // 2
            n = h * w * stored.itemsize
            bands = []
            for _ in range(3):
                if pos + n > len(buf):
                    raise FormatError("restore data holds fewer detail samples than the frame "
                                      "needs", parameter="data")
                bands.append(np.frombuffer(buf[pos:pos + n], stored).reshape(h, w).astype(dtype))
                pos += n
            plane.append(tuple(bands))
        out.append(plane)
    if pos != len(buf):
        raise FormatError("restore data holds more detail samples than the frame needs",
                          parameter="data")
    return out


def downscale_plane(plane: np.ndarray, f: int, shape) -> tuple[np.ndarray, list]:
    """(LL, details) of ``plane`` extended to ``shape`` (lossless Haar, log2 f levels)."""
    pyr = haar_forward(_pad(plane, shape), int(math.log2(f)))
    return pyr.ll, pyr.details


def inverse_plane(ll: np.ndarray, details: list, bits: int, out_shape) -> np.ndarray:
    """The plane from an LL band (exact or approximate) and its detail bands, cropped.

    The lifting runs on uint16/int32 so that an approximate LL (after a lossy codec) cannot wrap:
    additions stay consistent modulo 2**16, the result is read as signed and clipped to range.
    """
    levels = len(details)
    h, w = ll.shape
    shapes = [(h << (levels - k), w << (levels - k)) for k in range(levels)]  # finest first
    pyr = HaarPyramid(ll=np.ascontiguousarray(ll, np.uint16),
                      details=[tuple(np.asarray(b, np.int32) for b in lvl) for lvl in details],
                      shapes=shapes)
    full = haar_inverse(pyr).view(np.int16)
    top = (1 << bits) - 1
    out = np.clip(full[:out_shape[0], :out_shape[1]], 0, top)
    return out.astype(np.uint8 if bits == 8 else np.uint16)


def align_box(box, f: int, sub, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` grown outward to the ``f << sub`` grid and clipped to the picture (luma px)."""
    mx, my = f << sub[0], f << sub[1]
    x1, y1, x2, y2 = box
    x1 = max(0, int(math.floor(x1 / mx)) * mx)
    y1 = max(0, int(math.floor(y1 / my)) * my)
    x2 = min(width, int(math.ceil(x2 / mx)) * mx)
    y2 = min(height, int(math.ceil(y2 / my)) * my)
    return x1, y1, x2, y2


def _plane_box(box, sub):
    x1, y1, x2, y2 = box
    return x1 >> sub[0], y1 >> sub[1], -(-x2 // (1 << sub[0])), -(-y2 // (1 << sub[1]))


# ------------------------------------------------------------------------------------ protector


class Rescale(Protector):
    """Haar downscaling of the whole frame or of detected regions, with keyed exact restore."""

    name = "rescale"
    summary = "invertible Haar downscaling; keyed exact or learned restore (cl. 6.5)"
    options = (
        Option("factor", int, 4, "downscale factor (one Haar level per x2)", FACTORS),
        Option("region", str, "frame", "whole frame, or only the detected/fixed regions",
               ("frame", "targets")),
        Option("targets", parse_list, ["face"], "detector targets for region=targets (face+plate)"),
        Option("box", parse_boxes, [], "fixed regions for region=targets, x1/y1/x2/y2 luma px"),
        Option("pad", non_negative(float), None, "margin around each region (fraction of its "
               "size per side if < 1, else px); auto: detections 0.5 (the whole head), fixed "
               "boxes 0"),
        Option("blocks", non_negative(int), None, "region mode: at most this many LL samples "
               f"across a region; larger regions get more Haar levels (factor is the least); "
               f"auto: {REGION_BLOCKS} for detections, 0 for fixed boxes; 0: every region at "
               f"factor"),
        Option("restore", str, "none", "how an authorised user restores: exact (keyed "
               "restore data), learned (network, no side data) or none", ("exact", "learned", "none")),
        Option("key", str, None, "key file (make one with `vpf keygen KEYFILE`); restore=exact"),
        Option("data", str, None, "restore-data sidecar to write; default (PyAV, ffmpeg hosts): inside "
               "an .mkv output, else OUTPUT.vpfr; restore=exact"),
        Option("size", str, "same", "frame mode output: same size (pixel blocks) or small "
               "(the LL picture)", ("same", "small")),
    )

    def __init__(self, **opts):
        super().__init__(**opts)
        o = self.opts
        self.factor = o["factor"]
        self.levels = int(math.log2(self.factor))
        blocks = o["blocks"]
        if blocks is None:  # auto: cap detections (privacy), keep the user's boxes literal
            blocks = REGION_BLOCKS if o["region"] == "targets" and not o["box"] else 0
        #: the resolved cap (0: none); region mode only
        self.blocks = blocks if o["region"] == "targets" else 0
        if o["restore"] == "exact":
            if not o["key"]:
                raise ParameterError("rescale: restore=exact needs key=KEYFILE (restore data is "
                                     "never written in the clear; make a key with `vpf keygen "
                                     "KEYFILE`)", parameter="key")
            self._key = rd.read_key(o["key"])
        if o["restore"] == "learned":
            if self.factor not in (2, 4):
                raise ParameterError("rescale: restore=learned has models for factor 2 and 4",
                                     parameter="factor")
            if o["region"] != "frame":
                raise ParameterError("rescale: restore=learned works on whole frames "
                                     "(region=frame)", parameter="region")
        if o["size"] == "small" and o["region"] != "frame":
            raise ParameterError("rescale: size=small applies to region=frame",
                                 parameter="size")
        # an instance attribute, read by hosts: only the small variant changes the frame size
        self.changes_size = o["size"] == "small" and o["region"] == "frame"
        self.writer = None
        self._output = None    # the host's final output path (bind_output), for data in it
        self._tmp_data = None  # restore data written beside it until finalize_output
        self._compress = None
        self._pool = None
        self._pending: list = []
        import threading

        self._lock = threading.Lock()  # VapourSynth may call process() from several threads

    def output_size(self, width: int, height: int, fmt: str) -> tuple[int, int]:
        """The (width, height) of the frames :meth:`process` returns for ``width`` x ``height``
        frames of ``fmt``, known before any frame (hosts build the output at that size): the
        input's size, or with ``size=small`` the LL picture's: the luma plane padded to multiples
        of ``factor << subsampling`` (:func:`padded_size`) divided by the factor; the learned
        variant gives ceil(size / factor)."""
        if not self.changes_size:
            return width, height
        from vpfilters.core.frame import FORMATS

        fam, bits, sub, _n = FORMATS[fmt]
        if bits > 15:
            raise FormatError(f"rescale: {fmt} is not supported (up to 15 bits); convert first "
                              f"(e.g. to a 10-bit format)", parameter="format")
        f = self.factor
        if self.opts["restore"] == "learned":
            return -(-width // f), -(-height // f)
        wp, hp = padded_size(width, height, f, sub if fam == "yuv" else (0, 0))
        return wp // f, hp // f

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self, info: StreamInfo) -> None:
        super().open(info)
        geometry = (info.width, info.height, info.format)
        if self.writer is not None and geometry != self._geometry:
            raise FormatError(f"rescale: restore=exact keeps one picture size per restore-data "
                              f"file; {info.width}x{info.height} {info.format} differs from "
                              f"{self._geometry[0]}x{self._geometry[1]} {self._geometry[2]}",
                              file=info.source)
        self._geometry = geometry
        if self.opts["restore"] == "exact" and self.writer is None:
            path = self.opts["data"]
            if not path:
                if self._output is None:
                    raise ParameterError("rescale: restore=exact needs data=PATH for the "
                                         "encrypted restore data with this host (e.g. "
                                         "OUTPUT.vpfr); only the PyAV and ffmpeg-python "
                                         "hosts store it with the output by themselves", parameter="data")
                import os
                import tempfile

                fd, path = tempfile.mkstemp(prefix=f".{self._output.name}.", suffix=".vpfr.part",
                                            dir=self._output.parent)
                os.close(fd)
                self._tmp_data = path
            comp = rd.default_compression()
            self._compress = rd.compressor(comp)[0]
            self.writer = rd.RestoreWriter(path, self._key, {
                "width": info.width, "height": info.height, "format": info.format,
                "factor": self.factor, "region": self.opts["region"], "size": self.opts["size"],
                "blocks": self.blocks,
                "compression": comp, "transform": "haar-s-lifting",
                "padding": "edge replicate to multiples of factor<<subsampling",
                "source": None,
            })
        if self.opts["restore"] == "learned":
            from vpfilters.protect import _learned

            self._learned = _learned.LearnedRescaler(self.factor)

    # -- host hooks: restore data stored with the output (PyAV host) ----------------------------
    def bind_output(self, path) -> None:
        """Host hook, before :meth:`open`: the final output path. With ``data`` not given, the
        restore data then goes into that file (``.mkv``) or beside it (``OUTPUT.vpfr``)."""
        from pathlib import Path

        self._output = Path(path)

    def finalize_output(self, tmp_path) -> None:
        """Host hook, once the video at ``tmp_path`` (renamed to the bound output afterwards) is
        complete: finish the restore data and embed it there (MKV) or move it to the sidecar."""
        if self._tmp_data is None:
            return
        import os

        self._finish()
        tmp_data, self._tmp_data = self._tmp_data, None
        try:
            if self._output.suffix.lower() in rd.EMBED_SUFFIXES:
                rd.embed_in_mkv(tmp_path, tmp_data)
            else:
                os.replace(tmp_data, str(self._output) + ".vpfr")
        finally:
            if os.path.exists(tmp_data):
                os.unlink(tmp_data)

    def close(self) -> None:
        try:
            self._finish()
        finally:
            if self._tmp_data is not None:  # never finalized: the run failed, keep nothing
                import os

                if os.path.exists(self._tmp_data):
                    os.unlink(self._tmp_data)
                self._tmp_data = None

    def _finish(self) -> None:
        if self.writer is None:
            return
        try:
            while self._pending:
                self._pending.pop(0).result()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            self.writer.close()
            self.writer = None

    def _store(self, index: int, box, details, levels: int | None = None) -> None:
        """Compress, encrypt and append on a worker thread (zstd and AES release the GIL), so
        the next frame's transform overlaps this one's storage; at most 4 frames in flight.
        ``levels``: the region's own level count, stored as the payload's first byte."""
        write = self.writer.add
        compress = self._compress

        def job():  # packing runs on the worker too (numpy casts release the GIL)
            buf = pack_details(details)
            if levels is not None:
                buf = np.concatenate([np.array([levels], np.uint8), buf])
            write(index, box, compress(buf))

        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(1, thread_name_prefix="vpf-rescale")
            self._pending.append(self._pool.submit(job))
            while len(self._pending) > 4 or (self._pending and self._pending[0].done()):
                self._pending.pop(0).result()

    # -- work ----------------------------------------------------------------------------------
    def process(self, frame: Frame, ctx: FrameContext) -> Frame:
        if frame.bits > 15:
            raise FormatError(f"rescale: {frame.format} is not supported (up to 15 bits)",
                              frame=frame.index)
        if self.opts["restore"] == "learned":
            return self._learned.protect(frame, self.opts["size"])
        if self.opts["region"] == "frame":
            return self._frame(frame)
        return self._regions(frame, ctx)

    def _frame(self, frame: Frame) -> Frame:
        f = self.factor
        sub = frame.subsampling(1) if len(frame.planes) > 1 else (0, 0)
        wp, hp = padded_size(frame.width, frame.height, f, sub)
        shapes = _plane_shapes(sub, len(frame.planes), wp, hp)
        lls, details = [], []
        for plane, shape in zip(frame.planes, shapes):
            ll, det = downscale_plane(plane, f, shape)
            lls.append(ll)
            details.append(det)
        if self.writer is not None:
            self._store(frame.index, (0, 0, frame.width, frame.height), details)
        frame.props["VPFRescale"] = f
        if self.opts["size"] == "small":
            return Frame([np.ascontiguousarray(p) for p in lls], frame.format, frame.index,
                         frame.props, frame.pts, frame.time_base)
        for plane, ll in zip(frame.planes, lls):
            upsample_into(plane, ll, f)
        return frame

    def regions(self, frame: Frame, ctx: FrameContext) -> list[Region]:
        pad = self.opts["pad"]
        regions = [Region(tuple(b), "box") for b in self.opts["box"]]
        if pad:
            regions = [r.grown(pad, frame.width, frame.height) for r in regions]
        if self.opts["targets"] and not self.opts["box"]:
            from vpfilters.detect import detect_regions

            regions += detect_regions(frame, "+".join(self.opts["targets"]),
                                      pad=DETECTION_MARGIN if pad is None else pad)
        return regions

    def _regions(self, frame: Frame, ctx: FrameContext) -> Frame:
        sub = frame.subsampling(1) if len(frame.planes) > 1 else (0, 0)
        regions = self.regions(frame, ctx)
        frame.props["VPFBoxes"] = list(frame.props.get("VPFBoxes", [])) + flat_boxes(regions)
        blocks = self.blocks
        for r in regions:
            f = region_factor(r.box, self.factor, blocks)
            box = align_box(r.box, f, sub, frame.width, frame.height)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            wp, hp = padded_size(box[2] - box[0], box[3] - box[1], f, sub)
            shapes = _plane_shapes(sub, len(frame.planes), wp, hp)
            details = []
            for i, (plane, shape) in enumerate(zip(frame.planes, shapes)):
                x1, y1, x2, y2 = _plane_box(box, frame.subsampling(i))
                crop = plane[y1:y2, x1:x2]
                ll, det = downscale_plane(np.ascontiguousarray(crop), f, shape)
                details.append(det)
                upsample_into(crop, ll, f)
            if self.writer is not None:
                self._store(frame.index, box, details,
                            int(math.log2(f)) if blocks else None)
        frame.props["VPFRescale"] = self.factor
        return frame


# ------------------------------------------------------------------------------------ restore


def restore_frame(frame: Frame, records, header: dict, decompress) -> Frame:
    """The original frame from a protected ``frame`` (as decoded) and its decrypted records."""
    f = int(header["factor"])
    levels = int(math.log2(f))
    width, height, fmt = int(header["width"]), int(header["height"]), header["format"]
    if frame.format != fmt:
        raise FormatError(f"the protected video is {frame.format}, the restore data was made "
                          f"for {fmt}", frame=frame.index)
    bits = frame.bits
    ddt = np.int16 if bits == 8 else np.int32
    if header["region"] == "frame":
        sub = _subsampling_of(fmt)
        wp, hp = padded_size(width, height, f, sub)
        shapes = _plane_shapes(sub, len(frame.planes), wp, hp)
        out_shapes = _plane_shapes_exact(sub, len(frame.planes), width, height)
        if not records:
            raise FormatError("no restore data for this frame", frame=frame.index)
        (_, payload), = records[-1:]
        details = unpack_details(decompress(payload), shapes, levels, ddt)
        planes = []
        for i, (plane, shape, oshape) in enumerate(zip(frame.planes, shapes, out_shapes)):
            llshape = (shape[0] // f, shape[1] // f)
            if header["size"] == "small":
                ll = _pad(np.asarray(plane), llshape)[:llshape[0], :llshape[1]]
            else:
                ll = block_mean(plane, f, shape)
            planes.append(inverse_plane(ll, details[i], bits, oshape))
        return Frame(planes, fmt, frame.index, frame.props, frame.pts, frame.time_base)
    if (frame.width, frame.height) != (width, height):
        raise FormatError(f"the protected video is {frame.width}x{frame.height}, the restore "
                          f"data was made for {width}x{height}", frame=frame.index)
    sub = _subsampling_of(fmt)
    out = frame.copy()
    for box, payload in reversed(records):  # undo overlapping regions last-first
        raw = decompress(payload)
        if header.get("blocks"):  # each region's own level count comes first
            if not raw or not 1 <= raw[0] <= MAX_REGION_LEVELS:
                raise FormatError("bad region level in restore data", frame=frame.index)
            levels, raw = raw[0], raw[1:]
            f = 1 << levels
        wp, hp = padded_size(box[2] - box[0], box[3] - box[1], f, sub)
        shapes = _plane_shapes(sub, len(frame.planes), wp, hp)
        details = unpack_details(raw, shapes, levels, ddt)
        for i, (plane, shape) in enumerate(zip(out.planes, shapes)):
            x1, y1, x2, y2 = _plane_box(box, frame.subsampling(i))
            crop = plane[y1:y2, x1:x2]
            ll = block_mean(crop, f, shape)
            crop[...] = inverse_plane(ll, details[i], bits, crop.shape)
    return out


def _subsampling_of(fmt: str):
    from vpfilters.core.frame import FORMATS

    fam, _, sub, n = FORMATS[fmt]
    return sub if fam == "yuv" else (0, 0)


def _plane_shapes_exact(sub, nplanes, width, height):
    return [(height, width) if i == 0 else (-(-height // (1 << sub[1])), -(-width // (1 << sub[0])))
            for i in range(nplanes)]


def restore_video(src, dst, key=None, data=None, *, codec: str = "ffv1", crf: float = 18,
                  preset: str = "veryfast", progress: bool = True, max_frames: int | None = None,
                  on_frame=None, learned: int | None = None, size: str = "same") -> dict:
    """Rebuild the original video from a protected one and its restore data (exact mode).

    ``key`` is a key file; ``data`` the ``.vpfr`` sidecar (default: the restore data embedded in
    ``src`` when it has them, an MKV attachment, else the sidecar ``src`` + ``.vpfr``). The
    output is FFV1 (lossless) unless ``codec`` says otherwise. ``on_frame(index, frame)``, when
    given, sees every restored frame (tests and benchmarks compare them with the original).
    ``learned=F`` restores ``rescale=factor=F:restore=learned`` output with the bundled network
    instead (no key or data; ``size`` says how it was written; a small video comes back at F
    times its size, the padding cannot be known).
    Returns a summary dict (frames, fps, output).
    """
    import time
    from pathlib import Path

    import av

    from vpfilters.errors import InputError, OutputError
    from vpfilters.hosts import _io
    from vpfilters.hosts.pyav import _CORE_TO_AV, core_to_frame, frame_to_core

    if learned is None:
        if key is None:
            raise ParameterError("restore: exact restore needs the key file", parameter="key")
        key_bytes = rd.read_key(key)
        if data is not None:
            data = Path(data)
            reader = rd.RestoreReader(data, key_bytes)
        else:
            _io.check_input(src)
            embedded = rd.read_embedded(src)
            if embedded is not None:
                data = Path(src)
                reader = rd.RestoreReader(data, key_bytes, data=embedded)
            else:
                data = Path(str(src) + ".vpfr")
                if not data.exists():
                    raise InputError("no restore data: the video holds none and there is no "
                                     f"sidecar {data.name} (give it with --data)", file=src,
                                     parameter="data")
                reader = rd.RestoreReader(data, key_bytes)
        header = reader.header
        decompress = rd.compressor(header["compression"])[1]
    else:
        from vpfilters.protect._learned import LearnedRescaler

        net = LearnedRescaler(int(learned))
        reader = None
        header = None
    t0 = time.monotonic()
    n = 0
    dst = Path(dst)
    try:
        inp = av.open(str(src))
    except av.error.FFmpegError as exc:
        raise InputError(f"not a readable video ({exc.strerror or exc})", file=src) from None
    try:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        with _io.atomic_output(dst) as tmp:
            fmt = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".nut": "nut"}.get(
                dst.suffix.lower())
            with av.open(tmp, "w", format=fmt) as out:
                vout = out.add_stream(codec, rate=vin.average_rate or 25)
                if header is not None:
                    vout.width, vout.height = int(header["width"]), int(header["height"])
                    vout.pix_fmt = _CORE_TO_AV[header["format"]]
                else:
                    k = int(learned) if size == "small" else 1
                    cc = vin.codec_context
                    vout.width, vout.height = cc.width * k, cc.height * k
                    vout.pix_fmt = "yuv420p"
                if codec in ("libx264", "libx265"):
                    vout.options = {"crf": f"{float(crf):g}", "preset": preset}
                vout.time_base = vin.time_base
                bar = None
                if progress:
                    from tqdm import tqdm

                    bar = tqdm(total=vin.frames or None, unit="f", desc="restore", leave=False)
                for avf in inp.decode(vin):
                    if max_frames is not None and n >= max_frames:
                        break
                    core, _, _ = frame_to_core(avf, n)
                    if reader is None:
                        restored = net.restore(core, None if size == "same" else
                                               (core.height * int(learned),
                                                core.width * int(learned)))
                    else:
                        restored = restore_frame(core, reader.get(n), header, decompress)
                    if on_frame is not None:
                        on_frame(n, restored)
                    of = core_to_frame(restored)
                    of.pts, of.time_base = avf.pts, avf.time_base
                    for pkt in vout.encode(of):
                        out.mux(pkt)
                    n += 1
                    if bar is not None:
                        bar.update(1)
                for pkt in vout.encode(None):
                    out.mux(pkt)
                if bar is not None:
                    bar.close()
    except av.error.FFmpegError as exc:
        raise OutputError(f"writing the restored video failed ({exc.strerror or exc})",
                          file=dst) from None
    finally:
        inp.close()
        if reader is not None:
            reader.close()
    if n == 0:
        raise InputError("no frame could be decoded", file=src)
    seconds = time.monotonic() - t0
    return {"input": str(src), "output": str(dst), "data": str(data) if data else None, "frames": n,
            "seconds": round(seconds, 3), "fps": round(n / max(seconds, 1e-9), 2)}
