"""The configuration keys Bastion recognises, section by section.

LiteLLM's documented keys are accepted even where Bastion does not act on them yet, so an existing
LiteLLM ``config.yaml`` loads unchanged; a key that nobody knows is a typo and is rejected with a
suggestion. Sources: LiteLLM docs ``proxy/configs`` and ``proxy/config_settings`` (2026).
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_KEYS",
    "BASTION_SETTINGS_KEYS",
    "GENERAL_SETTINGS_KEYS",
    "JWT_AUTH_KEYS",
    "JWT_USER_LIMIT_KEYS",
    "LITELLM_SETTINGS_KEYS",
    "MODEL_ENTRY_KEYS",
    "ROUTER_SETTINGS_KEYS",
    "ROUTING_STRATEGIES",
    "STATIC_KEY_KEYS",
    "TOP_LEVEL_KEYS",
]

TOP_LEVEL_KEYS = frozenset(
    {
        "model_list",
        "general_settings",
        "litellm_settings",
        "router_settings",
        "environment_variables",
        "include",
        "bastion_settings",
        "billing_settings",
        # LiteLLM features Bastion does not implement yet; accepted so configs still load.
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
    }
)

MODEL_ENTRY_KEYS = frozenset({"model_name", "litellm_params", "model_info"})

GENERAL_SETTINGS_KEYS = frozenset(
    {
        "master_key",
        "database_url",
        "redis_url",
        "database_connection_pool_limit",
        "database_connection_timeout",
        "allow_requests_on_db_unavailable",
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
        "user_api_key_cache_ttl",
        "background_health_checks",
        "health_check_interval",
        "health_check_details",
        "max_parallel_requests",
        "global_max_parallel_requests",
        "max_request_size_mb",
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
    }
)

LITELLM_SETTINGS_KEYS = frozenset(
    {
        "drop_params",
        "modify_params",
        "num_retries",
        "request_timeout",
        "force_ipv4",
        "ssl_verify",
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "default_fallbacks",
        "allowed_fails",
        "cooldown_time",
        "retry_after",
        "max_fallbacks",
        "cache",
        "cache_params",
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
        "json_logs",
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
    }
)

ROUTER_SETTINGS_KEYS = frozenset(
    {
        "routing_strategy",
        "routing_strategy_args",
        "num_retries",
        "retry_after",
        "retry_policy",
        "model_group_retry_policy",
        "timeout",
        "stream_timeout",
        "allowed_fails",
        "allowed_fails_policy",
        "cooldown_time",
        "disable_cooldowns",
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "default_fallbacks",
        "max_fallbacks",
        "enable_pre_call_checks",
        "enable_pre_call_check",
        "optional_pre_call_checks",
        "model_group_alias",
        "redis_url",
        "redis_host",
        "redis_port",
        "redis_password",
        "redis_db",
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
    }
)

BASTION_SETTINGS_KEYS = frozenset(
    {
        "static_keys",
        "max_request_size_mb",
        "default_max_tokens",
        "log_level",
        "json_logs",
        "log_requests",
        "otlp_endpoint",
        "otlp_service_name",
        "stream_keepalive_seconds",
        "host",
        "port",
        "redis_url",
        "data_dir",
        "jwt_auth",
        "accounts",
        "routes",
        "browser",
        "server",
    }
)

#: ``bastion_settings.server``: the HTTP server's limits and timeouts (``ServerSettings``).
SERVER_KEYS = frozenset(
    {
        "header_timeout_seconds",
        "body_timeout_seconds",
        "body_min_rate_kib",
        "keepalive_timeout_seconds",
        "send_timeout_seconds",
        "shutdown_timeout_seconds",
        "max_header_kib",
        "max_connections",
    }
)

ACCOUNT_KEYS = frozenset(
    {
        "user_keys",
        "first_superuser",
        "first_superuser_password",
        "jwt_secret",
        "access_token_minutes",
        "encryption_keys",
        "login_max_failures",
        "login_lockout_seconds",
        "login_slowdown_seconds",
        "min_password_length",
    }
)

BROWSER_KEYS = frozenset(
    {
        "anthropic_path",
        "openai_path",
        "token_path",
        "models",
        "cors_origins",
        "cors_allow_credentials",
        "cors_max_age_seconds",
        "max_request_bytes",
        "max_tokens",
        "token_secret",
        "token_ttl_seconds",
        "token_max_ttl_seconds",
        "user_limits",
        "static_files",
    }
)

BROWSER_USER_LIMIT_KEYS = frozenset({"rpm_limit", "tpm_limit", "max_parallel_requests"})

JWT_AUTH_KEYS = frozenset(
    {
        "issuer",
        "audience",
        "algorithms",
        "jwk",
        "jwks",
        "jwks_file",
        "jwks_url",
        "jwks_cache_seconds",
        "jwks_min_refresh_seconds",
        "jwks_timeout_seconds",
        "leeway_seconds",
        "user_claim",
        "team_claim",
        "models_claim",
        "models",
        "user_limits",
    }
)

JWT_USER_LIMIT_KEYS = frozenset(
    {"rpm_limit", "tpm_limit", "max_parallel_requests", "max_budget", "budget_duration"}
)

STATIC_KEY_KEYS = frozenset({"key", "alias", "models"})

ROUTING_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
)
