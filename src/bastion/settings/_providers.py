"""LiteLLM provider prefixes: which wire protocol each speaks, its default base URL and key variable.

``litellm_params.model`` is ``<provider>/<upstream model>``; the prefix picks the protocol Bastion
uses (many hosted services are OpenAI-compatible), the default ``api_base`` and the environment
variable LiteLLM falls back to when no ``api_key`` is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from bastion.settings._where import Where

__all__ = ["PROVIDERS", "ProviderAlias", "normalize_api_base", "split_model"]


@dataclass(frozen=True, slots=True)
class ProviderAlias:
    """One accepted prefix. ``api_base`` None with ``protocol != "mock"`` means it is required."""

    name: str
    protocol: str
    api_base: str | None
    key_variables: tuple[str, ...] = ()


def _openai_compatible(name: str, api_base: str | None, *key_variables: str) -> ProviderAlias:
    return ProviderAlias(name, "openai", api_base, key_variables)


_ALL = (
    _openai_compatible("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    _openai_compatible("azure", None, "AZURE_API_KEY"),
    _openai_compatible("hosted_vllm", None, "HOSTED_VLLM_API_KEY"),
    _openai_compatible("vllm", None, "HOSTED_VLLM_API_KEY"),
    _openai_compatible("ollama", "http://localhost:11434/v1"),
    _openai_compatible("ollama_chat", "http://localhost:11434/v1"),
    _openai_compatible("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    _openai_compatible("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    _openai_compatible("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    _openai_compatible("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    _openai_compatible(
        "together_ai", "https://api.together.xyz/v1", "TOGETHERAI_API_KEY", "TOGETHER_API_KEY"
    ),
    _openai_compatible(
        "fireworks_ai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"
    ),
    _openai_compatible("xai", "https://api.x.ai/v1", "XAI_API_KEY"),
    ProviderAlias("anthropic", "anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",)),
    ProviderAlias(
        "gemini", "gemini", "https://generativelanguage.googleapis.com", ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    ),
    ProviderAlias("mock", "mock", None),
)

PROVIDERS = MappingProxyType({alias.name: alias for alias in _ALL})

# Known to LiteLLM, but they need request signing or other protocols Bastion does not speak yet.
_NOT_SUPPORTED_YET = frozenset(
    {
        "bedrock",
        "bedrock_converse",
        "sagemaker",
        "vertex_ai",
        "vertex_ai_beta",
        "azure_ai",
        "text-completion-openai",
        "cohere",
        "cohere_chat",
        "huggingface",
        "replicate",
        "watsonx",
        "databricks",
        "cloudflare",
        "palm",
    }
)

# LiteLLM infers these providers from bare model names; nothing else is guessed.
_INFERRED = (("gpt-", "openai"), ("claude-", "anthropic"), ("gemini-", "gemini"))


def split_model(model: str, custom_provider: str | None, where: Where) -> tuple[ProviderAlias, str]:
    """Split ``provider/model`` at the FIRST slash (OpenRouter ids contain slashes themselves).

    ``custom_provider`` is LiteLLM's ``custom_llm_provider`` param: it names the provider and the
    model string is then used whole (minus a repeated prefix).
    """
    if custom_provider is not None:
        prefix = custom_provider
        upstream = model.removeprefix(f"{custom_provider}/")
    elif "/" in model:
        prefix, upstream = model.split("/", 1)
    else:
        inferred = next((name for start, name in _INFERRED if model.startswith(start)), None)
        if inferred is None:
            raise where.error(
                f"model '{model}' has no provider prefix (write provider/model, e.g. openai/{model})"
            )
        prefix, upstream = inferred, model
    alias = PROVIDERS.get(prefix)
    if alias is None:
        if prefix in _NOT_SUPPORTED_YET:
            raise where.error(f"provider '{prefix}' is not supported yet (in '{model}')")
        known = ", ".join(sorted(PROVIDERS))
        raise where.error(f"unknown provider '{prefix}' in '{model}' (known: {known})")
    if not upstream.strip():
        raise where.error(f"'{model}' names no model after the provider prefix")
    return alias, upstream


def normalize_api_base(api_base: str, alias: ProviderAlias, where: Where) -> str:
    """Check the URL and bring it to the shape :class:`Deployment` documents for its protocol."""
    base = api_base.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise where.error("must be an http:// or https:// URL")
    if alias.protocol == "anthropic":
        # LiteLLM accepts the full messages URL here; Bastion's providers append the path themselves.
        base = base.removesuffix("/v1/messages").removesuffix("/v1")
    elif alias.protocol == "gemini":
        base = base.removesuffix("/v1beta")
    elif alias.name in ("ollama", "ollama_chat") and not base.endswith("/v1"):
        # LiteLLM's Ollama base is the server root; Bastion talks to its OpenAI-compatible /v1 API.
        base = f"{base}/v1"
    return base
