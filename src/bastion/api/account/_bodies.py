"""What ``/openapi.json`` says about the account API: each route's summary and request body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.gateway.credentials import ACCOUNT_PROVIDERS

__all__ = ["BODIES", "SUMMARIES"]

SUMMARIES = {
    ("POST", "/v2/login/access-token"): "Log in: an access token for email and password",
    ("GET", "/v2/users/me"): "The logged-in account",
    ("PATCH", "/v2/users/me/password"): "Change one's password",
    ("GET", "/v2/users/me/api-key-status"): "Which provider keys one has stored",
    ("PATCH", "/v2/users/me/api-key"): "Store one's own provider keys",
    ("DELETE", "/v2/users/me/api-key"): "Remove one's provider keys",
    ("GET", "/v2/users"): "Accounts, by page",
    ("POST", "/v2/users"): "Create an account",
    ("GET", "/v2/users/{user_id}"): "One account",
    ("PATCH", "/v2/users/{user_id}"): "Change an account",
    ("DELETE", "/v2/users/{user_id}"): "Deactivate an account",
    ("GET", "/v2/llm-models"): "Models one may chat with",
    ("POST", "/v2/llm/chat/completions"): "Chat (and keep the conversation)",
    ("POST", "/v2/llm/chat/completions/stream"): "Chat, streamed",
    ("GET", "/v2/llm/conversations"): "One's conversations",
    ("GET", "/v2/llm/conversations/{conversation_id}"): "One conversation and its messages",
    ("GET", "/v2/billing/usage/my-usage"): "One's usage",
    ("GET", "/v2/billing/usage/users"): "Every account's usage",
    ("GET", "/v2/admin/llm-keys"): "Which system provider keys are stored",
    ("PUT", "/v2/admin/llm-keys/{provider}"): "Store a system provider key",
    ("POST", "/v2/admin/llm-keys/{provider}/rotate"): "Replace a system provider key",
    ("DELETE", "/v2/admin/llm-keys/{provider}"): "Remove a system provider key",
}
_TEXT = {"type": "string"}
_CHAT = {
    "type": "object",
    "properties": {
        "model_id": _TEXT,
        "messages": {"type": "array", "items": {"type": "object"}},
        "conversation_id": _TEXT,
    },
    "additionalProperties": True,
}
BODIES: dict[tuple[str, str], Mapping[str, Any]] = {
    ("POST", "/v2/login/access-token"): {
        "type": "object",
        "description": "OAuth2's password flow: a form (application/x-www-form-urlencoded) or JSON.",
        "properties": {"username": {"type": "string", "description": "The email."}, "password": _TEXT},
        "required": ["username", "password"],
    },
    ("PATCH", "/v2/users/me/password"): {
        "type": "object",
        "properties": {"current_password": _TEXT, "new_password": _TEXT},
        "required": ["current_password", "new_password"],
    },
    ("PATCH", "/v2/users/me/api-key"): {
        "type": "object",
        "description": "A string stores the provider's key; null or an empty string removes it.",
        "properties": {f"{provider}_api_key": {"type": ["string", "null"]} for provider in ACCOUNT_PROVIDERS},
    },
    ("POST", "/v2/users"): {
        "type": "object",
        "properties": {
            "email": _TEXT,
            "password": _TEXT,
            "full_name": _TEXT,
            "is_superuser": {"type": "boolean"},
        },
        "required": ["email", "password"],
    },
    ("PATCH", "/v2/users/{user_id}"): {
        "type": "object",
        "properties": {
            "email": _TEXT,
            "full_name": _TEXT,
            "password": _TEXT,
            "is_active": {"type": "boolean"},
            "is_superuser": {"type": "boolean"},
        },
    },
    ("POST", "/v2/llm/chat/completions"): _CHAT,
    ("POST", "/v2/llm/chat/completions/stream"): _CHAT,
    ("PUT", "/v2/admin/llm-keys/{provider}"): {
        "type": "object",
        "properties": {"api_key": _TEXT},
        "required": ["api_key"],
    },
    ("POST", "/v2/admin/llm-keys/{provider}/rotate"): {
        "type": "object",
        "properties": {"api_key": _TEXT},
        "required": ["api_key"],
    },
}
