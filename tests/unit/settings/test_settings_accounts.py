"""``bastion_settings.accounts`` and the account variables of the environment."""

from __future__ import annotations

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import load_settings

KEY = "k" * 32
BASE = """
model_list:
  - model_name: m
    litellm_params: {model: mock/echo}
"""


def test_defaults_and_environment(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(BASE)
    accounts = load_settings(path, environ={}).bastion.accounts
    assert (accounts.user_keys, accounts.encryption_keys, accounts.first_superuser) == ("optional", (), None)
    env = {
        "FIRST_SUPERUSER": "Admin@Example.com",
        "FIRST_SUPERUSER_PASSWORD": "pw",
        "ENCRYPTION_KEY": "n" * 32,
        "ENCRYPTION_KEYS": f"{'o' * 32}, {'n' * 32}",
        "BASTION_JWT_SECRET": "j" * 40,
    }
    accounts = load_settings(path, environ=env).bastion.accounts
    assert accounts.first_superuser == "admin@example.com"
    assert [k.reveal() for k in accounts.encryption_keys] == ["n" * 32, "o" * 32]
    assert accounts.jwt_secret is not None and "j" not in repr(accounts)


def test_file_settings_win(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        BASE
        + f"""
bastion_settings:
  accounts:
    user_keys: disabled
    encryption_keys: [{"a" * 32}, {"b" * 32}]
    access_token_minutes: 5
    login_max_failures: 2
"""
    )
    accounts = load_settings(path, environ={"ENCRYPTION_KEY": KEY}).bastion.accounts
    assert accounts.user_keys == "disabled" and accounts.access_token_minutes == 5
    assert [k.reveal() for k in accounts.encryption_keys] == ["a" * 32, "b" * 32]


@pytest.mark.parametrize(
    ("accounts", "environ", "message"),
    [
        ("{user_keys: sometimes}", {}, "must be one of: optional, disabled, required"),
        (
            "{}",
            {"ENCRYPTION_KEY": "short"},
            "at least 32 characters (from environment variable ENCRYPTION_KEY)",
        ),
        ("{}", {"FIRST_SUPERUSER": "a@b.c"}, "needs a password too"),
        ("{first_superuser: admin, first_superuser_password: x}", {}, "must be an email address"),
        ("{jwt_secret: short}", {}, "JWT signing secret must be at least 32"),
        ("{colour: blue}", {}, "unknown key"),
    ],
)
def test_mistakes_are_reported(write_config, accounts: str, environ: dict[str, str], message: str) -> None:  # type: ignore[no-untyped-def]
    path = write_config(BASE + f"bastion_settings:\n  accounts: {accounts}\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(path, environ=environ)
