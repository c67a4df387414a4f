"""The policy's `teams:` section: where incidents declared in Microsoft Teams go when they
were declared from somewhere that cannot hold them (a personal chat, an alert), and where
Teams incidents are announced."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

# A Teams channel's id, as Teams shows it ("19:…@thread.tacv2").
TeamsChannelId = Annotated[str, PydanticField(pattern=r"^19:[^\s]+$", max_length=400)]


class TeamsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The channel a new incident's thread opens in when it was declared in a personal
    # or group chat (a thread needs a channel).
    incidents_channel: TeamsChannelId | None = None
    # Teams incidents are announced here (never in the Slack announce channel).
    announce_channel: TeamsChannelId | None = None
