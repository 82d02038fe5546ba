"""Payload framing for information hiding: version, length, CRC32, Reed-Solomon and AES-GCM.

A framed payload is::

    version (1) | flags (1) | length (2, or 4 with flags bit 1; big endian) | body | crc32 (4)

``flags`` bit 1 says the length takes 4 bytes (bodies over 65535 bytes, capacity mode); bit 0 says
the body is encrypted: then ``body = salt (16) | AES-GCM ciphertext+tag``,
with the key derived from the passphrase by scrypt over that salt. A fresh salt gives a fresh key,
so the fixed all-zero nonce is never reused under one key. CRC32 covers everything before it, so a
frame read from an unmarked picture is refused (false accept about 2**-32 per try), never
returned as garbage. The robust mode adds Reed-Solomon parity over the framed bytes.
"""

from __future__ import annotations

import struct
import zlib

from vpfilters.errors import VpfError

VERSION = 1
FLAG_ENCRYPTED = 1
FLAG_LONG = 2
HEADER = struct.Struct(">BBH")
LONG_HEADER = struct.Struct(">BBI")
OVERHEAD = HEADER.size + 4
SALT_BYTES = 16
TAG_BYTES = 16
MAX_BODY = 0xFFFFFFFF
_AAD = b"vpfilters-hide-v1"


class PayloadNotFound(VpfError, LookupError):
    """No framed payload (valid CRC) could be read: the input carries none, or it was destroyed."""


class WrongKey(VpfError, PermissionError):
    """A payload is there, encrypted, and the key given does not open it (or none was given)."""


def _derive(key: bytes, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=2 ** 14, r=8, p=1).derive(key)


def _as_bytes(v) -> bytes:
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def frame_payload(data: bytes, key=None, *, salt: bytes | None = None) -> bytes:
    """Frame ``data`` (and encrypt it with ``key``, a passphrase str or bytes)."""
    import os

    data = _as_bytes(data)
    flags = 0
    if key is not None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt = os.urandom(SALT_BYTES) if salt is None else salt
        aes = AESGCM(_derive(_as_bytes(key), salt))
        data = salt + aes.encrypt(b"\0" * 12, data, _AAD)
        flags |= FLAG_ENCRYPTED
    if len(data) > MAX_BODY:
        raise VpfError(f"hide: payload of {len(data)} bytes is too long (at most {MAX_BODY})",
                       parameter="payload")
    if len(data) > 0xFFFF:
        head = LONG_HEADER.pack(VERSION, flags | FLAG_LONG, len(data)) + data
    else:
        head = HEADER.pack(VERSION, flags, len(data)) + data
    return head + struct.pack(">I", zlib.crc32(head))


def framed_length(buf: bytes) -> int | None:
    """Total framed length announced by the header at the start of ``buf`` (None if implausible)."""
    if len(buf) < HEADER.size:
        return None
    version, flags, n = HEADER.unpack_from(buf)
    if version != VERSION or flags & ~(FLAG_ENCRYPTED | FLAG_LONG):
        return None
    if flags & FLAG_LONG:
        if len(buf) < LONG_HEADER.size:
            return None
        return LONG_HEADER.size + LONG_HEADER.unpack_from(buf)[2] + 4
    return HEADER.size + n + 4


def check_frame(buf: bytes) -> tuple[int, bytes] | None:
    """``(flags, body)`` when ``buf`` starts with a whole framed payload whose CRC holds."""
    total = framed_length(buf)
    if total is None or total > len(buf):
        return None
    head, crc = buf[:total - 4], struct.unpack(">I", buf[total - 4:total])[0]
    if zlib.crc32(head) != crc:
        return None
    start = LONG_HEADER.size if head[1] & FLAG_LONG else HEADER.size
    return head[1] & FLAG_ENCRYPTED, head[start:]


def open_body(flags: int, body: bytes, key=None) -> bytes:
    """The plaintext of a checked frame; :class:`WrongKey` when the key is missing or wrong."""
    if not flags & FLAG_ENCRYPTED:
        return body
    if key is None:
        raise WrongKey("a payload is present but encrypted: give its key (--key)",
                       parameter="key")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, ct = body[:SALT_BYTES], body[SALT_BYTES:]
    try:
        return AESGCM(_derive(_as_bytes(key), salt)).decrypt(b"\0" * 12, ct, _AAD)
    except InvalidTag:
        raise WrongKey("wrong key: the payload is present but this key does not open it",
                       parameter="key") from None


# ---------------------------------------------------------------------------------- robust code


def block_size(framed_len: int) -> int:
    """Framed bytes padded to a multiple of 8 (the robust mode's message block, 8..2048)."""
    return max(8, -(-framed_len // 8) * 8)


def parity_size(block: int) -> int:
    """Reed-Solomon parity bytes per 255-byte codeword: corrects ``parity / 2`` byte errors each."""
    return min(max(16, block // 2), 64)


def coded_length(block: int) -> int:
    """Bytes on the wire for a message block (reedsolo splits it into 255-byte codewords)."""
    nsym = parity_size(block)
    return block + nsym * -(-block // (255 - nsym))


def rs_encode(block: bytes) -> bytes:
    from reedsolo import RSCodec

    return bytes(RSCodec(parity_size(len(block))).encode(block))


def rs_decode(codeword: bytes, block: int) -> bytes | None:
    """The corrected message block, or None when there are more errors than the code mends."""
    from reedsolo import ReedSolomonError, RSCodec

    try:
        return bytes(RSCodec(parity_size(block)).decode(bytearray(codeword))[0])
    except (ReedSolomonError, ValueError, IndexError, ZeroDivisionError):
        return None
