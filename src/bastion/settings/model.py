"""The typed, frozen settings Bastion runs with, built once at start-up by :func:`load_settings`.

Everything here is plain data: no I/O, no environment look-ups. Secrets are :class:`Secret`; fields
that may embed a password (database and Redis URLs, extra headers, the raw LiteLLM sections) are
left out of ``repr`` so printing the settings can never leak one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.domain.plans import Plan
from bastion.domain.secret import Secret
from bastion.settings.billing import BillingSettings

__all__ = [
    "USER_KEY_MODES",
    "AccountSettings",
    "BastionSettings",
    "BrowserSettings",
    "CacheSettings",
    "Deployment",
    "EndUserLimits",
    "JwtAuthSettings",
    "ModelInfo",
    "OverloadSettings",
    "RouteRule",
    "Secret",
    "ServerSettings",
    "Settings",
    "StaticKey",
]

#: ``bastion_settings.accounts.user_keys``: may people bring their own provider keys?
USER_KEY_MODES = ("optional", "disabled", "required")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A deployment's ``model_info``: pricing overrides and limits (costs are USD per token)."""

    id: str | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    cache_creation_input_token_cost: float | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    base_model: str | None = None
    mode: str | None = None
    #: Every other ``model_info`` key, untouched (``access_groups``, ``supports_vision``, ...).
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Deployment:
    """One entry of ``model_list``: where a model group's calls may go.

    ``provider`` is the wire protocol Bastion speaks to the upstream (``openai``, ``anthropic``,
    ``gemini`` or ``mock``); ``provider_alias`` is the prefix the config used (``azure``,
    ``hosted_vllm``, ``openrouter``, ...). ``api_base`` has no trailing slash; for the ``openai``
    protocol it includes the version path (``https://api.openai.com/v1``) and request paths such as
    ``/chat/completions`` are appended; for ``anthropic`` it is the root (append ``/v1/messages``);
    for ``gemini`` it is the root (append ``/v1beta/models/...``).
    """

    model_name: str
    provider: str
    provider_alias: str
    model: str
    api_key: Secret | None
    api_base: str | None
    deployment_id: str
    api_version: str | None = None
    rpm: int | None = None
    tpm: int | None = None
    weight: float = 1.0
    order: int | None = None
    timeout: float | None = None
    stream_timeout: float | None = None
    num_retries: int | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Every other ``litellm_params`` key: completion defaults (``temperature``, ``max_tokens``,
    #: ``drop_params``, ``mock_response``, ``organization``, ...).
    defaults: Mapping[str, Any] = field(default_factory=dict, repr=False)
    model_info: ModelInfo = field(default_factory=ModelInfo)

    def __hash__(self) -> int:
        # Mapping fields are unhashable; the deployment id is unique within one Settings.
        return hash(self.deployment_id)


@dataclass(frozen=True, slots=True)
class StaticKey:
    """A client key declared in the config file (no database needed); ``models`` empty = all."""

    key: Secret
    alias: str | None = None
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EndUserLimits:
    """The limits every end user gets on their own, in the shapes virtual keys use (``None``: none)."""

    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    max_budget: float | None = None
    budget_duration: str | None = None


@dataclass(frozen=True, slots=True)
class JwtAuthSettings:
    """``bastion_settings.jwt_auth``: end users arriving with an identity provider's signed token.

    The public keys come from exactly one place: ``keys`` (an inline JWK, a JWKS document, or a
    JWKS file, already read and checked) or ``jwks_url`` (fetched and cached at run time).
    Claim names may be dotted paths into nested claims (``org.id``).
    """

    issuer: str
    audiences: tuple[str, ...]
    algorithms: tuple[str, ...]
    #: The public JWKs given in the config (empty when ``jwks_url`` is used).
    keys: tuple[Mapping[str, Any], ...] = ()
    jwks_url: str | None = None
    #: How long fetched keys are used before they are fetched again.
    jwks_cache_seconds: float = 300.0
    #: The least time between two fetches, whatever tokens arrive (an unknown ``kid`` cannot make
    #: the gateway fetch on every request).
    jwks_min_refresh_seconds: float = 60.0
    jwks_timeout_seconds: float = 5.0
    leeway_seconds: float = 30.0
    user_claim: str = "sub"
    team_claim: str | None = None
    models_claim: str | None = None
    #: The claim naming the user's plan (``bastion_settings.plans`` or ``/budget/new``).
    plan_claim: str | None = None
    #: The model groups a token may use when it names none (empty: every model).
    default_models: tuple[str, ...] = ()
    user_limits: EndUserLimits = field(default_factory=EndUserLimits)


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """``bastion_settings.accounts`` plus the environment: people who log in (the ``/v2`` API).

    Secrets come from the environment by the names the seeds use (``ENCRYPTION_KEY``,
    ``FIRST_SUPERUSER_PASSWORD``, ``BASTION_JWT_SECRET``) or from ``os.environ/`` references.
    """

    #: ``optional`` (a user's own key first, else the system key), ``disabled`` (system keys only:
    #: the centralized model) or ``required`` (official providers only with the user's own key).
    user_keys: str = "optional"
    first_superuser: str | None = None
    first_superuser_password: Secret | None = field(default=None, repr=False)
    #: Signs the access tokens Bastion issues (HS256); None: generated once and kept in the data directory.
    jwt_secret: Secret | None = field(default=None, repr=False)
    access_token_minutes: int = 60 * 24
    #: Key-encryption keys for stored provider keys, newest first: the first encrypts, all decrypt.
    encryption_keys: tuple[Secret, ...] = field(default=(), repr=False)
    #: Failed logins (per account, or per client address x4) before logins are refused for a while.
    login_max_failures: int = 5
    login_lockout_seconds: float = 900.0
    #: Failed logins are answered after ``failures x this`` seconds (capped at 5 s) before the lockout.
    login_slowdown_seconds: float = 0.5
    #: Passwords shorter than this are refused when set (NIST SP 800-63B: at least 8).
    min_password_length: int = 8


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One entry of ``bastion_settings.routes``: send ``models`` to ``to`` when every condition holds.

    Unset conditions always hold. ``time`` is minutes after midnight UTC, ``(start, end)``; a window
    whose end is before its start wraps midnight.
    """

    name: str
    to: str
    #: Requested model groups the rule applies to; empty: any.
    models: tuple[str, ...] = ()
    prompt_tokens_above: int | None = None
    prompt_tokens_below: int | None = None
    tools: bool | None = None
    images: bool | None = None
    #: Any of these request metadata tags (``metadata.tags``, LiteLLM's request tags).
    tags: tuple[str, ...] = ()
    #: Request headers (lower-case names) that must have exactly these values.
    headers: Mapping[str, str] = field(default_factory=dict)
    teams: tuple[str, ...] = ()
    time: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """LiteLLM's ``litellm_settings.cache`` + ``cache_params``: the response cache.

    ``type`` is ``local`` (in process, bounded LRU) or ``redis`` (shared). ``mode`` is LiteLLM's
    ``default_on`` or ``default_off`` (only requests that ask with ``cache: {use-cache: true}``).
    ``scope`` is Bastion's: who may share an entry (``global``, ``team``, ``key``).
    """

    enabled: bool = False
    type: str = "local"
    ttl: float = 600.0
    namespace: str = "bastion"
    mode: str = "default_on"
    scope: str = "key"
    max_entries: int = 10_000
    redis_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    """``bastion_settings.browser``: the token-stream endpoints browsers call (docs/browser.md).

    Paths are where the endpoints live; ``models`` is the allowlist of model groups they serve
    (empty: every group the caller may use). ``cors_origins`` are the exact origins
    (``scheme://host[:port]``) whose pages may call them; ``"*"`` is accepted only without
    credentials. ``token_secret`` signs browser tokens (default: derived from the master key).
    ``static_files`` maps URL prefixes to directories served read-only (the demo page and SDK).
    """

    anthropic_path: str = "/api/anthropic"
    openai_path: str = "/api/openai"
    token_path: str = "/api/token"
    models: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    cors_max_age_seconds: int = 600
    #: The largest request body accepted on the streaming paths, in bytes.
    max_request_bytes: int = 65536
    #: The most output tokens one browser request may ask for (and what it gets when it names none).
    max_tokens: int = 1024
    token_secret: Secret | None = None
    #: A minted token's life when the minter names none, and the most it may ask for.
    token_ttl_seconds: float = 300.0
    token_max_ttl_seconds: float = 900.0
    #: Limits every end user (a JWT's user, or a browser token's ``user``) gets on these paths.
    user_limits: EndUserLimits = field(default_factory=EndUserLimits)
    static_files: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OverloadSettings:
    """``bastion_settings.overload``: when a process refuses new calls (503 with ``retry-after``)
    instead of queueing them (docs/operations.md, "Overload").

    ``max_event_loop_lag_ms``: shed while the event loop runs this late, persistently (0: never);
    ``max_in_flight``: also refuse beyond this many requests in progress (0: no fixed cap).
    """

    max_event_loop_lag_ms: float = 50.0
    max_in_flight: int = 0
    retry_after_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """``bastion_settings.server``: the HTTP server's limits and timeouts (docs/operations.md)."""

    #: A connection must deliver a request's whole header block within this many seconds of its
    #: first byte (or of connecting); else 408 and close.
    header_timeout_seconds: float = 10.0
    #: A request body may take this many seconds, plus one second per ``body_min_rate_kib`` KiB
    #: received (a slow upload keeps going, a dribbler does not); else 408 and close.
    body_timeout_seconds: float = 30.0
    body_min_rate_kib: float = 64.0
    #: An idle keep-alive connection is closed after this many seconds.
    keepalive_timeout_seconds: float = 30.0
    #: A client that reads none of a response for this many seconds is disconnected.
    send_timeout_seconds: float = 60.0
    #: On SIGTERM, requests and streams in progress get this long to finish.
    shutdown_timeout_seconds: float = 30.0
    #: The request line and headers together; larger is 431.
    max_header_kib: int = 64
    #: Open connections per process; beyond it new ones get a 503 and are closed. ``None``: half of
    #: the process's file-descriptor limit, at most 10,000.
    max_connections: int | None = None


@dataclass(frozen=True, slots=True)
class BastionSettings:
    """The ``bastion_settings`` section: what Bastion adds to LiteLLM's format."""

    static_keys: tuple[StaticKey, ...] = ()
    max_request_size_mb: float = 32.0
    #: Sent as ``max_tokens`` when an Anthropic upstream needs one and the client gave none.
    default_max_tokens: int = 4096
    log_level: str = "info"
    json_logs: bool = True
    #: One JSON log line per request.
    log_requests: bool = True
    #: Seconds of silence in a stream after which a keep-alive is sent (clients cut idle streams).
    stream_keepalive_seconds: float = 15.0
    host: str = "127.0.0.1"
    port: int = 4000
    redis_url: str | None = field(default=None, repr=False)
    #: End-user tokens from an identity provider (``None``: only Bastion keys are accepted).
    jwt_auth: JwtAuthSettings | None = None
    accounts: AccountSettings = field(default_factory=AccountSettings)
    #: Routing rules, first match wins.
    routes: tuple[RouteRule, ...] = ()
    #: Browser token streaming (``None``: the ``/api/...`` endpoints are off).
    browser: BrowserSettings | None = None
    #: An OTLP/HTTP collector (``http://collector:4318``): one span per request is sent there.
    #: ``None``: no tracing, and OpenTelemetry is never imported.
    otlp_endpoint: str | None = None
    #: The ``service.name`` of the spans.
    otlp_service_name: str = "bastion"
    #: Budgeted keys may call models nobody prices (at no cost against the budget); off: refused.
    allow_unpriced_models_with_budgets: bool = False
    #: Each request's spend row is appended to a local journal before its answer ends, so a
    #: killed process loses none (docs/operations.md); off only to measure what it costs.
    spend_journal: bool = True
    #: Days a stored Responses API response (``store: true``) is kept for ``previous_response_id``
    #: and ``GET /v1/responses/{id}``; then it is deleted.
    response_retention_days: float = 30.0
    #: ``general_settings.allow_requests_on_db_unavailable``: during a database outage, keys seen
    #: before it keep working (revocations still honoured); ``False``: they stop (fail closed).
    allow_requests_on_db_unavailable: bool = True
    #: ``general_settings.user_api_key_cache_ttl``: seconds a virtual key is served from the
    #: in-process cache before it is read again (revocations are seen at once regardless).
    key_cache_ttl: float = 5.0
    #: ``bastion_settings.plans`` by name (more are made through ``/budget/new``).
    plans: Mapping[str, Plan] = field(default_factory=dict)
    #: The plan of end users nothing else puts on one.
    default_plan: str | None = None
    #: Overload control: shed new calls with 503 rather than queue them.
    overload: OverloadSettings = field(default_factory=OverloadSettings)
    #: The HTTP server's limits and timeouts.
    server: ServerSettings = field(default_factory=ServerSettings)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Bastion was configured with; built by :func:`bastion.settings.load_settings`."""

    source: Path
    model_list: tuple[Deployment, ...]
    #: Deployments by model group, groups and deployments in config order.
    model_groups: Mapping[str, tuple[Deployment, ...]] = field(repr=False)
    master_key: Secret | None = None
    database_url: str | None = field(default=None, repr=False)
    #: Where the SQLite file and the spend journal go: ``bastion_settings.data_dir`` or
    #: ``BASTION_DATA_DIR`` (relative to the config file), else the config file's directory.
    data_dir: Path | None = None
    drop_params: bool = False
    num_retries: int = 2
    retry_after: float = 0.0
    timeout: float = 600.0
    stream_timeout: float | None = None
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_window_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    routing_strategy: str = "simple-shuffle"
    allowed_fails: int = 3
    cooldown_time: float = 5.0
    #: ``router_settings.routing_strategy_args`` for latency-based routing (LiteLLM's names).
    lowest_latency_buffer: float = 0.0
    cache: CacheSettings = field(default_factory=CacheSettings)
    bastion: BastionSettings = field(default_factory=BastionSettings)
    #: ``billing_settings``; ``None`` when billing is off.
    billing: BillingSettings | None = None
    #: The raw ``general_settings``, ``litellm_settings`` and ``router_settings`` sections
    #: (``os.environ/`` references resolved), for settings not typed above yet.
    general: Mapping[str, Any] = field(default_factory=dict, repr=False)
    litellm: Mapping[str, Any] = field(default_factory=dict, repr=False)
    router: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def state_dir(self) -> Path:
        """Where Bastion keeps files of its own: the SQLite database, the spend journal."""
        return self.data_dir or self.source.resolve().parent

    def group_names(self) -> list[str]:
        """The model group names, in config order."""
        return list(self.model_groups)
