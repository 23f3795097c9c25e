"""Inline media in request bodies: ``data:`` URLs and a document's media type from its file name."""

from __future__ import annotations

from bastion.domain.errors import InvalidRequestError

__all__ = ["guess_document_type", "parse_data_url"]

_MEDIA_TYPES_BY_SUFFIX = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".html": "text/html",
    ".json": "application/json",
}


def parse_data_url(url: str, path: str) -> tuple[str, str]:
    """``data:<media type>;base64,<data>`` -> ``(media_type, data)``; anything else is a 400 at ``path``."""
    header, sep, data = url[5:].partition(",")
    params = header.split(";")
    if not sep or "base64" not in params[1:]:
        raise InvalidRequestError(
            f"'{path}' must be a base64 data URL such as 'data:image/png;base64,...'.", param=path
        )
    return params[0] or "application/octet-stream", data


def guess_document_type(filename: str | None) -> str:
    """The media type a document's file name suggests; PDF when it suggests none."""
    if filename:
        dot = filename.rfind(".")
        if dot >= 0:
            found = _MEDIA_TYPES_BY_SUFFIX.get(filename[dot:].lower())
            if found:
                return found
    return "application/pdf"
