"""Reading a Bot Framework activity defensively: who, where, what was typed (the bot's
own mention taken out, other people's mentions turned into our references)."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.text.markdown import REFERENCE

_AT = re.compile(r"<at>(.*?)</at>", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_COMMAND = "/incident"


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sender_id(activity: dict[str, Any]) -> str | None:
    """Who sent it, as warroom knows people in Teams: their Entra object id."""
    sender = as_dict(activity.get("from"))
    found = sender.get("aadObjectId") or sender.get("id")
    return str(found)[:64] if found else None


def command_text(activity: dict[str, Any]) -> str:
    """The command typed: `@warroom declare sev2 Checkout errors` → `declare sev2 …`."""
    # NUL is our placeholder below: none may come from outside (html.unescape never
    # makes one: "&#0;" reads as U+FFFD).
    text = str(activity.get("text") or "").replace("\x00", "")
    bot = str(as_dict(activity.get("recipient")).get("id") or "")
    people: dict[str, str] = {}
    for entity in activity.get("entities") or []:
        entity = as_dict(entity)
        if entity.get("type") != "mention":
            continue
        mentioned = as_dict(entity.get("mentioned"))
        shown = str(entity.get("text") or "")
        if mentioned.get("id") == bot:
            text = text.replace(shown, " ")
            continue
        who = mentioned.get("aadObjectId") or mentioned.get("id")
        if who and shown:
            people[shown] = f"<user:{str(who)[:120]}>"
    # Only a mention Teams made names someone: placeholders hold them while the rest of
    # the text is read, so a reference typed as text stays text.
    references = list(people.values())
    for index, shown in enumerate(people):
        text = text.replace(shown, f" \x00{index}\x00 ")
    # Mentions the entities did not explain, and any other markup Teams adds, are text.
    text = _AT.sub(lambda match: match.group(1), text)
    text = _inert(html.unescape(_TAGS.sub(" ", text)))
    text = re.sub(r"\x00(\d+)\x00", lambda match: references[int(match.group(1))], text)
    text = " ".join(text.split())
    if text.lower().startswith(_COMMAND):
        text = text[len(_COMMAND) :].strip()
    return text


def _inert(typed: str) -> str:
    """A reference typed as text (`&lt;user:U0BOSS&gt;`) names nobody: only a mention
    Teams made does. Its bracket becomes a look-alike, so it reads as typed."""
    return REFERENCE.sub(lambda match: "\u2039" + match.group(0)[1:], typed)


def invoke_action(activity: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """An `adaptiveCard/action` invoke's verb and data (None: not one)."""
    if activity.get("type") != "invoke" or activity.get("name") != "adaptiveCard/action":
        return None
    action = as_dict(as_dict(activity.get("value")).get("action"))
    verb = action.get("verb")
    if not isinstance(verb, str) or not verb:
        return None
    return verb, as_dict(action.get("data"))
