"""A configuration with several problems reports every one, in file order, each once."""

from __future__ import annotations

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import load_settings
from bastion.settings._problems import ConfigProblems
from bastion.settings.checks import deployments_without_credentials

MANY = """
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/UNSET_ONE
  - model_name: claude
    litelm_params: {model: anthropic/claude-sonnet-4-5}
  - model_name: gem
    litellm_params: {model: gemini/gemini-2.5-flash, weight: -1}
general_settings:
  master_key: os.environ/UNSET_TWO
  mastr_key: sk-typo
router_settings:
  num_retrys: 3
  fallbacks: [{gpt: [claude]}]
bastion_settings:
  port: 99999
  colour: blue
  static_keys:
    - key: sk-one
      models: [nope]
"""


def test_every_problem_is_reported_in_file_order(write_config) -> None:  # type: ignore[no-untyped-def]
    """Unset variables, typos, bad values and bad references in four sections: all of them."""
    path = write_config(MANY)
    with pytest.raises(ConfigProblems) as caught:
        load_settings(path, environ={})
    lines = [line.removeprefix(f"{path}:") for line in caught.value.lines]
    assert lines == [
        "5: model_list[0].litellm_params.api_key: environment variable UNSET_ONE is not set",
        "7: model_list[1].litelm_params: unknown key (did you mean 'litellm_params'?)",
        "9: model_list[2].litellm_params.weight: must be at least 0, got -1",
        "11: general_settings.master_key: environment variable UNSET_TWO is not set",
        "12: general_settings.mastr_key: unknown key (did you mean 'master_key'?)",
        "14: router_settings.num_retrys: unknown key (did you mean 'num_retries'?)",
        "17: bastion_settings.port: must be at most 65535, got 99999",
        "18: bastion_settings.colour: unknown key (expected one of: "
        + caught.value.lines[7].split("expected one of: ", 1)[1],
        "21: bastion_settings.static_keys[0].models[0]: 'nope' is not a model group in model_list "
        "(model groups: gpt, claude, gem)",
    ]
    assert str(caught.value) == "\n".join(caught.value.lines)


def test_one_problem_is_one_line(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("model_list:\n  - model_name: m\n    litellm_params: {model: mock/x, weight: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert not isinstance(caught.value, ConfigProblems)
    assert str(caught.value) == f"{path}:3: model_list[0].litellm_params.weight: must be at least 0, got -1"


def test_an_unset_variable_is_not_also_a_missing_key(write_config) -> None:  # type: ignore[no-untyped-def]
    """``model: os.environ/X`` unset is one problem, not two ("not set", then "is required")."""
    path = write_config(
        """
        model_list:
          - model_name: m
            litellm_params: {model: os.environ/MODEL_A}
          - model_name: n
            litellm_params: {model: os.environ/MODEL_B}
        """
    )
    with pytest.raises(ConfigProblems) as caught:
        load_settings(path, environ={})
    assert [line.split(": ", 2)[2] for line in caught.value.lines] == [
        "environment variable MODEL_A is not set",
        "environment variable MODEL_B is not set",
    ]


def test_hosted_deployments_without_any_key_are_found(write_config) -> None:  # type: ignore[no-untyped-def]
    """No api_key, no key variable, the provider's own service: a warning. A server of your own
    (api_base), a key from the environment or a key header: none."""
    path = write_config(
        """
        model_list:
          - model_name: claude
            litellm_params: {model: anthropic/claude-sonnet-4-5}
          - model_name: gem
            litellm_params: {model: gemini/gemini-2.5-flash}
          - model_name: local
            litellm_params: {model: openai/llama, api_base: "http://localhost:8000/v1"}
          - model_name: headers
            litellm_params: {model: openai/gpt-4o, extra_headers: {Authorization: Bearer x}}
          - model_name: mock
            litellm_params: {model: mock/x}
        """
    )
    settings = load_settings(path, environ={"GOOGLE_API_KEY": "g"})
    (warning,) = deployments_without_credentials(settings)
    assert warning.startswith(f"{path}: model_list[0] (claude, anthropic/claude-sonnet-4-5) has no api_key")
    assert "ANTHROPIC_API_KEY is not set" in warning
