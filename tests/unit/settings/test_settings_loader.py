"""load_settings: the example configs, environment handling, includes and file-level errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.domain.secret import Secret
from bastion.settings import Settings, load_settings

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PROLIFERATE_ENV = {
    "LITELLM_MASTER_KEY": "sk-proliferate-master",
    "DATABASE_URL": "postgresql://bastion:hunter2@db:5432/app",
    "ANTHROPIC_API_KEY": "sk-ant-real-provider-key",
}
MINIMAL = """
    model_list:
      - model_name: m
        litellm_params:
          model: mock/echo
"""

Write = Callable[..., Path]


def error_of(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ or {})
    return str(caught.value)


def test_demo_example_loads_offline() -> None:
    """examples/demo.yaml loads with an empty environment: three mock groups, master and static key."""
    settings = load_settings(EXAMPLES / "demo.yaml", environ={})
    assert settings.group_names() == ["mock-gpt", "mock-claude", "mock-gemini"]
    assert {d.provider for d in settings.model_list} == {"mock"}
    assert settings.master_key == Secret("sk-bastion-demo")
    assert settings.drop_params is True
    assert (settings.num_retries, settings.timeout) == (2, 300.0)
    (static,) = settings.bastion.static_keys
    assert (static.key.reveal(), static.models) == ("sk-demo-user", ())


def test_proliferate_example_loads_with_its_environment() -> None:
    """The seed's LiteLLM config loads unchanged once its three variables are set."""
    settings = load_settings(EXAMPLES / "proliferate.yaml", environ=PROLIFERATE_ENV)
    sonnet = settings.model_groups["anthropic/claude-sonnet-4-5"][0]
    assert (sonnet.provider, sonnet.model) == ("anthropic", "claude-sonnet-4-5-20250929")
    assert sonnet.api_key == Secret("sk-ant-real-provider-key")
    assert sonnet.api_base == "https://api.anthropic.com"
    assert settings.master_key == Secret("sk-proliferate-master")
    assert settings.database_url == PROLIFERATE_ENV["DATABASE_URL"]
    assert (settings.num_retries, settings.retry_after, settings.timeout) == (2, 1.0, 300.0)
    assert settings.litellm["set_verbose"] is False


def test_proliferate_example_names_the_missing_variable() -> None:
    """Without DATABASE_URL the error names file, line, key path and variable."""
    env = {k: v for k, v in PROLIFERATE_ENV.items() if k != "DATABASE_URL"}
    message = error_of(EXAMPLES / "proliferate.yaml", env)
    assert message == (
        f"{EXAMPLES / 'proliferate.yaml'}:3: general_settings.database_url: "
        "environment variable DATABASE_URL is not set"
    )


def test_repr_never_shows_secrets() -> None:
    """No provider key, master key or database password appears in repr(settings)."""
    settings = load_settings(EXAMPLES / "proliferate.yaml", environ=PROLIFERATE_ENV)
    text = repr(settings)
    for secret in (*PROLIFERATE_ENV.values(), "hunter2"):
        assert secret not in text
    assert "Secret('**********')" in text


def test_settings_are_frozen(write_config: Write) -> None:
    """Settings cannot be changed after the load, nor can its mappings."""
    settings = load_settings(write_config(MINIMAL), environ={})
    with pytest.raises(AttributeError):
        settings.timeout = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.model_groups["x"] = ()  # type: ignore[index]


def test_default_environ_is_os_environ(write_config: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``environ`` the process environment resolves os.environ/ references."""
    monkeypatch.setenv("BASTION_TEST_KEY", "sk-from-process")
    path = write_config(MINIMAL + "    general_settings:\n      master_key: os.environ/BASTION_TEST_KEY\n")
    assert load_settings(path).master_key == Secret("sk-from-process")


def test_environment_variables_section_feeds_references_without_touching_os_environ(
    write_config: Write,
) -> None:
    """environment_variables values resolve os.environ/ references but os.environ is unchanged."""
    path = write_config(
        """
        environment_variables:
          UPSTREAM_KEY: sk-upstream
          RETRIES: 4
          INNER: os.environ/OUTER
        model_list:
          - model_name: m
            litellm_params:
              model: openai/gpt-4o
              api_key: os.environ/UPSTREAM_KEY
              api_base: os.environ/INNER
        router_settings:
          num_retries: os.environ/RETRIES
        """
    )
    settings = load_settings(path, environ={"OUTER": "http://inner.test/v1"})
    deployment = settings.model_list[0]
    assert deployment.api_key == Secret("sk-upstream")
    assert deployment.api_base == "http://inner.test/v1"
    assert settings.num_retries == 4
    assert "UPSTREAM_KEY" not in os.environ


def test_env_reference_that_is_not_a_number_is_reported(write_config: Write) -> None:
    """A numeric setting read from a variable that holds no number names the variable."""
    path = write_config(MINIMAL + "    router_settings:\n      num_retries: os.environ/RETRIES\n")
    assert error_of(path, {"RETRIES": "many"}) == (
        f"{path}:6: router_settings.num_retries: must be a whole number, got a string "
        "(from environment variable RETRIES)"
    )


def test_empty_environment_variable_is_an_error(write_config: Write) -> None:
    """A variable set to the empty string is reported rather than used as a blank key."""
    path = write_config(MINIMAL.replace("mock/echo", "openai/gpt-4o\n          api_key: os.environ/K"))
    assert error_of(path, {"K": ""}).endswith(
        ":5: model_list[0].litellm_params.api_key: environment variable K is empty"
    )


def test_master_key_must_start_with_sk(write_config: Write) -> None:
    """A master key without the sk- prefix is rejected with LiteLLM's rule named."""
    path = write_config(MINIMAL + "    general_settings:\n      master_key: secret123\n")
    assert error_of(path) == (
        f"{path}:6: general_settings.master_key: the master key must start with 'sk-' (LiteLLM's rule)"
    )


@pytest.mark.parametrize("variable", ["BASTION_MASTER_KEY", "LITELLM_MASTER_KEY"])
def test_master_key_from_environment(write_config: Write, variable: str) -> None:
    """With no master_key in the file, BASTION_MASTER_KEY or LITELLM_MASTER_KEY supplies it."""
    settings = load_settings(write_config(MINIMAL), environ={variable: "sk-env-master"})
    assert settings.master_key == Secret("sk-env-master")


def test_bastion_master_key_wins_over_litellm_one(write_config: Write) -> None:
    """BASTION_MASTER_KEY is preferred when both variables are set."""
    env = {"BASTION_MASTER_KEY": "sk-bastion", "LITELLM_MASTER_KEY": "sk-litellm"}
    assert load_settings(write_config(MINIMAL), environ=env).master_key == Secret("sk-bastion")


def test_master_key_from_environment_is_checked(write_config: Write) -> None:
    """A bad master key from the environment names the variable it came from."""
    path = write_config(MINIMAL)
    assert error_of(path, {"LITELLM_MASTER_KEY": "nope"}) == (
        f"{path}: general_settings.master_key: the master key must start with 'sk-' (LiteLLM's rule) "
        "(from environment variable LITELLM_MASTER_KEY)"
    )


def test_no_master_key_and_database_url_from_environment(write_config: Write) -> None:
    """Without a master key the field is None; DATABASE_URL fills database_url."""
    settings = load_settings(write_config(MINIMAL), environ={"DATABASE_URL": "sqlite:///bastion.db"})
    assert settings.master_key is None
    assert settings.database_url == "sqlite:///bastion.db"


def test_unknown_top_level_key_suggests_the_right_one(write_config: Write) -> None:
    """A misspelt section is reported with a did-you-mean."""
    path = write_config(MINIMAL + "    litelm_settings:\n      drop_params: true\n")
    assert error_of(path) == f"{path}:5: litelm_settings: unknown key (did you mean 'litellm_settings'?)"


def test_unknown_key_without_close_match(write_config: Write) -> None:
    """A key nobody knows is rejected even when no known key is close."""
    path = write_config(MINIMAL + "    general_settings:\n      zzz_qqq: 1\n")
    assert (
        error_of(path)
        == f"{path}:6: general_settings.zzz_qqq: unknown key (not a LiteLLM or Bastion setting)"
    )


def test_litellm_keys_bastion_does_not_implement_are_accepted(write_config: Write) -> None:
    """Documented LiteLLM keys load (kept in the raw sections) even if Bastion ignores them."""
    path = write_config(
        MINIMAL
        + """
    general_settings:
      proxy_batch_write_at: 60
      alerting: [slack]
    litellm_settings:
      success_callback: [langfuse]
      cache: true
      cache_params: {type: redis, host: localhost}
    router_settings:
      enable_pre_call_checks: true
    guardrails: []
    """
    )
    settings = load_settings(path, environ={})
    assert settings.general["proxy_batch_write_at"] == 60
    assert settings.general["alerting"] == ("slack",)
    assert settings.litellm["cache_params"]["type"] == "redis"


def test_model_list_is_required(write_config: Write) -> None:
    """A config without model_list says so."""
    path = write_config("general_settings:\n  master_key: sk-1\n")
    assert error_of(path) == f"{path}: model_list: is required (the models this gateway serves)"


def test_empty_model_list_is_an_error(write_config: Write) -> None:
    """A gateway with no models is useless, so an empty model_list is rejected."""
    path = write_config("model_list: []\n")
    assert error_of(path) == f"{path}:1: model_list: is empty (a gateway needs at least one model)"


def test_empty_file_is_an_error(write_config: Write) -> None:
    """An empty file is reported as such."""
    path = write_config("# nothing yet\n")
    assert error_of(path) == f"{path}: the file is empty (it needs at least a model_list)"


def test_top_level_must_be_a_mapping(write_config: Write) -> None:
    """A file whose top level is a list is rejected."""
    path = write_config("- model_name: m\n")
    assert "the top level must be a mapping" in error_of(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A path that does not exist gives a ConfigError naming it."""
    assert error_of(tmp_path / "absent.yaml") == f"{tmp_path / 'absent.yaml'}: file not found"


def test_include_concatenates_model_lists_and_merges_sections(write_config: Write) -> None:
    """Included files add their deployments after the root's and their settings keys."""
    write_config(
        """
        model_list:
          - model_name: extra
            litellm_params:
              model: mock/extra
        router_settings:
          num_retries: 5
        """,
        name="more.yaml",
    )
    path = write_config(
        MINIMAL + "    include:\n      - more.yaml\n    router_settings:\n      timeout: 30\n"
    )
    settings = load_settings(path, environ={})
    assert settings.group_names() == ["m", "extra"]
    assert (settings.num_retries, settings.timeout) == (5, 30.0)


def test_errors_in_included_files_name_that_file(write_config: Write) -> None:
    """A problem inside an included file points at the included file's own line."""
    included = write_config(
        """
        model_list:
          - model_name: extra
            litellm_params:
              model: nowhere/x
        """,
        name="more.yaml",
    )
    path = write_config(MINIMAL + "    include: [more.yaml]\n")
    assert error_of(path).startswith(f"{included}:4: model_list[1].litellm_params.model: unknown provider")


def test_include_clash_is_an_error(write_config: Write) -> None:
    """The same setting in the root and an included file is reported, not silently overridden."""
    included = write_config("router_settings:\n  timeout: 5\n", name="more.yaml")
    path = write_config(MINIMAL + "    include: [more.yaml]\n    router_settings:\n      timeout: 30\n")
    assert error_of(path) == f"{included}:2: router_settings.timeout: also set in {path}:7"


def test_missing_include_is_reported(write_config: Write) -> None:
    """An include that does not exist names the missing file."""
    path = write_config(MINIMAL + "    include: [gone.yaml]\n")
    assert error_of(path) == f"{path.parent / 'gone.yaml'}: file not found"


def test_load_returns_settings_with_source(write_config: Write) -> None:
    """The Settings remembers which file it came from."""
    path = write_config(MINIMAL)
    settings = load_settings(str(path), environ={})
    assert isinstance(settings, Settings)
    assert settings.source == path


def test_data_dir_defaults_to_the_config_directory_and_can_be_moved(write_config: Write) -> None:
    """Containers mount the config read-only: the SQLite file and the spend journal can live elsewhere."""
    path = write_config(MINIMAL)
    assert load_settings(path, environ={}).data_dir is None  # the app uses the config's directory
    assert load_settings(path, environ={"BASTION_DATA_DIR": "/var/lib/bastion"}).data_dir == Path(
        "/var/lib/bastion"
    )
    relative = write_config(
        MINIMAL + "\n    bastion_settings:\n      data_dir: state\n", name="relative.yaml"
    )
    assert load_settings(relative, environ={"BASTION_DATA_DIR": "/ignored"}).data_dir == (
        relative.resolve().parent / "state"
    )
