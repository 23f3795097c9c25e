"""Traffic of the master key and of static keys is attributed by label, as LiteLLM writes it: in
``/spend/logs`` (``api_key``), the dashboard's requests and spend pages, and ``bastion spend --by key``.
Never the key, never its hash."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from openai import OpenAI

from bastion.accounting.attribution import MASTER_KEY_ALIAS
from bastion.auth.keys import hash_key
from bastion.commands.spend import show_spend
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models
from support.dashboard import Browser

NAMED = "sk-attribution-named-0001"
UNNAMED = "sk-attribution-unnamed-0002"


def _spend_logs(gateway: RunningGateway) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{gateway.url}/spend/logs?summarize=false", headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_master_and_static_key_traffic_is_attributed_by_label(
    start_gateway: Callable[..., RunningGateway],
    upstream: MockUpstream,
    capsys: Any,
) -> None:
    """Each caller's rows carry its label; every view shows it; no key or key hash is shown."""
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {"static_keys": [{"key": NAMED, "alias": "sandboxes"}, {"key": UNNAMED}]},
        }
    )
    for key in (MASTER_KEY, NAMED, UNNAMED):
        client = OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
        client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
        gateway.next_record()
    gateway.call(gateway.app.spend_writer.flush())  # type: ignore[union-attr]
    unnamed_label = f"key-{hash_key(UNNAMED)[:8]}"

    logged = sorted(row["api_key"] for row in _spend_logs(gateway))
    assert logged == sorted([MASTER_KEY_ALIAS, "sandboxes", unnamed_label])

    browser = Browser(gateway.url)
    browser.log_in(master_key=MASTER_KEY)
    pages = [browser.get("/ui/requests").text, browser.get("/ui/spend?by=key&range=all").text]
    for page in pages:
        assert "master key" in page and "sandboxes" in page and unnamed_label in page
        assert "(none)" not in page

    assert show_spend(gateway.settings, {"by": "key", "limit": 50}) == 0
    table = capsys.readouterr().out
    assert "master key" in table and "sandboxes" in table and unnamed_label in table
    assert "(none)" not in table and "(deleted key)" not in table

    everything = "\n".join([*pages, table, json.dumps(_spend_logs(gateway))])
    for secret in (MASTER_KEY, NAMED, UNNAMED, *(hash_key(k) for k in (MASTER_KEY, NAMED, UNNAMED))):
        assert secret not in everything
