"""Router, LiteLLM and Bastion sections: precedence, fallbacks, strategies and static keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.domain.secret import Secret
from bastion.settings import Settings, load_settings

Write = Callable[..., Path]

GROUPS = """\
model_list:
  - model_name: gpt-4
    litellm_params: {model: mock/a}
  - model_name: gpt-3.5
    litellm_params: {model: mock/b}
  - model_name: claude
    litellm_params: {model: mock/c}
"""


def load(write_config: Write, sections: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(write_config(GROUPS + sections), environ=environ or {})


def error_of(write_config: Write, sections: str) -> str:
    path = write_config(GROUPS + sections)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    return str(caught.value).replace(str(path), "x.yaml")


def test_defaults_when_no_sections(write_config: Write) -> None:
    """With only a model_list, every setting has its documented default."""
    settings = load(write_config, "")
    assert (settings.num_retries, settings.retry_after, settings.timeout) == (2, 0.0, 600.0)
    assert (settings.stream_timeout, settings.routing_strategy) == (None, "simple-shuffle")
    assert (settings.allowed_fails, settings.cooldown_time, settings.drop_params) == (3, 5.0, False)
    assert (dict(settings.fallbacks), dict(settings.context_window_fallbacks)) == ({}, {})
    bastion = settings.bastion
    assert (bastion.host, bastion.port, bastion.log_level) == ("127.0.0.1", 4000, "info")
    assert (bastion.max_request_size_mb, bastion.default_max_tokens) == (32.0, 4096)
    assert (bastion.json_logs, bastion.log_requests, bastion.redis_url) == (True, True, None)


def test_router_settings_win_over_litellm_settings(write_config: Write) -> None:
    """A value in router_settings overrides the same name in litellm_settings."""
    settings = load(
        write_config,
        """\
litellm_settings:
  num_retries: 7
  request_timeout: 100
  allowed_fails: 9
router_settings:
  num_retries: 1
  timeout: 20
  cooldown_time: 30
  stream_timeout: 15
  retry_after: 2
""",
    )
    assert (settings.num_retries, settings.timeout, settings.stream_timeout) == (1, 20.0, 15.0)
    assert (settings.allowed_fails, settings.cooldown_time, settings.retry_after) == (9, 30.0, 2.0)


def test_litellm_request_timeout_is_used_without_router_timeout(write_config: Write) -> None:
    """litellm_settings.request_timeout sets the timeout when router_settings has none."""
    assert load(write_config, "litellm_settings:\n  request_timeout: 45\n").timeout == 45.0


def test_routing_strategy_is_checked(write_config: Write) -> None:
    """Known strategies are accepted; others list the allowed ones."""
    assert (
        load(write_config, "router_settings:\n  routing_strategy: least-busy\n").routing_strategy
        == "least-busy"
    )
    assert error_of(write_config, "router_settings:\n  routing_strategy: fastest\n").startswith(
        "x.yaml:9: router_settings.routing_strategy: unknown routing strategy 'fastest' (expected one of: "
        "simple-shuffle, least-busy"
    )


def test_fallbacks_in_litellm_format(write_config: Write) -> None:
    """LiteLLM's list of one-key mappings becomes group -> ordered fallbacks."""
    settings = load(
        write_config,
        """\
router_settings:
  fallbacks:
    - gpt-4: [gpt-3.5, claude]
    - claude: gpt-4
  context_window_fallbacks: [{gpt-3.5: [gpt-4]}]
""",
    )
    assert dict(settings.fallbacks) == {"gpt-4": ("gpt-3.5", "claude"), "claude": ("gpt-4",)}
    assert dict(settings.context_window_fallbacks) == {"gpt-3.5": ("gpt-4",)}


def test_fallbacks_from_litellm_settings(write_config: Write) -> None:
    """Fallbacks may also sit in litellm_settings."""
    settings = load(write_config, "litellm_settings:\n  fallbacks: [{gpt-4: [claude]}]\n")
    assert dict(settings.fallbacks) == {"gpt-4": ("claude",)}


def test_fallback_to_unknown_group_is_an_error(write_config: Write) -> None:
    """Every fallback name must be a model group; the message suggests the closest."""
    message = error_of(write_config, "router_settings:\n  fallbacks:\n    - gpt-4: [claud]\n")
    assert message == (
        "x.yaml:10: router_settings.fallbacks[0].gpt-4[0]: 'claud' is not a model group in model_list "
        "(did you mean 'claude'?)"
    )


def test_fallback_source_must_be_a_group(write_config: Write) -> None:
    """The group that falls back must exist too."""
    message = error_of(write_config, "router_settings:\n  fallbacks:\n    - nope: [claude]\n")
    assert message.startswith("x.yaml:10: router_settings.fallbacks[0].nope: 'nope' is not a model group")


def test_fallbacks_must_be_a_list_of_mappings(write_config: Write) -> None:
    """A plain list of names is rejected with an example of the right shape."""
    message = error_of(write_config, "router_settings:\n  fallbacks: [gpt-4]\n")
    assert message == (
        "x.yaml:9: router_settings.fallbacks[0]: must be a mapping like {gpt-4: [gpt-4o-mini]}, got a string"
    )


def test_wildcard_group_satisfies_fallback_names(write_config: Write) -> None:
    """A ``*`` model group matches fallback names, as wildcard routing would."""
    path = write_config(
        """\
model_list:
  - model_name: "openai/*"
    litellm_params: {model: "openai/*"}
  - model_name: claude
    litellm_params: {model: mock/c}
router_settings:
  fallbacks: [{claude: [openai/gpt-4o]}]
"""
    )
    assert dict(load_settings(path, environ={}).fallbacks) == {"claude": ("openai/gpt-4o",)}


def test_bastion_settings_are_read(write_config: Write) -> None:
    """Every bastion_settings key is typed."""
    bastion = load(
        write_config,
        """\
bastion_settings:
  max_request_size_mb: 8
  default_max_tokens: 1024
  log_level: DEBUG
  json_logs: false
  log_requests: false
  host: 0.0.0.0
  port: 8080
  redis_url: redis://cache:6379/1
""",
    ).bastion
    assert (bastion.max_request_size_mb, bastion.default_max_tokens, bastion.log_level) == (
        8.0,
        1024,
        "debug",
    )
    assert (bastion.json_logs, bastion.log_requests) == (False, False)
    assert (bastion.host, bastion.port, bastion.redis_url) == ("0.0.0.0", 8080, "redis://cache:6379/1")


def test_max_request_size_falls_back_to_general_settings(write_config: Write) -> None:
    """LiteLLM's general_settings.max_request_size_mb is used when bastion_settings has none."""
    assert (
        load(write_config, "general_settings:\n  max_request_size_mb: 4\n").bastion.max_request_size_mb == 4.0
    )


def test_redis_url_built_from_router_host_port_password(write_config: Write) -> None:
    """LiteLLM's redis_host/port/password form becomes a URL, hidden from repr."""
    settings = load(
        write_config,
        "router_settings:\n  redis_host: cache\n  redis_port: 6380\n  redis_password: os.environ/REDIS_PW\n",
        environ={"REDIS_PW": "p@ss"},
    )
    assert settings.bastion.redis_url == "redis://:p%40ss@cache:6380/0"
    assert "p@ss" not in repr(settings) and "p%40ss" not in repr(settings)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  colour: blue\n",
            "x.yaml:9: bastion_settings.colour: unknown key (expected one of: ",
        ),
        (
            "  log_requets: true\n",
            "x.yaml:9: bastion_settings.log_requets: unknown key (did you mean 'log_requests'?)",
        ),
        ("  log_level: loud\n", "x.yaml:9: bastion_settings.log_level: must be one of: debug, info, warning"),
        ("  port: 70000\n", "x.yaml:9: bastion_settings.port: must be at most 65535, got 70000"),
        ("  redis_url: cache:6379\n", "x.yaml:9: bastion_settings.redis_url: must be a redis://"),
        (
            "  json_logs: yes please\n",
            "x.yaml:9: bastion_settings.json_logs: must be true or false, got a string",
        ),
    ],
)
def test_bastion_settings_errors(write_config: Write, body: str, message: str) -> None:
    """Unknown keys under bastion_settings are errors, not extras; values are checked."""
    assert error_of(write_config, "bastion_settings:\n" + body).startswith(message)


def test_static_keys(write_config: Write) -> None:
    """Static keys are Secrets with an alias and an optional list of allowed groups."""
    keys = load(
        write_config,
        """\
bastion_settings:
  static_keys:
    - key: sk-team-a
      alias: team-a
      models: [gpt-4, claude]
    - key: os.environ/TEAM_B_KEY
""",
        environ={"TEAM_B_KEY": "sk-team-b"},
    ).bastion.static_keys
    assert [(k.key, k.alias, k.models) for k in keys] == [
        (Secret("sk-team-a"), "team-a", ("gpt-4", "claude")),
        (Secret("sk-team-b"), None, ()),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "    - key: team-a\n",
            "x.yaml:10: bastion_settings.static_keys[0].key: "
            "a static key must start with 'sk-' (LiteLLM's rule)",
        ),
        ("    - alias: a\n", "x.yaml:10: bastion_settings.static_keys[0].key: is required"),
        (
            "    - key: sk-a\n      models: [gtp-4]\n",
            "x.yaml:11: bastion_settings.static_keys[0].models[0]: "
            "'gtp-4' is not a model group in model_list (did you mean 'gpt-4'?)",
        ),
        (
            "    - key: sk-a\n    - key: sk-a\n",
            "x.yaml:11: bastion_settings.static_keys[1].key: the same key is listed twice",
        ),
        (
            "    - key: sk-a\n      team: x\n",
            "x.yaml:11: bastion_settings.static_keys[0].team: "
            "unknown key (expected one of: alias, key, models)",
        ),
    ],
)
def test_static_key_errors(write_config: Write, entry: str, message: str) -> None:
    """Static keys must start with sk-, be unique and name existing groups."""
    assert error_of(write_config, "bastion_settings:\n  static_keys:\n" + entry) == message


def test_static_key_must_differ_from_master_key(write_config: Write) -> None:
    """Reusing the master key as a static key is rejected."""
    message = error_of(
        write_config,
        "general_settings:\n  master_key: sk-same\nbastion_settings:\n  static_keys:\n    - key: sk-same\n",
    )
    assert message == (
        "x.yaml:12: bastion_settings.static_keys[0].key: a static key must differ from the master key"
    )


def test_section_must_be_a_mapping(write_config: Write) -> None:
    """A section written as a list is reported."""
    assert error_of(write_config, "router_settings: [num_retries]\n") == (
        "x.yaml:8: router_settings: must be a mapping (key: value lines), got a list"
    )


def test_null_section_reads_as_empty(write_config: Write) -> None:
    """``general_settings:`` with nothing under it is the same as leaving it out."""
    assert load(write_config, "general_settings:\nlitellm_settings:\n").master_key is None


# --------------------------------------------------------------------------- routes and cache


def test_routes_and_cache_settings_are_read(write_config: Write) -> None:
    path = write_config(
        """
        model_list:
          - {model_name: a, litellm_params: {model: mock/a}}
          - {model_name: b, litellm_params: {model: mock/b}}
        litellm_settings:
          cache: true
          cache_params:
            {type: redis, host: cache.internal, port: 6380, ttl: 30, scope: team, mode: default_off}
        bastion_settings:
          routes:
            - name: cheap
              model: [a]
              to: b
              when: {prompt_tokens_below: 100, tag: batch, time: "22:00-06:30"}
        """
    )
    settings = load_settings(path, environ={})
    rule = settings.bastion.routes[0]
    assert (rule.name, rule.models, rule.to, rule.prompt_tokens_below) == ("cheap", ("a",), "b", 100)
    assert rule.tags == ("batch",) and rule.time == (22 * 60, 6 * 60 + 30)
    cache = settings.cache
    assert cache.enabled and cache.type == "redis" and cache.redis_url == "redis://cache.internal:6380/0"
    assert (cache.ttl, cache.scope, cache.mode) == (30.0, "team", "default_off")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("bastion_settings: {routes: [{to: nowhere}]}", "'nowhere' is not a model group"),
        ("bastion_settings: {routes: [{to: b, when: {size: 1}}]}", "unknown key"),
        ("bastion_settings: {routes: [{to: b, when: {time: noon}}]}", "UTC time window"),
        ("litellm_settings: {cache: true, cache_params: {type: s3}}", "not supported"),
        ("litellm_settings: {cache: true, cache_params: {type: redis}}", "needs cache_params.host"),
        ("litellm_settings: {cache: true, cache_params: {scope: world}}", "must be one of"),
    ],
)
def test_bad_routes_and_cache_settings_are_reported(write_config: Write, section: str, message: str) -> None:
    path = write_config(
        """
        model_list:
          - {model_name: a, litellm_params: {model: mock/a}}
          - {model_name: b, litellm_params: {model: mock/b}}
        """
        + section
        + "\n"
    )
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_otlp_endpoint_from_the_environment_and_checked(write_config: Write) -> None:
    """otlp_endpoint may name an environment variable; it must be an http(s) URL; off by default."""
    assert load(write_config, "").bastion.otlp_endpoint is None
    settings = load(
        write_config,
        "bastion_settings:\n  otlp_endpoint: os.environ/OTEL_EXPORTER_OTLP_ENDPOINT\n",
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
    )
    assert settings.bastion.otlp_endpoint == "http://collector:4318"
    assert settings.bastion.otlp_service_name == "bastion"
    message = error_of(write_config, "bastion_settings:\n  otlp_endpoint: collector:4318\n")
    assert "otlp_endpoint" in message and "http:// or https://" in message
