"""A gateway with every outbound user configured builds one HTTP client, one Redis client per Redis
server and one pub/sub connection, and loads neither aiohttp nor redis-py.

Built in a child interpreter, so the modules it loads are its own (this test process has imported
aiohttp and redis-py for other tests).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from support import MASTER_KEY, standard_models

_BUILD = """
import sys, orjson
from bastion.outbound import http, pubsub, resp

built = {}
def counted(cls):
    original = cls.__init__
    def init(self, *args, **kwargs):
        built[cls.__name__] = built.get(cls.__name__, 0) + 1
        original(self, *args, **kwargs)
    cls.__init__ = init
for cls in (http.HttpPool, resp.RespClient, pubsub.Subscriber):
    counted(cls)

from bastion.app import build_app
from bastion.settings import load_settings

build_app(load_settings(sys.argv[1], environ={}), migrate=False)
foreign = sorted({name.split(".")[0] for name in sys.modules} & {"aiohttp", "redis", "httpx", "urllib3"})
print(orjson.dumps({"built": built, "foreign": foreign}).decode())
"""


def build(tmp_path: Path, cache_params: dict[str, Any]) -> dict[str, Any]:
    config = {
        "model_list": standard_models("http://127.0.0.1:9"),
        "general_settings": {"master_key": MASTER_KEY},
        "litellm_settings": {"cache": True, "cache_params": cache_params},
        "bastion_settings": {
            "redis_url": "redis://127.0.0.1:6379/0",
            "jwt_auth": {
                "issuer": "https://idp.example.com/",
                "audience": "bastion",
                "jwks_url": "https://idp.example.com/.well-known/jwks.json",
            },
        },
        "billing_settings": {
            "sinks": {
                "autumn": {"api_key": "am_sk_test_0123456789", "api_url": "https://api.useautumn.com"},
                "stripe": {"api_key": "sk_test_0123456789", "customers": {}},
                "webhook": {"url": "https://billing.example.com/hook", "secret": "whsec-0123456789"},
            },
            "entitlement": {"cache_seconds": 30},
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_one_of_each_whatever_uses_them(tmp_path: Path) -> None:
    """Providers, billing sinks, the credit check, JWKS: one HTTP client. Limits, login throttle,
    shared health, the cache and revocations: one Redis client and one subscriber."""
    found = build(tmp_path, {})
    assert found == {"built": {"HttpPool": 1, "RespClient": 1, "Subscriber": 1}, "foreign": []}


@pytest.mark.parametrize(
    ("cache_params", "clients"),
    [({"redis_url": "redis://127.0.0.1:6379/0"}, 1), ({"host": "cache.internal", "port": 6380}, 2)],
    ids=["same-redis", "other-redis"],
)
def test_a_cache_on_another_redis_adds_one_client(
    tmp_path: Path, cache_params: dict[str, Any], clients: int
) -> None:
    assert build(tmp_path, cache_params)["built"]["RespClient"] == clients
