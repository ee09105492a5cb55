"""Where an image file's own structure ends, read from its container format.

Pillow decodes pixels but does not say whether bytes follow the image: a PNG with a ZIP
archive appended, or a JPEG with an HTML page after its end marker, decodes fine and is
still a polyglot that another program reads as something else. These walkers follow
each format's chunk, segment or box lengths to the image's last byte, raising
``Truncated`` when the file stops before it, and collect the metadata (every byte that is
not compressed pixel data) so it can be searched for markup without the false alarms a
search through compressed data would raise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ISO base media file brands of HEIC/HEIF still images (and image sequences).
HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm",
                         b"hevs", b"mif1", b"msf1", b"heif"})

# Formats refused on sight, named so the message can say what was sent.
_OTHER_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"BM", 0, "a BMP image"),
    (b"\x00\x00\x01\x00", 0, "an ICO icon"),
    (b"\x00\x00\x02\x00", 0, "a CUR cursor"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"avif", 8, "an AVIF image"),
)


# Chunks, segments and boxes holding compressed pixels rather than metadata.
_PIXEL_CHUNKS = frozenset({b"IDAT", b"fdAT", b"VP8 ", b"VP8L", b"ALPH", b"ANMF", b"mdat"})


class Truncated(ValueError):
    """The file ends before the image does."""


@dataclass
class Layout:
    """Where the image ends, and its metadata bytes."""

    end: int = 0
    metadata: list[bytes] = field(default_factory=list)


def sniff(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"``, ``"webp"`` or ``"heif"`` from the leading bytes, else None."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return "heif"
    return None


def describe(data: bytes) -> str:
    """A guess at what a refused file is, for the error message."""
    for signature, offset, name in _OTHER_SIGNATURES:
        if data[offset:offset + len(signature)] == signature:
            return name
    head = data[:512].lstrip().lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        return "an SVG image"
    if head.startswith((b"<!doctype", b"<html", b"<")):
        return "an HTML or XML document"
    try:
        data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return "an unrecognised file"
    return "a text file"


def layout(kind: str, data: bytes) -> Layout:
    """Where the image of ``kind`` in ``data`` ends, and its metadata."""
    walker = {"png": _png, "jpeg": _jpeg, "webp": _webp, "heif": _heif}[kind]
    found = Layout()
    found.end = walker(data, found.metadata)
    return found


def _png(data: bytes, metadata: list[bytes]) -> int:
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise Truncated("PNG ends before its IEND chunk")
        length, chunk_type = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + int(length)  # length, type, data, CRC
        if end > len(data):
            raise Truncated("PNG chunk runs past the end of the file")
        if chunk_type not in _PIXEL_CHUNKS:
            metadata.append(data[pos:end])
        if chunk_type == b"IEND":
            return end
        pos = end


def _jpeg(data: bytes, metadata: list[bytes]) -> int:
    size = len(data)
    pos = 2  # after SOI
    while True:
        if pos >= size:
            raise Truncated("JPEG ends before its EOI marker")
        if data[pos] != 0xFF:
            raise ValueError("JPEG segment does not start with a marker")
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            raise Truncated("JPEG ends inside a marker")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            continue
        if pos + 2 > size:
            raise Truncated("JPEG ends inside a segment header")
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2:
            raise ValueError("JPEG segment length is invalid")
        if pos + length > size:
            raise Truncated("JPEG segment runs past the end of the file")
        metadata.append(data[pos:pos + length])
        pos += length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            pos = _after_scan(data, pos)


def _after_scan(data: bytes, pos: int) -> int:
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise Truncated("JPEG scan data runs to the end of the file")
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart
            pos += 2
            continue
        return pos


def _webp(data: bytes, metadata: list[bytes]) -> int:
    if len(data) < 12:
        raise Truncated("WebP header is incomplete")
    payload = int(struct.unpack("<I", data[4:8])[0])
    end = 8 + payload + (payload & 1)
    if end > len(data):
        raise Truncated("WebP ends before its RIFF size")
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise Truncated("WebP ends inside a chunk header")
        chunk_type, size = data[pos:pos + 4], int(struct.unpack("<I", data[pos + 4:pos + 8])[0])
        chunk_end = pos + 8 + size + (size & 1)
        if chunk_end > end:
            raise Truncated("WebP chunk runs past the end of the image")
        if chunk_type not in _PIXEL_CHUNKS:
            metadata.append(data[pos:chunk_end])
        pos = chunk_end
    return end


def _heif(data: bytes, metadata: list[bytes]) -> int:
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise Truncated("HEIF ends inside a box header")
        size, header = int(struct.unpack(">I", data[pos:pos + 4])[0]), 8
        if size == 1:
            if pos + 16 > len(data):
                raise Truncated("HEIF ends inside a box header")
            size, header = int(struct.unpack(">Q", data[pos + 8:pos + 16])[0]), 16
        elif size == 0:  # the last box runs to the end of the file
            size = len(data) - pos
        if size < header:
            raise ValueError("HEIF box size is invalid")
        if pos + size > len(data):
            raise Truncated("HEIF box runs past the end of the file")
        if data[pos + 4:pos + 8] not in _PIXEL_CHUNKS:
            metadata.append(data[pos:pos + size])
        pos += size
    return pos
