"""The configuration keys Bastion recognises, section by section: the one list.

The loader rejects a key missing from its section's list (with the closest one suggested), and
the configuration reference in docs/configuration.md is generated from the same list
(:mod:`bastion.settings.reference`; ``make docs``), with whether Bastion acts on each key. LiteLLM's
documented keys are accepted even where Bastion does not act on them, so an existing LiteLLM
``config.yaml`` loads unchanged. Sources: LiteLLM docs ``proxy/configs`` and ``proxy/config_settings``
(2026). Bastion's own sections are in :mod:`bastion.settings._known_bastion_keys`.

A new key is one :class:`Key` line in its section (and a read of it in the section's reader); the
reference test fails until ``make docs`` has rewritten docs/configuration.md.
"""

from __future__ import annotations

from bastion.settings._key_types import Key, Section, accepted
from bastion.settings._known_bastion_keys import (
    ACCOUNTS,
    BASTION_SETTINGS,
    BILLING_SECTIONS,
    BROWSER,
    BROWSER_USER_LIMITS,
    CACHE_PARAMS,
    JWT_AUTH,
    JWT_USER_LIMITS,
    OVERLOAD,
    PLAN,
    ROUTE_RULE,
    ROUTE_WHEN,
    SERVER,
    STATIC_KEY,
)

__all__ = [
    "ACCOUNT_KEYS",
    "BASTION_SETTINGS_KEYS",
    "BROWSER_KEYS",
    "BROWSER_USER_LIMIT_KEYS",
    "CACHE_PARAMS_KEYS",
    "GENERAL_SETTINGS_KEYS",
    "JWT_AUTH_KEYS",
    "JWT_USER_LIMIT_KEYS",
    "LITELLM_SETTINGS_KEYS",
    "MODEL_ENTRY_KEYS",
    "OVERLOAD_KEYS",
    "PLAN_KEYS",
    "ROUTER_SETTINGS_KEYS",
    "ROUTE_RULE_KEYS",
    "ROUTE_WHEN_KEYS",
    "ROUTING_STRATEGIES",
    "SECTIONS",
    "SERVER_KEYS",
    "STATIC_KEY_KEYS",
    "TOP_LEVEL_KEYS",
]

ROUTING_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
)

TOP_LEVEL = Section(
    "top level",
    (
        Key("model_list", "list, required, not empty", "", "the deployments this gateway serves"),
        Key("general_settings", "mapping", "", "LiteLLM's proxy settings"),
        Key("litellm_settings", "mapping", "", "LiteLLM's library settings"),
        Key(
            "router_settings",
            "mapping",
            "",
            "LiteLLM's router settings (they win over `litellm_settings` where both have a key)",
        ),
        Key("environment_variables", "mapping", "", "variables visible to `os.environ/` references"),
        Key("include", "list of paths", "", "other config files merged into this one"),
        Key("bastion_settings", "mapping", "", "Bastion's own settings (not in LiteLLM's format)"),
        Key(
            "billing_settings",
            "mapping",
            "none (billing off)",
            "billing: markup, sinks (Autumn, Stripe, webhook), workers, entitlement "
            "([billing.md](billing.md))",
        ),
        *accepted(
            "guardrails",
            "callback_settings",
            "mcp_servers",
            "mcp_aliases",
            "search_tools",
            "credential_list",
            "vector_store_registry",
            "prompts",
            "files_settings",
            "finetune_settings",
            "assistant_settings",
            "pass_through_endpoints",
        ),
    ),
)

MODEL_ENTRY = Section(
    "model_list[]",
    (
        Key(
            "model_name",
            "string, required",
            "",
            "the model group clients ask for; entries sharing it form one group",
        ),
        Key("litellm_params", "mapping, required", "", "where and how to call (below)"),
        Key("model_info", "mapping", "", "id, prices and limits of this deployment (below)"),
    ),
    intro="Each entry is one deployment.",
)

_COST = "USD per token, ≥ 0"

LITELLM_PARAMS = Section(
    "model_list[].litellm_params",
    (
        Key(
            "model",
            "string, required",
            "",
            "`provider/upstream-model`, split at the first `/`; a bare name is accepted when it starts "
            "with `gpt-`, `claude-` or `gemini-`",
        ),
        Key("custom_llm_provider", "string", "", "names the provider; `model` is then used whole"),
        Key(
            "api_key",
            "string",
            "the provider's key variable",
            "the provider key; when absent, the first set variable of the provider's list",
        ),
        Key(
            "api_base",
            "`http(s)://` URL",
            "the provider's default",
            "where the upstream is; required for `azure`, `hosted_vllm`, `vllm`",
        ),
        Key("api_version", "string", "`AZURE_API_VERSION`, else `2024-10-21`", "Azure's `api-version`"),
        Key("weight", "number ≥ 0", "1", "share of the group's calls under `simple-shuffle`"),
        Key(
            "order",
            "integer ≥ 0",
            "none (tried last)",
            "priority within the group: the lowest `order` not failed in this request goes first",
        ),
        Key("timeout", "number > 0, seconds", "the global timeout", "this deployment's upstream timeout"),
        Key(
            "stream_timeout",
            "number > 0, seconds",
            "`router_settings.stream_timeout`, else `timeout`",
            "time allowed until a stream's response headers arrive",
        ),
        Key(
            "rpm",
            "integer ≥ 0",
            "none",
            "requests per minute this deployment takes: `usage-based-routing` prefers deployments under "
            "it (not a hard limit)",
        ),
        Key("tpm", "integer ≥ 0", "none", "tokens per minute, as `rpm`"),
        Key(
            "extra_headers",
            "mapping of strings",
            "",
            "headers added to every upstream call (may replace auth)",
        ),
        Key("drop_params", "boolean", "`litellm_settings.drop_params`", "this deployment's `drop_params`"),
        Key(
            "temperature",
            also=("top_p", "top_k", "max_tokens", "seed"),
            type="numbers",
            meaning="request defaults: used when the client did not set them",
        ),
        Key(
            "responses_api",
            "boolean",
            "true for OpenAI itself (no `api_base`, or `api.openai.com`)",
            "OpenAI protocol only: `/v1/responses` calls go to the upstream's own `/responses`, passed "
            "through; false: translated to chat completions",
        ),
        Key("mock_response", "string", "a fixed sentence", "`mock` only: the answer text"),
        Key("mock_stream_delay", "number, seconds", "0", "`mock` only: the delay between streamed words"),
        Key(
            "input_cost_per_token",
            also=("output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost"),
            type=_COST,
            meaning="prices, as in `model_info` (which wins when both are set)",
        ),
        Key(
            "num_retries",
            also=("max_retries",),
            type="integer ≥ 0",
            meaning="checked; the global `num_retries` applies",
            acted_on=False,
        ),
        Key(
            "presence_penalty",
            also=("frequency_penalty", "max_completion_tokens", "n", "stream"),
            type="numbers, booleans",
            meaning="checked, then sent upstream as request defaults",
        ),
    ),
    intro="Any other key (`organization`, `tags`, ...) is kept as a request default but not checked.",
    open_ended=True,
)

MODEL_INFO = Section(
    "model_list[].model_info",
    (
        Key(
            "id",
            "string",
            "a stable hash of group, provider, model, `api_base` and position",
            "the deployment id in logs and metrics; unique",
        ),
        Key(
            "input_cost_per_token",
            _COST,
            "the pricing data's",
            "price override: it wins over the pricing data for this deployment, and a rate left out (the "
            "output rate, the cache rates) comes from the pricing data for the model (else 0); prices "
            "`mock` deployments too. A model without any price cannot be called with a budgeted key "
            "([keys-and-budgets.md](keys-and-budgets.md#prices-one-function))",
        ),
        Key("output_cost_per_token", _COST, "the pricing data's", "price override"),
        Key("cache_read_input_token_cost", _COST, "the input price", "price of a cached input token"),
        Key("cache_creation_input_token_cost", _COST, "the input price", "price of a cache-write token"),
        Key("base_model", "string", "", "price this deployment as that model of the pricing data"),
        Key(
            "max_output_tokens",
            also=("max_tokens",),
            type="integer ≥ 1",
            default="`bastion_settings.default_max_tokens`",
            meaning="`max_tokens` for an Anthropic upstream when a translated request has none; what a "
            "call without `max_tokens` reserves against budgets; `outputTokenLimit` in the Gemini model list",
        ),
        Key(
            "max_input_tokens",
            "integer ≥ 1",
            "",
            "`context_window_fallbacks` move larger prompts; `inputTokenLimit` in the Gemini model list",
        ),
        Key("mode", "string", "", "kept", False),
    ),
    intro="Any other key (`access_groups`, `supports_vision`, ...) is kept but not used.",
    open_ended=True,
)

GENERAL_SETTINGS = Section(
    "general_settings",
    (
        Key(
            "master_key",
            "string starting with `sk-`",
            "`BASTION_MASTER_KEY`, else `LITELLM_MASTER_KEY`",
            "the admin key: every route, every model",
        ),
        Key(
            "database_url",
            "`postgresql://...`",
            "`DATABASE_URL`, else SQLite `bastion.db` in the data directory",
            "keys, teams, users, spend logs; `?schema=NAME` picks a PostgreSQL schema",
        ),
        Key(
            "redis_url", "`redis://`, `rediss://` or `unix://` URL", "none", "as `bastion_settings.redis_url`"
        ),
        Key(
            "max_request_size_mb",
            "number > 0",
            "32",
            "used when `bastion_settings.max_request_size_mb` is not set",
        ),
        Key(
            "allow_requests_on_db_unavailable",
            "boolean",
            "true",
            "during a database outage, keys this gateway has seen keep working from its cache "
            "(revocations in Redis still count); `false`: they get a 503 once their cache entry "
            "expires. LiteLLM's default is `false`, but LiteLLM then serves any key unchecked; Bastion "
            "never does",
        ),
        Key(
            "user_api_key_cache_ttl",
            "number ≥ 0, seconds",
            "5",
            "how long a virtual key is served from the in-process cache before it is read again "
            "(revocations and changes are seen at once regardless)",
        ),
        *accepted(
            "database_connection_pool_limit",
            "database_connection_timeout",
            "disable_prisma_schema_update",
            "alerting",
            "alerting_threshold",
            "alerting_args",
            "alert_types",
            "alert_to_webhook_url",
            "spend_report_frequency",
            "proxy_batch_write_at",
            "proxy_batch_polling_interval",
            "proxy_budget_rescheduler_min_time",
            "proxy_budget_rescheduler_max_time",
            "disable_spend_logs",
            "disable_spend_updates",
            "disable_error_logs",
            "disable_reset_budget",
            "disable_budget_reservation",
            "fail_closed_budget_enforcement",
            "store_prompts_in_spend_logs",
            "maximum_spend_logs_retention_period",
            "maximum_spend_logs_retention_interval",
            "use_redis_transaction_buffer",
            "background_health_checks",
            "health_check_interval",
            "health_check_details",
            "max_parallel_requests",
            "global_max_parallel_requests",
            "max_response_size_mb",
            "token_rate_limit_type",
            "litellm_key_header_name",
            "custom_auth",
            "custom_auth_settings",
            "custom_key_generate",
            "custom_sso",
            "enable_jwt_auth",
            "litellm_jwtauth",
            "enable_oauth2_auth",
            "enable_oauth2_proxy_auth",
            "oauth2_config_mappings",
            "enforce_user_param",
            "enforced_params",
            "reject_clientside_metadata_tags",
            "allowed_routes",
            "admin_only_routes",
            "public_routes",
            "allowed_ips",
            "use_x_forwarded_for",
            "store_model_in_db",
            "supported_db_objects",
            "forward_client_headers_to_llm_api",
            "forward_openai_org_id",
            "allow_client_side_credentials",
            "use_client_credentials_pass_through_routes",
            "pass_through_endpoints",
            "completion_model",
            "embedding_model",
            "image_generation_model",
            "moderation_model",
            "infer_model_from_keys",
            "key_management_system",
            "key_management_settings",
            "use_azure_key_vault",
            "use_google_kms",
            "service_account_settings",
            "default_team_disabled",
            "disable_master_key_return",
            "disable_adding_master_key_hash_to_db",
            "disable_retry_on_max_parallel_request_limit_error",
            "disable_responses_id_security",
            "user_mcp_management_mode",
            "ui_access_mode",
            "allow_user_auth",
            "litellm_license",
        ),
    ),
    intro="With no master key and no static keys, anyone may call (a warning is logged at start-up).",
)

_RETRIES = Key(
    "num_retries", "integer ≥ 0", "2", "extra attempts per model group: each group gets `num_retries + 1`"
)
_RETRY_AFTER = Key(
    "retry_after", "number ≥ 0, seconds", "0", "the shortest wait before a new round of attempts"
)
_FALLBACKS = Key(
    "fallbacks",
    "list of `{group: [group, ...]}`",
    "none",
    "groups tried in order when a group's attempts are used up; every name must be a group",
)
_WINDOW_FALLBACKS = Key(
    "context_window_fallbacks",
    "as `fallbacks`",
    "none",
    "when the estimated prompt exceeds a group's `model_info.max_input_tokens`, the first listed group "
    "that fits serves instead",
)
_ALLOWED_FAILS = Key(
    "allowed_fails", "integer ≥ 0", "3", "failures within a minute before a deployment is cooled down"
)
_COOLDOWN = Key(
    "cooldown_time", "number ≥ 0, seconds", "5", "how long a cooled-down deployment is left out (0: never)"
)

LITELLM_SETTINGS = Section(
    "litellm_settings",
    (
        Key(
            "drop_params",
            "boolean",
            "false",
            "drop request fields the upstream's protocol cannot express instead of answering 400",
        ),
        _RETRIES,
        Key(
            "request_timeout",
            "number > 0, seconds",
            "600",
            "the upstream timeout when `router_settings.timeout` is not set",
        ),
        _RETRY_AFTER,
        _FALLBACKS,
        _WINDOW_FALLBACKS,
        _ALLOWED_FAILS,
        _COOLDOWN,
        Key(
            "cache",
            "boolean",
            "false",
            "turn the response cache on ([routing-and-caching.md](routing-and-caching.md#response-cache))",
        ),
        Key("cache_params", "mapping", "", "the cache's kind, time to live, scope and size (below)"),
        *accepted("ssl_verify", meaning="upstream TLS certificates are always verified"),
        *accepted("json_logs", meaning="use `bastion_settings.json_logs`"),
        *accepted(
            "modify_params",
            "force_ipv4",
            "content_policy_fallbacks",
            "default_fallbacks",
            "max_fallbacks",
            "callbacks",
            "success_callback",
            "failure_callback",
            "service_callback",
            "service_callbacks",
            "callback_settings",
            "turn_off_message_logging",
            "redact_messages_in_exceptions",
            "redact_user_api_key_info",
            "langfuse_default_tags",
            "set_verbose",
            "max_budget",
            "budget_duration",
            "max_end_user_budget",
            "max_internal_user_budget",
            "internal_user_budget_duration",
            "timezone",
            "default_key_generate_params",
            "upperbound_key_generate_params",
            "key_generation_settings",
            "default_team_params",
            "default_internal_user_params",
            "cost_discount_config",
            "cost_margin_config",
            "enable_redis_auth_cache",
            "enable_preview_features",
            "enable_json_schema_validation",
            "enable_key_alias_format_validation",
            "disable_end_user_cost_tracking",
            "disable_end_user_cost_tracking_prometheus_only",
            "disable_add_transform_inline_image_block",
            "disable_hf_tokenizer_download",
            "disable_copilot_system_to_assistant",
            "use_chat_completions_url_for_anthropic_messages",
            "mcp_aliases",
            "guardrails",
            "public_model_groups",
            "public_model_groups_links",
            "return_response_headers",
            "telemetry",
        ),
    ),
)

ROUTER_SETTINGS = Section(
    "router_settings",
    (
        Key(
            "routing_strategy",
            "string",
            "`simple-shuffle`",
            "`simple-shuffle` (random by `weight`), `least-busy`, `latency-based-routing`, "
            "`usage-based-routing` (`-v2`); `cost-based-routing` is accepted and behaves as "
            "`simple-shuffle` "
            "([routing-and-caching.md](routing-and-caching.md#deployment-health-and-strategies))",
        ),
        Key(
            "routing_strategy_args",
            "mapping",
            "",
            "`lowest_latency_buffer` (fraction ≥ 0): latency-based routing picks among deployments within "
            "this share of the fastest",
        ),
        _RETRIES,
        _RETRY_AFTER,
        Key("timeout", "number > 0, seconds", "600", "the upstream timeout (a deployment's `timeout` wins)"),
        Key(
            "stream_timeout",
            "number > 0, seconds",
            "`timeout`",
            "time allowed until a stream's response headers arrive",
        ),
        _ALLOWED_FAILS,
        _COOLDOWN,
        Key("disable_cooldowns", "boolean", "false", "never cool deployments down"),
        _FALLBACKS,
        _WINDOW_FALLBACKS,
        Key(
            "redis_url",
            "`redis://`, `rediss://` or `unix://` URL",
            "none",
            "as `bastion_settings.redis_url` (which, and `general_settings.redis_url`, win)",
        ),
        Key(
            "redis_host",
            also=("redis_port", "redis_password", "redis_db"),
            type="string, integers",
            default="port 6379, db 0",
            meaning="the same Redis, in parts",
        ),
        *accepted(
            "retry_policy",
            "model_group_retry_policy",
            "allowed_fails_policy",
            "content_policy_fallbacks",
            "default_fallbacks",
            "max_fallbacks",
            "enable_pre_call_checks",
            "enable_pre_call_check",
            "optional_pre_call_checks",
            "model_group_alias",
            "cache_responses",
            "cache_kwargs",
            "caching_groups",
            "client_ttl",
            "default_litellm_params",
            "default_max_parallel_requests",
            "default_priority",
            "polling_interval",
            "provider_budget_config",
            "enable_tag_filtering",
            "tag_filtering_match_any",
            "deployment_affinity_ttl_seconds",
            "ignore_invalid_deployments",
            "set_verbose",
            "debug_level",
        ),
    ),
    intro="Where a key may sit in `router_settings` or `litellm_settings`, the router's wins.",
)

#: Every section, in the order of the reference.
SECTIONS: tuple[Section, ...] = (
    TOP_LEVEL,
    MODEL_ENTRY,
    LITELLM_PARAMS,
    MODEL_INFO,
    GENERAL_SETTINGS,
    LITELLM_SETTINGS,
    CACHE_PARAMS,
    ROUTER_SETTINGS,
    BASTION_SETTINGS,
    STATIC_KEY,
    ACCOUNTS,
    ROUTE_RULE,
    ROUTE_WHEN,
    BROWSER,
    BROWSER_USER_LIMITS,
    JWT_AUTH,
    JWT_USER_LIMITS,
    PLAN,
    OVERLOAD,
    SERVER,
    *BILLING_SECTIONS,
)

TOP_LEVEL_KEYS = TOP_LEVEL.names
MODEL_ENTRY_KEYS = MODEL_ENTRY.names
GENERAL_SETTINGS_KEYS = GENERAL_SETTINGS.names
LITELLM_SETTINGS_KEYS = LITELLM_SETTINGS.names
ROUTER_SETTINGS_KEYS = ROUTER_SETTINGS.names
CACHE_PARAMS_KEYS = CACHE_PARAMS.names
BASTION_SETTINGS_KEYS = BASTION_SETTINGS.names
STATIC_KEY_KEYS = STATIC_KEY.names
ACCOUNT_KEYS = ACCOUNTS.names
ROUTE_RULE_KEYS = ROUTE_RULE.names
ROUTE_WHEN_KEYS = ROUTE_WHEN.names
BROWSER_KEYS = BROWSER.names
BROWSER_USER_LIMIT_KEYS = BROWSER_USER_LIMITS.names
JWT_AUTH_KEYS = JWT_AUTH.names
JWT_USER_LIMIT_KEYS = JWT_USER_LIMITS.names
OVERLOAD_KEYS = OVERLOAD.names
PLAN_KEYS = PLAN.names
SERVER_KEYS = SERVER.names
