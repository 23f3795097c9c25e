"""Reading ``bastion_settings.accounts`` and the account variables of the environment.

The names of the environment variables are the ones the seeds use: ``FIRST_SUPERUSER``,
``FIRST_SUPERUSER_PASSWORD`` and ``ENCRYPTION_KEY`` (plus ``ENCRYPTION_KEYS``, older keys that
still decrypt during a rotation) and ``BASTION_JWT_SECRET``. A value in the file wins over the
environment; ``os.environ/NAME`` references work there as everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.domain.secret import Secret
from bastion.settings._environ import EnvString
from bastion.settings._known_keys import ACCOUNT_KEYS
from bastion.settings._reader import MapReader
from bastion.settings._where import Where
from bastion.settings.model import USER_KEY_MODES, AccountSettings

__all__ = ["MIN_SECRET_LENGTH", "read_account_settings"]

#: Signing secrets and encryption keys shorter than this are refused (``openssl rand -base64 32``).
MIN_SECRET_LENGTH = 32


def read_account_settings(section: MapReader, env: Mapping[str, str]) -> AccountSettings:
    section.reject_unknown(ACCOUNT_KEYS)
    mode = section.string("user_keys") or "optional"
    if mode not in USER_KEY_MODES:
        raise section.at("user_keys").error(f"must be one of: {', '.join(USER_KEY_MODES)}")
    superuser = section.string("first_superuser") or env.get("FIRST_SUPERUSER") or None
    password = section.string("first_superuser_password") or env.get("FIRST_SUPERUSER_PASSWORD") or None
    if superuser is not None and password is None:
        raise section.at("first_superuser").error(
            "needs a password too: set FIRST_SUPERUSER_PASSWORD (or accounts.first_superuser_password)"
        )
    if superuser is not None and "@" not in superuser:
        raise section.at("first_superuser").error("must be an email address")
    return AccountSettings(
        user_keys=mode,
        first_superuser=superuser.strip().lower() if superuser else None,
        first_superuser_password=Secret(password) if password else None,
        jwt_secret=_jwt_secret(section, env),
        access_token_minutes=section.integer("access_token_minutes", minimum=1) or 60 * 24,
        encryption_keys=_encryption_keys(section, env),
        login_max_failures=section.integer("login_max_failures", minimum=1) or 5,
        login_lockout_seconds=_or(section.number("login_lockout_seconds", exclusive=True), 900.0),
        login_slowdown_seconds=_or(section.number("login_slowdown_seconds"), 0.5),
        min_password_length=section.integer("min_password_length", minimum=1) or 8,
    )


def _jwt_secret(section: MapReader, env: Mapping[str, str]) -> Secret | None:
    value = section.string("jwt_secret")
    where = section.at("jwt_secret")
    if value is None and env.get("BASTION_JWT_SECRET"):
        value = EnvString(env["BASTION_JWT_SECRET"], "BASTION_JWT_SECRET")
    return None if value is None else _strong(value, where, "the JWT signing secret")


def _encryption_keys(section: MapReader, env: Mapping[str, str]) -> tuple[Secret, ...]:
    """Newest first: the configured list, else ``ENCRYPTION_KEY`` then ``ENCRYPTION_KEYS`` (a
    comma-separated list)."""
    items = section.string_items("encryption_keys")
    if items is not None:
        if not items:
            raise section.at("encryption_keys").error("must list at least one key (newest first)")
        return tuple(_strong(value, where, "an encryption key") for where, value in items)
    found: list[Secret] = []
    where = section.at("encryption_keys")
    for name in ("ENCRYPTION_KEY", "ENCRYPTION_KEYS"):
        for part in env.get(name, "").split(","):
            if part.strip():
                key = _strong(EnvString(part.strip(), name), where, "an encryption key")
                if key not in found:
                    found.append(key)
    return tuple(found)


def _strong(value: str, where: Where, what: str) -> Secret:
    if len(value) < MIN_SECRET_LENGTH:
        note = f" (from environment variable {value.variable})" if isinstance(value, EnvString) else ""
        raise where.error(
            f"{what} must be at least {MIN_SECRET_LENGTH} characters{note}; "
            "generate one with: openssl rand -base64 32"
        )
    return Secret(str(value))


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
