"""MIME types for media parts: Gemini requires ``mimeType`` on ``inlineData`` and ``fileData``.

Canonical parts may come without one (an OpenAI image URL, a bare base64 string); it is then
inferred from the URL's extension or the first bytes of the data. A table, not :mod:`mimetypes`,
whose first use reads system files from disk.
"""

from __future__ import annotations

_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "csv": "text/csv",
    "mp3": "audio/mp3",
    "wav": "audio/wav",
    "mp4": "video/mp4",
}

# Base64 of the magic numbers of the common image formats.
_BY_BASE64_PREFIX = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
    ("JVBERi0", "application/pdf"),
)


def mime_from_url(url: str, default: str) -> str:
    """The MIME type an URL's file extension suggests, else ``default``."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    _, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        return default
    return _BY_EXTENSION.get(ext.lower(), default)


def mime_from_base64(data: str, default: str) -> str:
    """The MIME type base64 ``data`` starts like, else ``default``."""
    for prefix, mime in _BY_BASE64_PREFIX:
        if data.startswith(prefix):
            return mime
    return default


def split_data_url(url: str) -> tuple[str | None, str] | None:
    """``data:<mime>;base64,<data>`` -> ``(mime, data)``; ``None`` if not a base64 data URL."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[5:].partition(",")
    if not comma or not header.endswith(";base64"):
        return None
    mime = header[: -len(";base64")] or None
    return mime, data
