"""Inbound adapters, one package per source: `handlers/slack/` today, Teams and alert
webhooks next. Each translates its payloads into the core's requests (`bot.inbound`).

`SLASH_COMMANDS`, `ACTION_IDS`, `SHORTCUTS` and `EVENTS` list everything the Slack glue
registers, so `manifest.yml` can be checked against the code.
"""

from bot.inbound.commands import COMMAND
from bot.inbound.dispatch import BUTTON_ACTIONS
from handlers.slack.events import EVENTS as SLACK_EVENTS
from handlers.slack.events import SHORTCUT

SLASH_COMMANDS: tuple[str, ...] = (COMMAND,)
ACTION_IDS: tuple[str, ...] = BUTTON_ACTIONS
SHORTCUTS: tuple[str, ...] = (SHORTCUT,)
EVENTS: tuple[str, ...] = tuple(sorted(SLACK_EVENTS))
