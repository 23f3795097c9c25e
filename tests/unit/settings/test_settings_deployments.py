"""model_list entries: provider prefixes, base URLs, keys, typed params, defaults and model_info."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.domain.secret import Secret
from bastion.settings import Deployment, load_settings

Write = Callable[..., Path]


def one(
    write_config: Write, params: str, *, extra: str = "", environ: dict[str, str] | None = None
) -> Deployment:
    """Load a config with one deployment whose litellm_params are ``params`` (YAML, 6-space indented)."""
    path = write_config(f"model_list:\n  - model_name: g\n    litellm_params:\n{params}{extra}")
    return load_settings(path, environ=environ or {}).model_list[0]


def error_of(
    write_config: Write, params: str, *, extra: str = "", environ: dict[str, str] | None = None
) -> str:
    path = write_config(f"model_list:\n  - model_name: g\n    litellm_params:\n{params}{extra}")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ or {})
    return str(caught.value).replace(str(path), "x.yaml")


@pytest.mark.parametrize(
    ("model", "provider", "alias", "upstream", "api_base"),
    [
        (
            "anthropic/claude-sonnet-4-5-20250929",
            "anthropic",
            "anthropic",
            "claude-sonnet-4-5-20250929",
            "https://api.anthropic.com",
        ),
        (
            "gemini/gemini-2.5-flash",
            "gemini",
            "gemini",
            "gemini-2.5-flash",
            "https://generativelanguage.googleapis.com",
        ),
        ("openai/gpt-4o", "openai", "openai", "gpt-4o", "https://api.openai.com/v1"),
        (
            "openrouter/meta-llama/llama-3.1-8b",
            "openai",
            "openrouter",
            "meta-llama/llama-3.1-8b",
            "https://openrouter.ai/api/v1",
        ),
        ("ollama/llama3", "openai", "ollama", "llama3", "http://localhost:11434/v1"),
        ("ollama_chat/llama3", "openai", "ollama_chat", "llama3", "http://localhost:11434/v1"),
        ("groq/llama-3.3-70b", "openai", "groq", "llama-3.3-70b", "https://api.groq.com/openai/v1"),
        ("deepseek/deepseek-chat", "openai", "deepseek", "deepseek-chat", "https://api.deepseek.com/v1"),
        ("mistral/mistral-large", "openai", "mistral", "mistral-large", "https://api.mistral.ai/v1"),
        ("together_ai/x/y", "openai", "together_ai", "x/y", "https://api.together.xyz/v1"),
        (
            "fireworks_ai/accounts/f/models/m",
            "openai",
            "fireworks_ai",
            "accounts/f/models/m",
            "https://api.fireworks.ai/inference/v1",
        ),
        ("xai/grok-4", "openai", "xai", "grok-4", "https://api.x.ai/v1"),
        ("mock/echo", "mock", "mock", "echo", None),
        ("gpt-4o-mini", "openai", "openai", "gpt-4o-mini", "https://api.openai.com/v1"),
        ("claude-3-5-haiku", "anthropic", "anthropic", "claude-3-5-haiku", "https://api.anthropic.com"),
        (
            "gemini-2.0-flash",
            "gemini",
            "gemini",
            "gemini-2.0-flash",
            "https://generativelanguage.googleapis.com",
        ),
    ],
)
def test_provider_prefixes(
    write_config: Write, model: str, provider: str, alias: str, upstream: str, api_base: str | None
) -> None:
    """Each prefix maps to its protocol and default base URL; the model splits at the first slash."""
    deployment = one(write_config, f"      model: {model}\n")
    assert (deployment.provider, deployment.provider_alias, deployment.model) == (provider, alias, upstream)
    assert deployment.api_base == api_base


def test_unknown_provider_lists_known_ones(write_config: Write) -> None:
    """A misspelt prefix is rejected with the list of known providers."""
    message = error_of(write_config, "      model: antropic/claude\n")
    assert message.startswith(
        "x.yaml:4: model_list[0].litellm_params.model: unknown provider 'antropic' in 'antropic/claude' "
        "(known: anthropic, azure, deepseek, fireworks_ai, gemini, groq, "
    )


@pytest.mark.parametrize("prefix", ["bedrock", "vertex_ai"])
def test_unsupported_providers_say_not_yet(write_config: Write, prefix: str) -> None:
    """Providers LiteLLM has but Bastion lacks get a 'not supported yet' message."""
    message = error_of(write_config, f"      model: {prefix}/some-model\n")
    assert message == (
        f"x.yaml:4: model_list[0].litellm_params.model: provider '{prefix}' is not supported yet "
        f"(in '{prefix}/some-model')"
    )


def test_model_without_prefix_that_cannot_be_inferred(write_config: Write) -> None:
    """A bare model name other than gpt-*, claude-*, gemini-* asks for a prefix."""
    assert error_of(write_config, "      model: llama3\n") == (
        "x.yaml:4: model_list[0].litellm_params.model: model 'llama3' has no provider prefix "
        "(write provider/model, e.g. openai/llama3)"
    )


def test_prefix_without_model(write_config: Write) -> None:
    """``openai/`` with nothing after it is rejected."""
    assert "names no model after the provider prefix" in error_of(write_config, "      model: openai/\n")


def test_custom_llm_provider_names_the_provider(write_config: Write) -> None:
    """LiteLLM's custom_llm_provider picks the provider and keeps the model string whole."""
    deployment = one(
        write_config,
        "      model: my-model\n      custom_llm_provider: hosted_vllm\n      api_base: http://h:8000/v1\n",
    )
    assert (deployment.provider_alias, deployment.model, deployment.api_base) == (
        "hosted_vllm",
        "my-model",
        "http://h:8000/v1",
    )


@pytest.mark.parametrize("prefix", ["azure", "hosted_vllm", "vllm"])
def test_api_base_required_for_self_hosted_and_azure(write_config: Write, prefix: str) -> None:
    """Providers without a public default URL need api_base."""
    assert error_of(write_config, f"      model: {prefix}/m\n") == (
        f"x.yaml:3: model_list[0].litellm_params.api_base: is required for provider '{prefix}' "
        "(the URL of the server, e.g. https://host/v1)"
    )


@pytest.mark.parametrize(
    ("model", "given", "stored"),
    [
        ("anthropic/c", "https://proxy.test/v1/messages", "https://proxy.test"),
        ("anthropic/c", "https://proxy.test/v1/", "https://proxy.test"),
        ("gemini/g", "https://g.test/v1beta", "https://g.test"),
        ("ollama/l", "http://box:11434", "http://box:11434/v1"),
        ("openai/m", "http://vllm.test:8000/v1/", "http://vllm.test:8000/v1"),
    ],
)
def test_api_base_is_normalized_per_protocol(
    write_config: Write, model: str, given: str, stored: str
) -> None:
    """Trailing slashes go, Anthropic/Gemini bases become roots, Ollama gains /v1."""
    assert one(write_config, f"      model: {model}\n      api_base: {given}\n").api_base == stored


def test_api_base_must_be_http(write_config: Write) -> None:
    """A base URL without http(s):// is rejected."""
    message = error_of(write_config, "      model: openai/m\n      api_base: localhost:8000\n")
    assert message == "x.yaml:5: model_list[0].litellm_params.api_base: must be an http:// or https:// URL"


def test_api_key_falls_back_to_provider_variable(write_config: Write) -> None:
    """Without api_key, the provider's usual variable (as in LiteLLM) supplies it."""
    deployment = one(write_config, "      model: anthropic/c\n", environ={"ANTHROPIC_API_KEY": "sk-ant-env"})
    assert deployment.api_key == Secret("sk-ant-env")
    assert one(write_config, "      model: anthropic/c\n").api_key is None


def test_azure_reads_api_version(write_config: Write) -> None:
    """An unquoted date api_version stays a string; AZURE_API_VERSION is the fallback."""
    params = "      model: azure/my-deploy\n      api_base: https://r.openai.azure.com\n"
    assert one(write_config, params + "      api_version: 2024-10-21\n").api_version == "2024-10-21"
    assert one(write_config, params, environ={"AZURE_API_VERSION": "2025-01-01"}).api_version == "2025-01-01"


def test_typed_params_and_defaults(write_config: Write) -> None:
    """Known litellm_params become fields; the rest become completion defaults."""
    deployment = one(
        write_config,
        """\
      model: openai/gpt-4o
      api_key: sk-provider
      rpm: 100
      tpm: 50000
      weight: 2
      order: 1
      timeout: 30
      stream_timeout: 10.5
      max_retries: 4
      extra_headers: {X-Team: core, X-Num: 7}
      temperature: 0.2
      max_tokens: 512
      drop_params: true
      mock_response: hi
      organization: org-1
""",
    )
    assert (deployment.rpm, deployment.tpm, deployment.weight, deployment.order) == (100, 50000, 2.0, 1)
    assert (deployment.timeout, deployment.stream_timeout, deployment.num_retries) == (30.0, 10.5, 4)
    assert dict(deployment.extra_headers) == {"X-Team": "core", "X-Num": "7"}
    assert dict(deployment.defaults) == {
        "temperature": 0.2,
        "max_tokens": 512,
        "drop_params": True,
        "mock_response": "hi",
        "organization": "org-1",
    }


def test_num_retries_wins_over_max_retries(write_config: Write) -> None:
    """When both are given, num_retries is used."""
    deployment = one(write_config, "      model: mock/m\n      num_retries: 1\n      max_retries: 9\n")
    assert deployment.num_retries == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("rpm: lots", "rpm: must be a whole number, got a string"),
        ("tpm: -1", "tpm: must be at least 0, got -1"),
        ("weight: -0.5", "weight: must be at least 0, got -0.5"),
        ("timeout: 0", "timeout: must be greater than 0, got 0"),
        ("temperature: hot", "temperature: must be a number, got a string"),
        ("max_tokens: 0", "max_tokens: must be at least 1, got 0"),
        ("drop_params: maybe", "drop_params: must be true or false, got a string"),
        ("api_key: 12345", "api_key: must be a string, got a number"),
        ("extra_headers: [a]", "extra_headers: must be a mapping (key: value lines), got a list"),
    ],
)
def test_param_types_are_checked(write_config: Write, line: str, message: str) -> None:
    """Wrong types in known litellm_params are reported with their path and line."""
    assert error_of(write_config, f"      model: mock/m\n      {line}\n") == (
        f"x.yaml:5: model_list[0].litellm_params.{message}"
    )


def test_model_info_fields(write_config: Write) -> None:
    """model_info is typed; max_tokens stands for max_output_tokens; other keys go to extra."""
    deployment = one(
        write_config,
        "      model: mock/m\n      input_cost_per_token: 0.000002\n",
        extra="""\
    model_info:
      id: dep-1
      output_cost_per_token: 0.00001
      cache_read_input_token_cost: 0.0000002
      max_input_tokens: 200000
      max_tokens: 8192
      base_model: azure/gpt-4o
      mode: chat
      supports_vision: true
""",
    )
    info = deployment.model_info
    assert deployment.deployment_id == "dep-1"
    assert (info.input_cost_per_token, info.output_cost_per_token) == (0.000002, 0.00001)
    assert info.cache_read_input_token_cost == 0.0000002
    assert (info.max_input_tokens, info.max_output_tokens) == (200000, 8192)
    assert (info.base_model, info.mode) == ("azure/gpt-4o", "chat")
    assert dict(info.extra) == {"supports_vision": True}
    assert "input_cost_per_token" not in deployment.defaults


def test_generated_deployment_ids_are_stable_and_distinct(write_config: Write) -> None:
    """Without model_info.id, ids are short hashes that repeat across loads and differ per entry."""
    text = "model_list:\n" + "".join(
        f"  - model_name: g\n    litellm_params:\n      model: mock/{name}\n" for name in ("a", "a", "b")
    )
    first = load_settings(write_config(text), environ={})
    second = load_settings(write_config(text), environ={})
    ids = [d.deployment_id for d in first.model_list]
    assert ids == [d.deployment_id for d in second.model_list]
    assert len(set(ids)) == 3 and all(len(i) == 16 for i in ids)
    assert len(first.model_groups["g"]) == 3


def test_duplicate_deployment_ids_are_rejected(write_config: Write) -> None:
    """Two entries with the same model_info.id are an error naming the first."""
    entry = "  - model_name: g\n    litellm_params:\n      model: mock/m\n    model_info:\n      id: same\n"
    path = write_config("model_list:\n" + entry + entry)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(caught.value) == (
        f"{path}:11: model_list[1].model_info.id: deployment id 'same' is already used by model_list[0]"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  - litellm_params:\n      model: mock/m\n", "x.yaml:2: model_list[0].model_name: is required"),
        ("  - model_name: g\n", "x.yaml:2: model_list[0].litellm_params: is required"),
        (
            "  - model_name: 5\n    litellm_params: {model: mock/m}\n",
            "x.yaml:2: model_list[0].model_name: must be a string, got a number",
        ),
        (
            "  - model_name: g\n    litellm_params: {}\n",
            "x.yaml:3: model_list[0].litellm_params.model: is required",
        ),
        (
            "  - model_name: g\n    litelm_params: {model: mock/m}\n",
            "x.yaml:3: model_list[0].litelm_params: unknown key (did you mean 'litellm_params'?)",
        ),
        (
            "  - just-a-string\n",
            "x.yaml:2: model_list[0]: must be a mapping (key: value lines), got a string",
        ),
    ],
)
def test_entry_shape_errors(write_config: Write, entry: str, message: str) -> None:
    """Malformed model_list entries are reported with the entry's index and line."""
    path = write_config("model_list:\n" + entry)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(caught.value).replace(str(path), "x.yaml") == message


def test_deployment_repr_hides_key_and_headers(write_config: Write) -> None:
    """repr(deployment) shows neither the api_key nor extra header values."""
    deployment = one(
        write_config,
        "      model: openai/m\n      api_key: sk-live-123\n      extra_headers: {X-Auth: tok-456}\n",
    )
    assert "sk-live-123" not in repr(deployment)
    assert "tok-456" not in repr(deployment)


def test_deployment_is_hashable(write_config: Write) -> None:
    """Deployments can key a dict (cooldown state), hashed by deployment id."""
    deployment = one(write_config, "      model: mock/m\n")
    assert {deployment: 1}[deployment] == 1
