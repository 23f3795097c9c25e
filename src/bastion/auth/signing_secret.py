"""The secret that signs access tokens when none is configured: generated once, kept in a file.

Only for the embedded default (one host): the file sits in the data directory, readable by its owner
only, and every process on the host reads the same one. Several hosts must share a configured
``BASTION_JWT_SECRET`` instead. The secret is never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bastion.domain.secret import Secret

__all__ = ["SECRET_FILE", "load_or_create_signing_secret"]

SECRET_FILE = "bastion-jwt-secret"


def load_or_create_signing_secret(directory: Path) -> Secret:
    path = directory / SECRET_FILE
    if not path.exists():
        # Written whole to a private temporary file, then linked into place: a process racing us
        # either wins the link or reads the complete file the winner linked.
        temporary = directory / f".{SECRET_FILE}.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    value = path.read_text().strip()
    if len(value) < 32:
        raise RuntimeError(f"{path} holds no usable secret; delete it to have a new one made")
    return Secret(value)
