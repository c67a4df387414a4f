"""Settings: which way Slack is connected, the policy's secrets from `.env`, bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigurationError


@pytest.mark.parametrize(
    ("bot", "secret", "app", "mode"),
    [
        ("xoxb-1", "s", None, "http"),
        ("xoxb-1", None, "xapp-1", "socket"),  # Socket Mode needs no signing secret
        ("xoxb-1", "s", "xapp-1", "socket"),
        ("xoxb-1", None, None, None),
        (None, "s", "xapp-1", None),
    ],
)
def test_slack_mode(bot: str | None, secret: str | None, app: str | None, mode: str) -> None:
    settings = Settings(
        _env_file=None, slack_bot_token=bot, slack_signing_secret=secret, slack_app_token=app
    )
    assert settings.slack_mode == mode
    assert settings.slack_configured is (mode is not None)


def test_the_policy_secrets_are_read_from_dotenv_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "WARROOM_PD_KEY_ONCALL=from-the-file\nWARROOM_PAGE_SECRET=from-the-file\nEMPTY\n"
    )
    monkeypatch.setenv("WARROOM_PAGE_SECRET", "from-the-process")
    environ = Settings().secret_environment()
    assert environ["WARROOM_PD_KEY_ONCALL"] == "from-the-file"
    assert environ["WARROOM_PAGE_SECRET"] == "from-the-process"  # as for every setting
    assert "EMPTY" not in environ  # a name without a value is no secret
    assert "WARROOM_PD_KEY_ONCALL" not in Settings(_env_file=None).secret_environment()


def test_settings_read_from_another_dotenv_file_take_its_secrets(tmp_path: Path) -> None:
    path = tmp_path / "warroom.env"
    path.write_text("WARROOM_PD_KEY_ONCALL=k\nWARROOM_ANNOUNCE_CHANNEL=C0FILE\n")
    settings = Settings(_env_file=path)
    assert settings.announce_channel == "C0FILE"
    assert settings.secret_environment()["WARROOM_PD_KEY_ONCALL"] == "k"


def test_log_level_is_checked_and_upper_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_LOG_LEVEL", "debug")
    assert load_settings(_env_file=None).log_level == "DEBUG"
    monkeypatch.setenv("WARROOM_LOG_LEVEL", "loud")
    monkeypatch.setenv("WARROOM_TICK_SECONDS", "soon")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value) == (
        "WARROOM_TICK_SECONDS: Input should be a valid number, unable to parse string as a "
        "number (got 'soon'); "
        "WARROOM_LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'loud')"
    )
