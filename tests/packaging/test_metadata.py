"""What the project says about itself: licence, changelog, and a Slack manifest that
claims only what is built."""

from __future__ import annotations

import tomllib

import yaml

from tests.conftest import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_is_apache_2_in_full_and_in_the_metadata() -> None:
    text = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_the_changelog_keeps_an_unreleased_section() -> None:
    text = (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "[Keep a Changelog](https://keepachangelog.com/" in text
    assert "\n## [Unreleased]\n" in text
    assert "\n### Added\n" in text


def test_the_manifest_claims_only_what_is_built() -> None:
    manifest = yaml.safe_load((PROJECT_ROOT / "manifest.yml").read_text(encoding="utf-8"))
    shown = " ".join(
        (
            manifest["display_information"]["description"],
            manifest["display_information"]["long_description"],
            PYPROJECT["project"]["description"],
        )
    ).casefold()
    for not_yet in ("alert", "diagnostic", "postmortem", "teams", "review"):
        assert not_yet not in shown, f"the description promises {not_yet!r}"
