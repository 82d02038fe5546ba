"""Encrypted restore data of invertible rescaling: key files and the ``.vpfr`` format.

The same bytes are stored either as a sidecar file or, for an MKV output, inside the video as a
Matroska attachment (MIME type :data:`MIMETYPE`, file name ``restore.vpfr``): see
:func:`embed_in_mkv` and :func:`read_embedded`.

A sidecar is::

    b"VPFR" | version (1) | header length (4, big endian) | header (UTF-8 JSON) |
    key check: nonce (12) | AES-GCM tag of an empty message (16) |
    records: length (4, big endian) | frame index (8) | region box x1 y1 x2 y2 (4 x 4, int32) |
             nonce (12) | AES-GCM ciphertext + tag

The header (size, format, factor, padding rule, compression, a random stream id) is not secret but
is authenticated: it is part of the associated data (AAD) of the key check and of every record.
Each record's AAD also holds its frame index and region box, so a record cannot be moved to another
frame, region or file without the tag failing. Nonces are random (96 bit) under a 256-bit key.
A wrong key fails the key check (:class:`WrongKey`); an altered record fails its own tag
(:class:`TamperedData`, naming the frame).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import struct
from pathlib import Path

from vpfilters.errors import InputError, OutputError, VpfError

MAGIC = b"VPFR"
VERSION = 1
KEY_BYTES = 32
KEY_HEADER = "vpfilters-key-v1"
_REC = struct.Struct(">Iq4i")
_KEYCHECK = b"vpfr-key-check"


class WrongKey(VpfError, PermissionError):
    """The key does not open this restore data (or no key was given)."""


class TamperedData(VpfError, ValueError):
    """Restore data failed its authentication: altered, truncated or from another file."""


# ------------------------------------------------------------------------------------ keys


def generate_key(path, *, overwrite: bool = False) -> Path:
    """Write a new random 256-bit key to ``path`` (mode 0600); refuses to replace a file."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputError("a file is already there; refusing to overwrite a key", file=p)
    key = os.urandom(KEY_BYTES)
    text = f"{KEY_HEADER}\n{base64.b64encode(key).decode()}\n"
    fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
    return p


def read_key(path) -> bytes:
    """The 32-byte key in a key file written by :func:`generate_key` (or 32 raw bytes)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the key file ({exc.strerror or exc})", file=p,
                         parameter="key") from None
    if len(raw) == KEY_BYTES and not raw.startswith(KEY_HEADER.encode()):
        return raw
    lines = raw.decode("ascii", "replace").split()
    if len(lines) == 2 and lines[0] == KEY_HEADER:
        try:
            key = base64.b64decode(lines[1], validate=True)
        except ValueError:
            key = b""
        if len(key) == KEY_BYTES:
            return key
    raise InputError(f"not a vpfilters key file (make one with `vpf keygen {p.name}`)", file=p,
                     parameter="key")


def _aes(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


# ------------------------------------------------------------------------------------ writing


class RestoreWriter:
    """Appends encrypted records to a sidecar.

    Records are flushed as they are written, straight to ``path``: hosts that never close a
    stream (VapourSynth evaluates frames lazily, in any order) still leave a readable file.
    """

    def __init__(self, path, key: bytes, header: dict):
        self.path = Path(path)
        self.aes = _aes(key)
        header = dict(header, version=VERSION, stream_id=os.urandom(16).hex())
        self.header_bytes = json.dumps(header, sort_keys=True).encode()
        try:
            self.fh = open(self.path, "wb")
        except OSError as exc:
            raise OutputError(f"cannot write the restore data ({exc.strerror or exc})",
                              file=self.path, parameter="data") from None
        nonce = os.urandom(12)
        self.fh.write(MAGIC + bytes([VERSION]) + struct.pack(">I", len(self.header_bytes)))
        self.fh.write(self.header_bytes)
        self.fh.write(nonce + self.aes.encrypt(nonce, b"", _KEYCHECK + self.header_bytes))
        self.fh.flush()
        self.records = 0
        self.bytes = 0

    def add(self, index: int, box: tuple[int, int, int, int], payload: bytes) -> None:
        nonce = os.urandom(12)
        aad = self.header_bytes + struct.pack(">q4i", index, *box)
        ct = self.aes.encrypt(nonce, payload, aad)
        self.fh.write(_REC.pack(len(ct) + 12, index, *box) + nonce + ct)
        self.fh.flush()
        self.records += 1
        self.bytes += len(ct) + 12 + _REC.size

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    abort = close  # what was written stays readable; a partial last record is reported


# ------------------------------------------------------------------------------------ reading


class RestoreReader:
    """Opens a sidecar, checks the key and indexes its records; :meth:`get` decrypts one frame's."""

    def __init__(self, path, key: bytes, *, data: bytes | None = None):
        import mmap

        self.path = Path(path)
        self._map = None
        if data is not None:  # embedded in a video (``path`` names the video, for messages)
            self.data = data
        else:
            try:
                with open(self.path, "rb") as fh:
                    self.data = self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read the restore data "
                                 f"({getattr(exc, 'strerror', None) or exc})",
                                 file=self.path, parameter="data") from None
        data = self.data
        if len(data) < 9 or data[:4] != MAGIC:
            raise InputError("not vpfilters restore data (.vpfr)", file=self.path,
                             parameter="data")
        if data[4] != VERSION:
            raise InputError(f"restore data version {data[4]} is not supported (expected "
                             f"{VERSION})", file=self.path, parameter="data")
        (hlen,) = struct.unpack(">I", data[5:9])
        pos = 9 + hlen
        self.header_bytes = bytes(data[9:pos])
        try:
            self.header = json.loads(self.header_bytes)
        except ValueError:
            raise TamperedData("the restore-data header is damaged", file=self.path) from None
        self.aes = _aes(key)
        check = data[pos:pos + 28]
        pos += 28
        from cryptography.exceptions import InvalidTag

        try:
            self.aes.decrypt(check[:12], check[12:], _KEYCHECK + self.header_bytes)
        except (InvalidTag, ValueError):
            raise WrongKey("the key does not open this restore data (wrong key, or the header "
                           "was altered)", file=self.path, parameter="key") from None
        # frame -> {box: (start, length)}; a frame processed twice (random access) keeps one copy
        self.index: dict[int, dict] = {}
        n = len(data)
        while pos < n:
            if pos + _REC.size > n:
                raise TamperedData("the restore data is truncated", file=self.path)
            length, index, *box = _REC.unpack_from(data, pos)
            pos += _REC.size
            if pos + length > n or length < 28:
                raise TamperedData("the restore data is truncated", file=self.path, frame=index)
            self.index.setdefault(index, {})[tuple(box)] = (pos, length)
            pos += length

    def get(self, index: int) -> list[tuple[tuple, bytes]]:
        """[(box, payload)] of frame ``index``, in the order they were written (authenticated)."""
        from cryptography.exceptions import InvalidTag

        out = []
        for box, (start, length) in self.index.get(index, {}).items():
            nonce, ct = self.data[start:start + 12], self.data[start + 12:start + length]
            aad = self.header_bytes + struct.pack(">q4i", index, *box)
            try:
                out.append((box, self.aes.decrypt(nonce, ct, aad)))
            except InvalidTag:
                raise TamperedData("restore data failed authentication (altered or moved)",
                                   file=self.path, frame=index) from None
        return out

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


# ------------------------------------------------------------------------------------ in a video

#: MIME type and file name of the restore data embedded in a Matroska file as an attachment.
MIMETYPE = "application/x-vpfilters-restore"
ATTACHMENT_NAME = "restore.vpfr"
#: output suffixes whose container takes the restore data as an attachment (others: sidecar)
EMBED_SUFFIXES = (".mkv",)


def embed_in_mkv(video, data) -> None:
    """Put the restore-data file ``data`` into the Matroska file ``video`` as an attachment.

    The streams are copied as they are (a remux by the ``ffmpeg`` program into a temporary file
    beside ``video``, which then replaces it); any earlier restore-data attachment is dropped.
    Raises :class:`OutputError` when ffmpeg is missing or fails (``video`` is then unchanged).
    """
    import shutil
    import subprocess
    import tempfile

    video = Path(video)
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise OutputError("embedding the restore data in the MKV needs the ffmpeg program; "
                          "install it or give data=PATH for a sidecar", file=video,
                          parameter="data")
    fd, tmp = tempfile.mkstemp(prefix=f".{video.stem}.", suffix=".embed.mkv", dir=video.parent)
    os.close(fd)
    try:
        cmd = [exe, "-nostdin", "-v", "error", "-y", "-i", str(video), "-map", "0",
               "-map", "-0:t", "-c", "copy", "-attach", str(data),
               "-metadata:s:t:0", f"mimetype={MIMETYPE}",
               "-metadata:s:t:0", f"filename={ATTACHMENT_NAME}", "-f", "matroska", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise OutputError(f"embedding the restore data failed (ffmpeg: "
                              f"{run.stderr.strip()[-300:] or run.returncode})", file=video,
                              parameter="data")
        os.replace(tmp, video)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_embedded(video) -> bytes | None:
    """The restore data attached to ``video`` (a Matroska attachment), or None if it has none."""
    import av

    try:
        with av.open(str(video)) as c:
            for st in c.streams:
                if st.type != "attachment":
                    continue
                mime = getattr(st, "mimetype", None)
                name = getattr(st, "name", None)
                if mime is None and name is None:  # PyAV without attachment streams
                    return _dump_attachment(video)
                if mime == MIMETYPE or name == ATTACHMENT_NAME:
                    return bytes(st.data)
    except av.error.FFmpegError as exc:
        raise InputError(f"not a readable video ({exc.strerror or exc})", file=video) from None
    return None


def _dump_attachment(video) -> bytes | None:
    """Older PyAV: the restore-data attachment through ``ffmpeg -dump_attachment``."""
    import shutil
    import subprocess
    import tempfile

    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / ATTACHMENT_NAME
        subprocess.run([exe, "-nostdin", "-v", "error", "-y",
                        f"-dump_attachment:m:mimetype:{MIMETYPE}", str(out), "-i", str(video)],
                       capture_output=True)
        return out.read_bytes() if out.exists() else None


# ------------------------------------------------------------------------------------ packing


def compressor(name: str):
    """(compress, decompress) for ``zstd`` (zstandard, fast) or ``zlib``."""
    if name == "zstd":
        import zstandard

        c = zstandard.ZstdCompressor(level=1)
        d = zstandard.ZstdDecompressor()
        return c.compress, d.decompress
    if name == "zlib":
        import zlib

        return (lambda b: zlib.compress(b, 1)), zlib.decompress
    raise InputError(f"unknown compression {name!r} in restore data", parameter="data")


def default_compression() -> str:
    try:
        import zstandard  # noqa: F401

        return "zstd"
    except ImportError:
        return "zlib"
