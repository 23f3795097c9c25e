"""``bastion keys create``: mint a virtual key straight into the database (no server needed).

The options are read exactly as ``POST /key/generate`` reads its body (the same service, the same
checks): a team must exist and allow the key's models, durations and limits must be valid.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.administration.key_fields import KEY_TEXT_FIELDS
from bastion.administration.offline import Offline, offline
from bastion.administration.text_input import body_from_text
from bastion.settings import Settings

__all__ = ["CLI_ACTOR", "create_key"]

#: ``created_by`` of what the command line makes.
CLI_ACTOR = "cli"


def create_key(settings: Settings, options: dict[str, Any]) -> int:
    """Create a key as ``POST /key/generate`` would; print it once, with its name and expiry."""
    body = body_from_text(options, fields=KEY_TEXT_FIELDS)

    async def create(services: Offline) -> dict[str, Any]:
        material, created = await services.admin.keys.create(body, actor=CLI_ACTOR)
        return {
            "key": material.key,
            "key_name": created.key_name,
            "token": created.token,
            "expires": None if created.expires is None else created.expires.isoformat(),
            "team_id": created.team_id,
            "user_id": created.user_id,
        }

    print(orjson.dumps(offline(settings, create), option=orjson.OPT_INDENT_2).decode())
    return 0
