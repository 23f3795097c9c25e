"""``bastion teams create``: a team (an org) straight into the database (no server needed).

The options are read exactly as ``POST /team/new`` reads its body (the same service, the same
checks). Keys name their team by its id, so create the team before its keys.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.administration.offline import Offline, offline
from bastion.administration.teams import TEAM_TEXT_FIELDS
from bastion.administration.text_input import body_from_text
from bastion.settings import Settings

__all__ = ["create_team"]


def create_team(settings: Settings, options: dict[str, Any]) -> int:
    """Create a team as ``POST /team/new`` would and print it as JSON."""
    body = body_from_text(options, fields=TEAM_TEXT_FIELDS)

    async def create(services: Offline) -> dict[str, Any]:
        team = await services.admin.teams.create(body)
        return {
            "team_id": team.team_id,
            "team_alias": team.team_alias,
            "models": list(team.models),
            "max_budget": team.max_budget,
            "budget_duration": team.budget_duration,
            "rpm_limit": team.rpm_limit,
            "tpm_limit": team.tpm_limit,
            "max_parallel_requests": team.max_parallel_requests,
        }

    print(orjson.dumps(offline(settings, create), option=orjson.OPT_INDENT_2).decode())
    return 0
