"""How the pages name the key of a spend row: by its label, never by its value or whole hash.

A virtual key is shown by its alias and masked name (``ci-bot (sk-...abcd)``), or the masked name
alone; the master key as ``master key``; a static key by its label (its alias in the config file);
a key no longer in the key table (deleted, or an old value of a rotated key) by the first
characters of its hash. Each name comes with what the pages' key filter takes to find the key's
rows again (see :mod:`bastion.web.filters`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bastion.accounting.attribution import spend_key_name
from bastion.administration import KeyService
from bastion.administration.keys import REF_LENGTH

__all__ = ["KeyLabel", "key_labels"]

#: At most this many keys are looked up for one page.
_MOST = 500


@dataclass(frozen=True, slots=True)
class KeyLabel:
    label: str
    #: What the key filter takes: a hash prefix, or the label itself ("": the filter cannot name it).
    ref: str


async def key_labels(keys: KeyService, api_keys: Iterable[str]) -> dict[str, KeyLabel]:
    """The label of each spend-log ``api_key`` (a key's hash, or a label already)."""
    wanted = [token for token in dict.fromkeys(api_keys) if token][:_MOST]
    found = await keys.by_tokens(wanted)
    labels: dict[str, KeyLabel] = {}
    for token in wanted:
        if (named := spend_key_name(token)) is not None:  # the master key or a static key
            labels[token] = KeyLabel(named, named)
            continue
        record = found.get(token)
        if record is None:
            labels[token] = KeyLabel(f"{token[:12]}…", "")
        else:
            label = f"{record.key_alias} ({record.key_name})" if record.key_alias else record.key_name
            labels[token] = KeyLabel(label, token[:REF_LENGTH])
    return labels
