"""The keys of Bastion's own sections (``bastion_settings``, ``billing_settings``) and of LiteLLM's
``cache_params``, which Bastion reads with a few keys of its own. Every key here is acted on, and a
key missing here is an error. Part of the one list in :mod:`bastion.settings._known_keys`.
"""

from __future__ import annotations

from bastion.settings._key_types import Key, Section

__all__ = [
    "ACCOUNTS",
    "AUTUMN_SINK",
    "BASTION_SETTINGS",
    "BILLING_SECTIONS",
    "BILLING_SETTINGS",
    "BILLING_SINKS",
    "BROWSER",
    "BROWSER_USER_LIMITS",
    "CACHE_PARAMS",
    "ENTITLEMENT",
    "JWT_AUTH",
    "JWT_USER_LIMITS",
    "OVERLOAD",
    "PLAN",
    "ROUTE_RULE",
    "ROUTE_WHEN",
    "SERVER",
    "STATIC_KEY",
    "STRIPE_SINK",
    "WEBHOOK_SINK",
]

_REDIS_URL = "`redis://`, `rediss://` or `unix://` URL"

CACHE_PARAMS = Section(
    "litellm_settings.cache_params",
    (
        Key(
            "type", "`local` or `redis`", "`redis` when a Redis is known, else `local`", "where entries live"
        ),
        Key("ttl", "number > 0, seconds", "600", "how long an answer is kept"),
        Key(
            "default_in_memory_ttl",
            also=("default_in_redis_ttl",),
            type="number > 0, seconds",
            meaning="LiteLLM's names for `ttl`, per type",
        ),
        Key(
            "mode",
            "`default_on` or `default_off`",
            "`default_on`",
            "`default_off`: only requests asking for it",
        ),
        Key("namespace", "string", "`bastion`", "prefix of the cache's Redis keys"),
        Key(
            "redis_url",
            _REDIS_URL,
            "`bastion_settings.redis_url`",
            "the cache's own Redis (also as `host`, `port`, `password`)",
        ),
        Key(
            "host",
            also=("port", "password"),
            type="string, integer, string",
            meaning="the same Redis, in parts",
        ),
        Key("scope", "`key`, `team` or `global`", "`key`", "who shares entries (Bastion's)"),
        Key(
            "max_entries",
            also=("max_size_in_memory",),
            type="integer ≥ 1",
            default="10000",
            meaning="entries kept in memory (Bastion's name, and LiteLLM's)",
        ),
        Key("supported_call_types", "list", "", "accepted: only chat-style generation is cached", False),
    ),
    intro="Other types (`disk`, `s3`, semantic caches) are refused.",
)

BASTION_SETTINGS = Section(
    "bastion_settings",
    (
        Key("static_keys", "list", "none", "client keys that need no database (below)"),
        Key(
            "max_request_size_mb",
            "number > 0",
            "`general_settings.max_request_size_mb`, else 32",
            "larger request bodies are refused with 413 before they are read whole",
        ),
        Key(
            "default_max_tokens",
            "integer ≥ 1",
            "4096",
            "`max_tokens` for an Anthropic upstream when a translated request has none and the deployment "
            "no `model_info.max_output_tokens`; also what such a call reserves against budgets",
        ),
        Key(
            "log_level", "`debug`, `info`, `warning`, `error`, `critical`", "`info`", "level of Bastion's log"
        ),
        Key(
            "json_logs",
            "boolean",
            "true",
            "one JSON object per log line; `false`: `time LEVEL logger: message`",
        ),
        Key("log_requests", "boolean", "true", "write the per-request usage line"),
        Key(
            "otlp_endpoint",
            "`http(s)://` URL",
            "`OTEL_EXPORTER_OTLP_ENDPOINT`, else none",
            "an OTLP/HTTP collector: each request becomes a span ([operations.md](operations.md))",
        ),
        Key("otlp_service_name", "string", "`bastion`", "the spans' `service.name`"),
        Key(
            "stream_keepalive_seconds",
            "number > 0",
            "15",
            "after this long without a byte on a stream, send a keep-alive (`: ping`)",
        ),
        Key(
            "response_retention_days",
            "number > 0",
            "30",
            "how long a stored Responses API response (`store: true`) is kept for `previous_response_id` "
            "and `GET /v1/responses/{id}`; then it is deleted",
        ),
        Key("host", "string", "`127.0.0.1`", "address to listen on (`bastion serve --host` wins)"),
        Key("port", "integer 1 to 65535", "4000", "port to listen on (`--port` wins)"),
        Key(
            "redis_url",
            _REDIS_URL,
            "none",
            "share rate limits, budget counters, revocations, cooldowns and the cache with every gateway "
            "process; without it they live in this process",
        ),
        Key(
            "data_dir",
            "path (relative to the config file)",
            "`BASTION_DATA_DIR`, else the config file's directory",
            "Bastion's own files: `bastion.db` (without `database_url`), `bastion-jwt-secret` (without "
            "`BASTION_JWT_SECRET`), the spend journal `spend-journal/` "
            "([operations.md](operations.md#the-spend-journal)) and `price-table.json`, the shipped "
            "price table's rates of the configured models (a cache, rebuilt when missing or when "
            "genai-prices changes); keep it on a local file system",
        ),
        Key(
            "spend_journal",
            "boolean",
            "true",
            "append each request's spend row to the local journal before its answer ends, so a killed "
            "process loses none; `false` only to measure what it costs",
        ),
        Key(
            "allow_unpriced_models_with_budgets",
            "boolean",
            "false",
            "let keys with a budget (theirs, their team's or user's) call models that have no price; such "
            "calls cost the budget nothing. Off: they are refused with `model_not_priced`",
        ),
        Key("jwt_auth", "mapping", "none", "accept end users' tokens from an identity provider (below)"),
        Key(
            "plans",
            "mapping of plan name to plan",
            "none",
            "tiers of limits and token quotas end users, keys and teams are put on (below, "
            "[plans.md](plans.md)); more through `/budget/new`",
        ),
        Key(
            "default_plan",
            "plan name",
            "none",
            "the plan of every end user the token claim or `/customer/*` puts on none",
        ),
        Key("accounts", "mapping", "", "the account API for people, `/v2` (below)"),
        Key("routes", "list", "none", "routing rules, first match wins (below)"),
        Key("browser", "mapping", "none (off)", "the browser token-stream endpoints (below)"),
        Key(
            "overload",
            "mapping",
            "below",
            "when a process refuses new calls with 503 and `retry-after` instead of queueing them (below)",
        ),
        Key(
            "server",
            "mapping",
            "below",
            "the HTTP server's timeouts and limits, per process: slow clients are cut off (below)",
        ),
    ),
    intro="Bastion's own section. Every key here must be known.",
)

STATIC_KEY = Section(
    "bastion_settings.static_keys[]",
    (
        Key(
            "key",
            "string starting with `sk-`, required",
            "",
            "the key clients send; unique, not the master key",
        ),
        Key(
            "alias",
            "string",
            "`key-` and 8 hex digits of the key's SHA-256",
            "the label in the request log, the spend logs' `api_key` and the dashboard",
        ),
        Key("models", "list of model groups", "all", "the groups this key may use and list"),
    ),
)

ACCOUNTS = Section(
    "bastion_settings.accounts",
    (
        Key(
            "user_keys",
            "`optional`, `disabled`, `required`",
            "`optional`",
            "people's own provider keys: used first, never, or as the only key for official providers",
        ),
        Key("first_superuser", "email", "`FIRST_SUPERUSER`", "created at start-up when no account has it"),
        Key("first_superuser_password", "string", "`FIRST_SUPERUSER_PASSWORD`", "its password"),
        Key(
            "encryption_keys",
            "list of strings ≥ 32 characters, newest first",
            "`ENCRYPTION_KEY`, then `ENCRYPTION_KEYS` (comma-separated)",
            "encrypt stored provider keys (the first) and decrypt them (all)",
        ),
        Key(
            "jwt_secret",
            "string ≥ 32 characters",
            "`BASTION_JWT_SECRET`, else generated into the data directory",
            "signs access tokens and dashboard sessions; every replica needs the same one",
        ),
        Key("access_token_minutes", "integer ≥ 1", "1440", "lifetime of an access token"),
        Key("login_max_failures", "integer ≥ 1", "5", "failed logins before logins are refused a while"),
        Key("login_lockout_seconds", "number > 0", "900", "how long the refusal lasts"),
        Key(
            "login_slowdown_seconds", "number ≥ 0", "0.5", "a failed login is answered after failures x this"
        ),
        Key("min_password_length", "integer ≥ 1", "8", "shorter passwords are refused"),
    ),
    intro="Values left out come from the environment variables named as defaults "
    "([accounts.md](accounts.md)).",
)

ROUTE_RULE = Section(
    "bastion_settings.routes[]",
    (
        Key("name", "string, required", "", "shown in `x-bastion-route` and the spend log"),
        Key("model", "group or list of groups", "every group", "the requested groups the rule applies to"),
        Key("to", "group, required", "", "where matching requests go"),
        Key("when", "mapping", "always", "conditions, all of which must hold (below)"),
    ),
    intro="[routing-and-caching.md](routing-and-caching.md#routing-rules) explains the rules.",
)

ROUTE_WHEN = Section(
    "bastion_settings.routes[].when",
    (
        Key(
            "prompt_tokens_above",
            also=("prompt_tokens_below",),
            type="integer ≥ 0",
            meaning="the estimated prompt is above / below N tokens",
        ),
        Key("tools", "boolean", "", "the request has (not) tools"),
        Key("images", "boolean", "", "the messages hold (no) image"),
        Key(
            "tag", "string or list", "", "a request tag (`metadata.tags`, `tags`, `x-litellm-tags`) is listed"
        ),
        Key("header", "mapping", "", "every header has exactly that value"),
        Key("team", "string or list", "", "the calling key's team is listed"),
        Key("time", '`"HH:MM-HH:MM"`', "", "the UTC time is in the window (it may wrap midnight)"),
    ),
)

BROWSER = Section(
    "bastion_settings.browser",
    (
        Key("anthropic_path", "path", "`/api/anthropic`", "where pages send Anthropic-shaped bodies"),
        Key("openai_path", "path", "`/api/openai`", "where pages send OpenAI-shaped bodies"),
        Key("token_path", "path", "`/api/token`", "where backends mint browser tokens"),
        Key("models", "list of model groups", "every group", "the allowlist; others get 400 `Invalid model`"),
        Key(
            "cors_origins",
            "list of origins",
            "none",
            "pages that may call; the gateway's own pages always may",
        ),
        Key("cors_allow_credentials", "boolean", "false", "answer `Access-Control-Allow-Credentials: true`"),
        Key("cors_max_age_seconds", "integer ≥ 0", "600", "how long browsers may cache a preflight"),
        Key("max_request_bytes", "integer ≥ 256", "65536", "larger bodies get 413"),
        Key(
            "max_tokens",
            "integer ≥ 1",
            "1024",
            "the most output tokens a request may ask for, and the default",
        ),
        Key(
            "token_secret",
            "string ≥ 32 characters",
            "derived from the master key",
            "signs browser tokens; the same in every process; changing it revokes every token",
        ),
        Key("token_ttl_seconds", "number > 0", "300", "a token's life when the minter names none"),
        Key("token_max_ttl_seconds", "number > 0, ≤ 3600", "900", "the longest life a minter may ask for"),
        Key("user_limits", "mapping", "none", "limits for each end user (below)"),
        Key(
            "static_files",
            "mapping of URL prefix to directory",
            "none",
            "files served read-only, relative to the config file (the demo page and SDK)",
        ),
    ),
    intro="An empty mapping (`browser: {}`) turns the endpoints on with every default "
    "([browser.md](browser.md)).",
)

_END_USER_RATES = (
    Key("rpm_limit", "integer ≥ 0", "none", "requests per minute of one end user"),
    Key("tpm_limit", "integer ≥ 0", "none", "tokens per minute of one end user"),
    Key("max_parallel_requests", "integer ≥ 0", "none", "calls in flight of one end user"),
)

BROWSER_USER_LIMITS = Section("bastion_settings.browser.user_limits", _END_USER_RATES)

JWT_AUTH = Section(
    "bastion_settings.jwt_auth",
    (
        Key("issuer", "string, required", "", "the `iss` every token must carry"),
        Key("audience", "string or list, required", "", "the token's `aud` must name one of these"),
        Key("jwk", "mapping, or JSON text", "", "one public key"),
        Key("jwks", "mapping, or JSON text", "", 'a JWKS document (`{"keys": [...]}`)'),
        Key("jwks_file", "path", "", "a JWKS document in a file, relative to the config file"),
        Key("jwks_url", "`https://` URL (`http://` only to localhost)", "", "fetched at start-up and cached"),
        Key("jwks_cache_seconds", "number > 0", "300", "how long fetched keys are used"),
        Key("jwks_min_refresh_seconds", "number ≥ 0", "60", "the least time between two fetches"),
        Key("jwks_timeout_seconds", "number > 0", "5", "how long one fetch may take"),
        Key("algorithms", "list", "every asymmetric one", "which of RS*, PS*, ES*, EdDSA tokens may use"),
        Key("leeway_seconds", "number ≥ 0", "30", "clock skew forgiven on `exp`, `nbf` and `iat`"),
        Key("user_claim", "claim name or dotted path", "`sub`", "names the user"),
        Key("team_claim", "claim name or dotted path", "none", "names the team"),
        Key("models_claim", "claim name or dotted path", "none", "the groups the user may call"),
        Key("models", "list of model groups", "all", "the groups when a token carries no models claim"),
        Key(
            "plan_claim",
            "claim name or dotted path",
            "none",
            "names the user's plan (`plan: pro`); else `/customer/*`, else `default_plan`",
        ),
        Key("user_limits", "mapping", "none", "limits for each end user (below)"),
    ),
    intro="One public key source is required ([jwt-auth.md](jwt-auth.md)).",
)

PLAN = Section(
    "bastion_settings.plans.<name>",
    (
        Key("rpm_limit", "integer ≥ 0", "none", "requests per minute of each member"),
        Key("tpm_limit", "integer ≥ 0", "none", "tokens per minute of each member"),
        Key("max_parallel_requests", "integer ≥ 0", "none", "calls in flight of each member"),
        Key("max_budget", "number ≥ 0, USD", "none", "spend of each member in a budget window"),
        Key("budget_duration", "duration (`30d`, `1mo`, ...)", "none (never resets)", "the budget window"),
        Key(
            "max_tokens_per_period",
            "integer ≥ 0",
            "none",
            "tokens (input and output) each member may use per quota period",
        ),
        Key("quota_duration", "duration (`1d`, `1mo`, ...)", "none (never renews)", "the quota period"),
        Key("count_cache_reads", "boolean", "true", "whether prompt-cache reads count against the quota"),
        Key("models", "list of model groups", "all", "the groups the plan may call"),
        Key(
            "model_aliases",
            "mapping of model group to model group",
            "none",
            "serves a requested group by another for members (`claude-sonnet: claude-haiku`)",
        ),
        Key(
            "quota_message",
            "string",
            "see [plans.md](plans.md)",
            "the sentence of a quota refusal; `{plan}`, `{limit}`, `{period}`, `{renews}` are filled in",
        ),
    ),
    intro="An empty mapping (`pro: {}`) is a plan without limits ([plans.md](plans.md)).",
)

JWT_USER_LIMITS = Section(
    "bastion_settings.jwt_auth.user_limits",
    (
        *_END_USER_RATES,
        Key("max_budget", "number ≥ 0, USD", "none", "spend allowed in a budget window"),
        Key("budget_duration", "duration (`30d`, `1mo`, ...)", "none (never resets)", "the budget window"),
    ),
)

OVERLOAD = Section(
    "bastion_settings.overload",
    (
        Key(
            "max_event_loop_lag_ms",
            "number: 0, or ≥ 5",
            "50",
            "shed new calls while the event loop runs at least this late for five samples in a row "
            "(10 ms apart); 0 turns it off",
        ),
        Key(
            "max_in_flight",
            "integer ≥ 0",
            "0 (no cap)",
            "also refuse new calls while this many are in progress in the process (streams count until "
            "they end)",
        ),
        Key("retry_after_seconds", "number > 0", "1", "the `retry-after` of a refusal"),
    ),
    intro="Health, readiness and metrics are never refused ([operations.md](operations.md#overload)).",
)

_SECONDS = "number > 0, seconds"

SERVER = Section(
    "bastion_settings.server",
    (
        Key(
            "header_timeout_seconds",
            _SECONDS,
            "10",
            "from connecting, or from a request's first byte, to the end of its headers; else 408 "
            "(or a quiet close when nothing was sent) and the connection is closed",
        ),
        Key(
            "body_timeout_seconds",
            _SECONDS,
            "30",
            "a request body gets this long plus one second per `body_min_rate_kib` KiB received; "
            "else 408 and close",
        ),
        Key("body_min_rate_kib", "number > 0, KiB", "64", "the body's allowance: KiB per extra second"),
        Key(
            "keepalive_timeout_seconds",
            _SECONDS,
            "30",
            "an idle keep-alive connection is closed after this long",
        ),
        Key(
            "send_timeout_seconds",
            _SECONDS,
            "60",
            "a client that reads none of its answer for this long is disconnected",
        ),
        Key(
            "shutdown_timeout_seconds",
            _SECONDS,
            "30",
            "on `SIGTERM`, how long requests and streams in progress get to finish",
        ),
        Key("max_header_kib", "integer ≥ 1, KiB", "64", "the request line and headers together; more is 431"),
        Key(
            "max_connections",
            "integer ≥ 1",
            "half the file-descriptor limit, at most 10,000",
            "open connections per process; a connection over it gets 503 and is closed before "
            "anything is read",
        ),
    ),
    intro="What happens at each limit: [operations.md](operations.md#limits-and-timeouts).",
)


BILLING_SETTINGS = Section(
    "billing_settings",
    (
        Key("markup", "number ≥ 0", "3", "billed amount = provider cost x markup"),
        Key("team_markup", "mapping of team to number", "none", "per-team markup"),
        Key("bill_user_key", "boolean", "false", "bill calls paid with the caller's own provider key"),
        Key("bill_cache_hits", "boolean", "false", "bill answers from the response cache"),
        Key("bill_master_key", "boolean", "false", "bill master-key and static-key calls ..."),
        Key("master_key_team", "string", "none", "... to this org"),
        Key("billing_interval_seconds", _SECONDS, "30", "how often spend logs become billing events"),
        Key("outbox_interval_seconds", _SECONDS, "60", "how often pending events are sent"),
        Key("batch_size", "integer ≥ 1", "500", "spend logs or events handled per batch"),
        Key("max_attempts", "integer ≥ 1", "8", "sends before an event is parked"),
        Key("retry_base_seconds", _SECONDS, "30", "the first retry's wait, doubling"),
        Key("retry_max_seconds", _SECONDS, "3600", "the longest wait between retries"),
        Key("lease_seconds", _SECONDS, "300", "how long a worker holds the events it claimed"),
        Key(
            "run_in_process",
            "boolean",
            "true",
            "run the workers inside `bastion serve` (else `bastion worker`)",
        ),
        Key("sinks", "mapping", "none", "`autumn`, `stripe`, `webhook` (below)"),
        Key("entitlement", "mapping", "none", "refuse calls of orgs out of credit (402)"),
    ),
    intro="Every key is explained with examples in [billing.md](billing.md).",
)

BILLING_SINKS = Section(
    "billing_settings.sinks",
    (
        Key("autumn", "mapping", "", "Autumn's `/v1/track`"),
        Key("stripe", "mapping", "", "Stripe meter events"),
        Key("webhook", "mapping", "", "a signed JSON POST"),
    ),
)

AUTUMN_SINK = Section(
    "billing_settings.sinks.autumn",
    (
        Key("api_key", "string", "`AUTUMN_API_KEY`", "Autumn's secret key"),
        Key("api_url", "URL", "`AUTUMN_API_URL`, else `https://api.useautumn.com`", "Autumn's base URL"),
        Key("feature_id", "string", "`llm_credits`", "the feature the credits are drawn from"),
        Key("value_scale", "number > 0", "1", "value sent = billed USD x this"),
        Key("timeout", _SECONDS, "10", "per call"),
    ),
)

STRIPE_SINK = Section(
    "billing_settings.sinks.stripe",
    (
        Key("api_key", "string", "`STRIPE_API_KEY`", "Stripe's secret key"),
        Key("api_url", "URL", "`STRIPE_API_URL`, else `https://api.stripe.com`", "Stripe's base URL"),
        Key("event_name", "string", "`llm_spend`", "the meter's `event_name`"),
        Key("value_scale", "number > 0", "1000000", "value sent = billed USD x this, as an integer"),
        Key("customer_key", "string", "`stripe_customer_id`", "the payload key naming the customer"),
        Key("value_key", "string", "`value`", "the payload key of the value"),
        Key("customers", "mapping of team to `cus_...`", "the team id", "Stripe customer of each team"),
        Key("timeout", _SECONDS, "10", "per call"),
    ),
)

WEBHOOK_SINK = Section(
    "billing_settings.sinks.webhook",
    (
        Key("url", "URL, required", "", "where events are POSTed"),
        Key("secret", "string", "`BILLING_WEBHOOK_SECRET`", "the HMAC-SHA256 key of `Bastion-Signature`"),
        Key("timeout", _SECONDS, "10", "per call"),
    ),
)

ENTITLEMENT = Section(
    "billing_settings.entitlement",
    (
        Key("source", "`autumn`", "`autumn`", "who says whether an org has credit"),
        Key("cache_seconds", "number ≥ 0", "10", "how long an answer is reused"),
        Key("fail_open", "boolean", "true", "admit calls when the source cannot be asked (false: 503)"),
    ),
)

BILLING_SECTIONS = (BILLING_SETTINGS, BILLING_SINKS, AUTUMN_SINK, STRIPE_SINK, WEBHOOK_SINK, ENTITLEMENT)
