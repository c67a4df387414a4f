"""Settings from the environment. Reading them does no I/O beyond the environment itself
and the `.env` file of the working directory."""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///./warroom.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_ENV_FILE = ".env"
SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# How Slack reaches this process: it connects out over Socket Mode, or Slack posts signed
# HTTP requests to /slack/events.
SlackMode = Literal["socket", "http"]


class Settings(BaseSettings):
    """Everything a deployment sets through environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(
        env_file=DEFAULT_ENV_FILE, extra="ignore", populate_by_name=True
    )

    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(
        default=DEFAULT_SLACK_API_URL, validation_alias="WARROOM_SLACK_API_URL"
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="WARROOM_DATABASE_URL")
    config_path: Path | None = Field(default=None, validation_alias="WARROOM_CONFIG")
    announce_channel: str | None = Field(default=None, validation_alias="WARROOM_ANNOUNCE_CHANNEL")
    # Templates found here win over the packaged ones of the same name.
    templates_dir: Path | None = Field(default=None, validation_alias="WARROOM_TEMPLATES_DIR")
    # The safety net: how often each process looks for due timers and deliveries besides
    # waking at the next known deadline and after each commit (other processes' changes
    # on a shared Postgres are learnt this way).
    tick_seconds: float = Field(
        default=0.5, gt=0, validation_alias=AliasChoices("WARROOM_TICK_SECONDS")
    )
    # How long a claimed delivery stays claimed without a renewal (a crash frees it after).
    delivery_lease_seconds: float = Field(
        default=15.0, ge=1, validation_alias="WARROOM_DELIVERY_LEASE_SECONDS"
    )
    log_level: str = Field(default="INFO", validation_alias="WARROOM_LOG_LEVEL")
    # JSON lines or text (bot/observability/logs.py); unset: JSON unless stderr is a terminal.
    log_format: Literal["json", "text"] | None = Field(None, validation_alias="WARROOM_LOG_FORMAT")
    # The bearer token alert sources send (each source may have its own, named in the
    # policy); without any, the alert webhooks answer 503 rather than accept anyone.
    alert_token: str | None = Field(default=None, validation_alias="WARROOM_ALERT_TOKEN")
    # The web view (/web, bot/web): a token typed once at /web/login (or sent as a bearer
    # token), and/or the header an authenticating proxy sets to the signed-in person's
    # email. Neither set: /web answers 503 saying how to turn it on. Never logged.
    # (No length rule here: a refusal would quote the value; bot/web warns of a short one.)
    web_token: str | None = Field(default=None, repr=False, validation_alias="WARROOM_WEB_TOKEN")
    web_trusted_header: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]+$", validation_alias="WARROOM_WEB_TRUSTED_HEADER"
    )
    # The least time between two new messages in one channel (Slack's own limit is about
    # one per second); 0 turns pacing off.
    post_interval_seconds: float = Field(
        default=1.0, ge=0, le=60, validation_alias="WARROOM_POST_INTERVAL_SECONDS"
    )

    # Microsoft Teams (bot.chat.teams): on when the bot's app id is set; anonymous only for
    # a local trial (no token checked or sent), never together with an app id.
    teams_app_id: str | None = Field(default=None, validation_alias="WARROOM_TEAMS_APP_ID")
    teams_app_password: str | None = Field(
        default=None, validation_alias="WARROOM_TEAMS_APP_PASSWORD"
    )
    teams_tenant_id: str | None = Field(default=None, validation_alias="WARROOM_TEAMS_TENANT_ID")
    teams_anonymous: bool = Field(default=False, validation_alias="WARROOM_TEAMS_ANONYMOUS")
    teams_openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        validation_alias="WARROOM_TEAMS_OPENID_METADATA_URL",
    )
    # None: Microsoft Entra's token endpoint of the tenant (bot.chat.teams.auth).
    teams_token_url: str | None = Field(default=None, validation_alias="WARROOM_TEAMS_TOKEN_URL")
    teams_graph_url: str = Field(
        default="https://graph.microsoft.com/v1.0", validation_alias="WARROOM_TEAMS_GRAPH_URL"
    )

    # The dotenv file(s) these settings were read from: the policy's secrets come from there too.
    _env_files: tuple[Path, ...] = PrivateAttr(default=())

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        chosen = values.get("_env_file", self.model_config.get("env_file"))
        self._env_files = _as_paths(chosen)

    @field_validator("web_token", "web_trusted_header", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @property
    def web_enabled(self) -> bool:
        return self.web_token is not None or self.web_trusted_header is not None

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id) or self.teams_anonymous

    def teams_problem(self) -> str | None:
        """Why these Teams settings cannot be used (None: they can)."""
        if self.teams_anonymous and self.teams_app_id:
            return (
                "WARROOM_TEAMS_ANONYMOUS=true is for a local trial without credentials: "
                "it cannot be combined with WARROOM_TEAMS_APP_ID"
            )
        if self.teams_app_id and not self.teams_app_password:
            return "WARROOM_TEAMS_APP_ID is set: WARROOM_TEAMS_APP_PASSWORD is needed too"
        return None

    @property
    def slack_mode(self) -> SlackMode | None:
        """Socket Mode whenever there is an app token (no signing secret needed: Slack
        never calls in); HTTP events with a signing secret; None without a bot token."""
        if not self.slack_bot_token:
            return None
        if self.slack_app_token:
            return "socket"
        return "http" if self.slack_signing_secret else None

    @property
    def slack_configured(self) -> bool:
        return self.slack_mode is not None

    def missing_slack_settings(self) -> list[str]:
        """What HTTP events at /slack/events still need."""
        present = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        return [name for name in SLACK_CREDENTIALS if not present[name]]

    def slack_summary(self) -> str:
        """One line on Slack: which way it is connected, or what to set for either way."""
        if self.slack_mode == "http":
            return "Slack: HTTP events at /slack/events (SLACK_SIGNING_SECRET verifies them)"
        if self.slack_mode == "socket":
            http = (
                "also accepts signed HTTP requests"
                if self.slack_signing_secret
                else "answers 503 (no SLACK_SIGNING_SECRET)"
            )
            return f"Slack: Socket Mode (SLACK_APP_TOKEN); /slack/events {http}"
        socket = ["SLACK_BOT_TOKEN"] if not self.slack_bot_token else []
        socket += ["SLACK_APP_TOKEN"]
        return (
            f"Slack is not configured: set {' and '.join(self.missing_slack_settings())} "
            f"(HTTP events at /slack/events), or {' and '.join(socket)} (Socket Mode)"
        )

    def secret_environment(self) -> Mapping[str, str]:
        """Where the secrets the policy names (`routing_key_env`, `secret_env`) are looked
        up: the `.env` file these settings read, under the process environment, which wins
        as it does for every setting (and is looked up live, as before)."""
        from_files: dict[str, str] = {}
        for path in self._env_files:  # a later file wins, as in pydantic-settings
            from_files.update(
                (name, value) for name, value in dotenv_values(path).items() if value is not None
            )
        return ChainMap(os.environ, from_files)


def load_settings(**values: Any) -> Settings:
    """Settings, or a ConfigurationError naming each variable that cannot be used."""
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc'])}: "
            f"{error['msg'].removeprefix('Value error, ')} (got {error.get('input')!r})"
            for error in exc.errors()
        ]
        raise ConfigurationError("; ".join(problems)) from exc
    problem = settings.teams_problem()
    if problem is not None:
        raise ConfigurationError(problem)
    return settings


def _as_paths(chosen: Any) -> tuple[Path, ...]:
    """pydantic-settings takes one file, several, or None."""
    if chosen is None:
        return ()
    if isinstance(chosen, str | Path):
        return (Path(chosen),)
    if isinstance(chosen, Sequence):
        return tuple(Path(item) for item in chosen)
    return ()
