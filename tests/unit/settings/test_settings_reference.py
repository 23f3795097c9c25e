"""The configuration reference in docs/configuration.md is the one list of known keys, rendered."""

from __future__ import annotations

import re
from pathlib import Path

from bastion.settings import _deployments, reference
from bastion.settings._known_keys import LITELLM_PARAMS, SECTIONS

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "configuration.md"
SOURCES = [
    path
    for path in (ROOT / "src" / "bastion").rglob("*.py")
    if path.name not in ("_known_keys.py", "_known_bastion_keys.py", "_key_types.py", "reference.py")
]


def test_the_page_holds_the_reference_generated_from_the_list() -> None:
    """Adding, removing or changing a key without `make docs` fails here."""
    page = PAGE.read_text(encoding="utf-8")
    assert reference.updated(page) == page, "docs/configuration.md is stale: run `make docs`"


def test_every_section_and_key_is_in_the_reference() -> None:
    text = reference.render()
    for section in SECTIONS:
        assert f"### `{section.path}`" in text
        for key in section.keys:
            for name in key.names:
                assert f"`{name}`" in text, (section.path, name)


def test_every_key_said_to_be_acted_on_is_read_by_the_code() -> None:
    """A key marked "acts on: yes" is named by some reader (as a string), not only by the list."""
    code = "\n".join(path.read_text(encoding="utf-8") for path in SOURCES)
    read = set(re.findall(r"[\"']([a-z_]+)[\"']", code))
    unread = [
        f"{section.path}.{name}"
        for section in SECTIONS
        for key in section.keys
        if key.acted_on
        for name in key.names
        if name not in read
    ]
    assert unread == []


def test_every_typed_deployment_parameter_is_documented() -> None:
    """``litellm_params`` is open-ended, but each key the reader types or checks has a row."""
    typed = _deployments._TYPED_PARAMS | set(_deployments._DEFAULT_CHECKS)
    assert typed - LITELLM_PARAMS.names == set()


def test_the_check_mode_reports_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(f"# Configuration\n\n{reference.BEGIN}\nold\n{reference.END}\n")
    assert reference.main(["--check", str(stale)]) == 1
    assert reference.main([str(stale)]) == 0
    assert reference.main(["--check", str(stale)]) == 0
    assert "### `general_settings`" in stale.read_text()
