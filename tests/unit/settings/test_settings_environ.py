"""os.environ/ references and value conversion: what is read from where, and what is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import Settings, load_settings

Write = Callable[..., Path]


def load(write_config: Write, text: str, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(write_config(text), environ=environ or {})


def error_of(write_config: Write, text: str, environ: dict[str, str] | None = None) -> str:
    path = write_config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ or {})
    return str(caught.value).replace(str(path.parent) + "/", "")


def entry(params: str) -> str:
    return f"model_list:\n  - model_name: g\n    litellm_params:\n      model: mock/m\n{params}"


@pytest.mark.parametrize("reference", ["os.environ/", "os.environ/TWO WORDS"])
def test_malformed_reference_is_rejected(write_config: Write, reference: str) -> None:
    """A reference with no name, or a name with spaces, says how to write one."""
    message = error_of(write_config, entry(f'      api_key: "{reference}"\n'))
    assert message == (
        f"config.yaml:5: model_list[0].litellm_params.api_key: '{reference}' is not a valid reference "
        "(write os.environ/VARIABLE_NAME)"
    )


def test_numbers_and_booleans_convert_from_environment(write_config: Write) -> None:
    """Numeric and boolean settings accept the strings environment variables hold."""
    settings = load(
        write_config,
        entry("      weight: os.environ/W\n      rpm: os.environ/R\n      drop_params: os.environ/D\n")
        + "litellm_settings:\n  drop_params: os.environ/D\n",
        {"W": "0.5", "R": " 60 ", "D": "True"},
    )
    deployment = settings.model_list[0]
    assert (deployment.weight, deployment.rpm, deployment.defaults["drop_params"]) == (0.5, 60, True)
    assert settings.drop_params is True


def test_literal_strings_are_not_converted(write_config: Write) -> None:
    """A quoted number written in the file is a type error: only environment values convert."""
    message = error_of(write_config, entry('      rpm: "60"\n'))
    assert message == "config.yaml:5: model_list[0].litellm_params.rpm: must be a whole number, got a string"


def test_whole_float_is_an_int_and_nan_is_not_a_number(write_config: Write) -> None:
    """``rpm: 10.0`` reads as 10; ``weight: .nan`` is refused."""
    assert load(write_config, entry("      rpm: 10.0\n")).model_list[0].rpm == 10
    message = error_of(write_config, entry("      weight: .nan\n"))
    assert message == "config.yaml:5: model_list[0].litellm_params.weight: must be a finite number, got nan"


def test_bad_boolean_word_from_environment(write_config: Write) -> None:
    """A variable that is not a boolean word is named in the error."""
    message = error_of(
        write_config, "litellm_settings:\n  drop_params: os.environ/D\n" + entry(""), {"D": "sure"}
    )
    assert message == (
        "config.yaml:2: litellm_settings.drop_params: must be true or false, got a string "
        "(from environment variable D)"
    )


def test_environment_variables_convert_scalars(write_config: Write) -> None:
    """environment_variables values may be numbers or booleans; they become strings."""
    text = "environment_variables:\n  N: 3\n  B: false\n" + entry(
        "      rpm: os.environ/N\n      stream: os.environ/B\n"
    )
    deployment = load(write_config, text).model_list[0]
    assert (deployment.rpm, deployment.defaults["stream"]) == (3, False)


def test_environment_variables_must_be_scalars(write_config: Write) -> None:
    """A list under environment_variables is rejected."""
    message = error_of(write_config, "environment_variables:\n  L: [1]\n" + entry(""))
    assert message == "config.yaml:2: environment_variables.L: must be a string, a number or true/false"


def test_environment_variables_win_over_process_environment(write_config: Write) -> None:
    """The file's environment_variables override the given environment, as LiteLLM sets them."""
    text = "environment_variables:\n  K: sk-file\n" + entry("      api_key: os.environ/K\n")
    key = load(write_config, text, {"K": "sk-process"}).model_list[0].api_key
    assert key is not None and key.reveal() == "sk-file"


def test_extra_headers_values_must_be_scalars(write_config: Write) -> None:
    """A header whose value is a list is rejected."""
    message = error_of(write_config, entry("      extra_headers:\n        X-A: [1]\n"))
    assert (
        message
        == "config.yaml:6: model_list[0].litellm_params.extra_headers.X-A: must be a string, got a list"
    )


def test_model_info_id_may_be_a_number_but_not_a_list(write_config: Write) -> None:
    """Numeric ids become strings; other types are refused."""
    assert load(write_config, entry("    model_info: {id: 7}\n")).model_list[0].deployment_id == "7"
    message = error_of(write_config, entry("    model_info: {id: [7]}\n"))
    assert message == "config.yaml:5: model_list[0].model_info.id: must be a string"


def test_include_entries_must_be_strings(write_config: Write) -> None:
    """``include`` must list file names."""
    message = error_of(write_config, entry("") + "include: [1]\n")
    assert message == "config.yaml:5: include[0]: must be a non-empty string, got a number"


def test_included_file_cannot_include(write_config: Write) -> None:
    """Includes do not nest."""
    write_config("include: [third.yaml]\n", name="second.yaml")
    message = error_of(write_config, entry("") + "include: [second.yaml]\n")
    assert message == "second.yaml:1: include: an included file cannot include others"


def test_include_adds_new_sections_and_skips_empty_ones(write_config: Write) -> None:
    """A section only the included file has is taken whole; empty ones change nothing."""
    write_config("litellm_settings:\n  drop_params: true\nrouter_settings:\n", name="more.yaml")
    settings = load(write_config, entry("") + "include: [more.yaml]\nrouter_settings:\n  num_retries: 4\n")
    assert (settings.drop_params, settings.num_retries) == (True, 4)


def test_include_scalar_clash(write_config: Write) -> None:
    """A section that is a list in one file and a mapping in the other is a clash."""
    write_config("router_settings: [1]\n", name="more.yaml")
    message = error_of(write_config, entry("") + "include: [more.yaml]\nrouter_settings:\n  num_retries: 4\n")
    assert message == "more.yaml:1: router_settings: also set in config.yaml:6"


def test_fallbacks_listed_twice(write_config: Write) -> None:
    """The same group given fallbacks twice is reported."""
    message = error_of(write_config, entry("") + "router_settings:\n  fallbacks: [{g: [g]}, {g: [g]}]\n")
    assert message == "config.yaml:6: router_settings.fallbacks[1].g: fallbacks for 'g' are listed twice"


def test_model_list_must_be_a_list(write_config: Write) -> None:
    """model_list written as a mapping is rejected with the expected shape."""
    message = error_of(write_config, "model_list:\n  g: mock/m\n")
    assert message == "config.yaml:1: model_list: must be a list (lines starting with '- '), got a mapping"


def test_redis_url_from_router_settings(write_config: Write) -> None:
    """router_settings.redis_url is used when bastion_settings has none."""
    settings = load(write_config, entry("") + "router_settings:\n  redis_url: rediss://r:6380\n")
    assert settings.bastion.redis_url == "rediss://r:6380"
