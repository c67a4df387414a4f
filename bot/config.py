"""Settings from the environment. Reading them does no I/O beyond the environment itself."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./warroom.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


class Settings(BaseSettings):
    """Everything a deployment sets through environment variables (or a `.env` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: str | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(
        default=DEFAULT_SLACK_API_URL, validation_alias="WARROOM_SLACK_API_URL"
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="WARROOM_DATABASE_URL")
    config_path: Path | None = Field(default=None, validation_alias="WARROOM_CONFIG")
    announce_channel: str | None = Field(default=None, validation_alias="WARROOM_ANNOUNCE_CHANNEL")
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

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    def missing_slack_settings(self) -> list[str]:
        present = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }
        return [name for name in SLACK_CREDENTIALS if not present[name]]
