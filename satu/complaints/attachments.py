"""Attachments: the content decides the type, images are re-encoded without metadata.

Only JPEG, PNG and WebP photos are accepted: they can be cleaned (re-encoding drops EXIF,
GPS position, XMP and comments). PDFs and office files cannot be cleaned reliably here, so
they are refused rather than published with the reporter's metadata inside.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from satu.core.errors import Problem

MAX_PIXELS = 40_000_000
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CleanFile:
    """A checked, cleaned attachment ready to store."""

    filename: str
    content_type: str
    data: bytes
    sha256: str


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, Pillow format) from magic bytes, or None for anything else."""
    for magic, content_type, fmt in _SIGNATURES:
        if data.startswith(magic):
            return content_type, fmt
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    return None


def _safe_filename(name: str, content_type: str) -> str:
    stem = _SAFE_NAME.sub("_", (name or "lampiran").rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    stem = stem.rsplit(".", 1)[0][:80] or "lampiran"
    extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}[content_type]
    return f"{stem}.{extension}"


def clean_attachment(*, filename: str, data: bytes, max_bytes: int) -> CleanFile:
    """Check size and real type, then re-encode the image without any metadata."""
    if not data:
        raise Problem("validation-error", f"Attachment {filename[:80]!r} is empty.")
    if len(data) > max_bytes:
        raise Problem(
            "validation-error",
            f"Attachment {filename[:80]!r} is larger than {max_bytes} bytes.",
        )
    kind = sniff(data)
    if kind is None:
        raise Problem(
            "unsupported-media-type",
            f"Attachment {filename[:80]!r} is not a JPEG, PNG or WebP image "
            "(checked by content, not by name).",
        )
    content_type, fmt = kind
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Problem(
                        "validation-error", f"Attachment {filename[:80]!r} has too many pixels."
                    )
                image.load()
                cleaned = _reencode(image, fmt)
    except Problem:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        raise Problem(
            "unsupported-media-type",
            f"Attachment {filename[:80]!r} is not a readable image.",
        ) from exc
    return CleanFile(
        filename=_safe_filename(filename, content_type),
        content_type=content_type,
        data=cleaned,
        sha256=hashlib.sha256(cleaned).hexdigest(),
    )


def _reencode(image: Image.Image, fmt: str) -> bytes:
    """Copy only the pixels into a fresh image and save it: no EXIF, XMP, ICC or text chunks."""
    mode = image.mode
    if fmt == "JPEG" and mode not in ("RGB", "L"):
        mode = "RGB"
    elif mode not in ("RGB", "RGBA", "L", "LA", "P"):
        mode = "RGBA"
    pixels = image.convert(mode)
    fresh = Image.new(pixels.mode, pixels.size)
    if pixels.mode == "P":
        palette = pixels.getpalette()
        if palette:
            fresh.putpalette(palette)
    fresh.paste(pixels)
    out = io.BytesIO()
    if fmt == "JPEG":
        fresh.save(out, format="JPEG", quality=85)
    elif fmt == "PNG":
        fresh.save(out, format="PNG", optimize=True)
    else:
        fresh.save(out, format="WEBP", quality=85)
    return out.getvalue()
