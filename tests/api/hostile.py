"""Hostile and broken uploads, built in code. Each is a (file name, bytes, content type)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image

from tests.support import png_bytes


def chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_declaring(width: int, height: int, rows: int = 1) -> bytes:
    """A structurally valid PNG whose header claims ``width`` x ``height`` pixels but
    whose data is a few compressed rows of zeros: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    raw = zlib.compress(b"\x00" * (min(width, 4096) + 1) * rows, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw)
            + chunk(b"IEND", b""))


def encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 0).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.js", "alert(document.cookie)")
    return buffer.getvalue()


def jpeg_with_comment(comment: bytes) -> bytes:
    jpeg = png_bytes(fmt="JPEG")
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return jpeg[:2] + segment + jpeg[2:]


def png_with_text(text: bytes) -> bytes:
    png = png_bytes()
    return png[:33] + chunk(b"tEXt", b"Comment\x00" + text) + png[33:]


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
       b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>')
HTML = b"<!DOCTYPE html><html><body><script>fetch('/api/assets/')</script></body></html>"

PNG = png_bytes()
JPEG = png_bytes(fmt="JPEG")

# (id, file name, content, declared content type, AIGEN overrides)
CASES: list[tuple[str, str, bytes, str, dict[str, int]]] = [
    ("decompression bomb", "bomb.png", png_declaring(60_000, 60_000), "image/png", {}),
    ("pixels above the cap", "big.png", png_bytes(200, 100), "image/png",
     {"MAX_IMAGE_PIXELS": 10_000}),
    ("bytes above the cap", "heavy.png", png_bytes(64, 64), "image/png",
     {"MAX_IMAGE_BYTES": 100}),
    ("truncated PNG", "cut.png", PNG[: len(PNG) // 2], "image/png", {}),
    ("truncated JPEG", "cut.jpg", JPEG[: len(JPEG) - 40], "image/jpeg", {}),
    ("corrupt PNG data", "bad.png", PNG[:45] + b"\x00" * 20 + PNG[65:], "image/png", {}),
    ("SVG with script", "logo.svg.png", SVG, "image/svg+xml", {}),
    ("text renamed .png", "notes.png", b"just some text, honestly\n" * 10, "image/png", {}),
    ("HTML page", "index.png", HTML, "image/png", {}),
    ("PNG with a ZIP appended", "poly.png", PNG + zip_archive(), "image/png", {}),
    ("GIF with a ZIP appended", "poly.gif", encoded("GIF") + zip_archive(), "image/gif", {}),
    ("JPEG with HTML after its end", "poly.jpg", JPEG + HTML, "image/jpeg", {}),
    ("JPEG with script in a comment", "comment.jpg", jpeg_with_comment(HTML), "image/jpeg",
     {}),
    ("PNG with script in a text chunk", "text.png", png_with_text(b"<script>x</script>"),
     "image/png", {}),
    ("empty file", "empty.png", b"", "image/png", {}),
    ("GIF", "anim.gif", encoded("GIF"), "image/gif", {}),
    ("TIFF", "scan.tiff", encoded("TIFF"), "image/tiff", {}),
    ("BMP", "paint.bmp", encoded("BMP"), "image/bmp", {}),
    ("ICO", "favicon.ico", encoded("ICO", size=(16, 16)), "image/x-icon", {}),
    ("PDF", "doc.png", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "image/png", {}),
    ("zero-size image", "zero.png", png_declaring(0, 10), "image/png", {}),
    ("valid PNG sent as text/html", "page.png", PNG, "text/html", {}),
    ("path traversal name with PHP", "../../x.png", b"<?php system($_GET['c']); ?>",
     "image/png", {}),
    ("WebP with a broken RIFF size", "bad.webp",
     encoded("WEBP")[:4] + struct.pack("<I", 10**6) + encoded("WEBP")[8:], "image/webp", {}),
]
