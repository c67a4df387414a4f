"""Inbound adapters: each module registers its listeners on a Bolt app with `register()`.

`SLASH_COMMANDS`, `ACTION_IDS`, `SHORTCUTS` and `EVENTS` list everything registered, so
`manifest.yml` can be checked against the code.
"""

from bot.inbound.commands import COMMAND
from bot.incidents.cards import (
    ACKNOWLEDGE_ACTION,
    ESCALATE_ACTION,
    POST_UPDATE_ACTION,
    RESOLVE_ACTION,
)

SLASH_COMMANDS: tuple[str, ...] = (COMMAND,)
ACTION_IDS: tuple[str, ...] = (
    ACKNOWLEDGE_ACTION,
    POST_UPDATE_ACTION,
    ESCALATE_ACTION,
    RESOLVE_ACTION,
)
SHORTCUTS: tuple[str, ...] = ("incident.add_to_timeline",)
EVENTS: tuple[str, ...] = ("pin_added", "pin_removed", "reaction_added", "reaction_removed")
