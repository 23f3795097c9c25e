"""Read-only files for the demo: ``static_files`` prefixes served from memory.

The files are read once at start-up (no disk I/O while serving); a path can only name a file that
was under the configured directory then. ``/prefix`` redirects to ``/prefix/`` so relative
imports in the page resolve, and ``/prefix/`` serves ``index.html``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["StaticFiles"]

_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".mjs": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".json": b"application/json",
    ".md": b"text/markdown; charset=utf-8",
    ".ts": b"text/plain; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
}
_MAX_TOTAL = 8 * 1024 * 1024
_SKIP = ("node_modules", ".git", "test-output")


class StaticFiles:
    def __init__(self, mounts: Mapping[str, Path]) -> None:
        self.prefixes = tuple(mounts)
        self._files: dict[str, tuple[bytes, bytes]] = {}
        total = 0
        for prefix, root in mounts.items():
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if not path.is_file() or any(
                    part in _SKIP or part.startswith(".") for part in relative.parts
                ):
                    continue
                kind = _TYPES.get(path.suffix)
                if kind is None:
                    continue
                data = path.read_bytes()
                total += len(data)
                if total > _MAX_TOTAL:
                    raise ValueError(
                        f"static_files hold more than {_MAX_TOTAL // 2**20} MB; serve them elsewhere"
                    )
                self._files[f"{prefix}/{relative.as_posix()}"] = (data, kind)

    def find(self, raw_path: str) -> tuple[int, bytes, bytes] | None:
        """``(status, body, content type or Location)`` for a GET of ``raw_path``; None if not ours."""
        for prefix in self.prefixes:
            if raw_path == prefix:
                return 308, b"", (prefix + "/").encode()
            if raw_path.startswith(prefix + "/"):
                path = raw_path + "index.html" if raw_path.endswith("/") else raw_path
                found = self._files.get(path)
                if found is None:
                    return 404, b"Not found\n", b"text/plain; charset=utf-8"
                return 200, found[0], found[1]
        return None
