"""What Teams would refuse, or show wrongly, in a card or an activity: each problem a line.

Cards are checked against the vendored Adaptive Cards 1.5 schema (tests/specs/teams, its
own draft), plus what the schema leaves out and Teams needs: a top-level card says its
type and version, and its inputs have distinct ids. Activities are checked for their
size (ACTIVITY_LIMIT, as the Bot Connector counts it), their cards, and their mentions:
each mention entity's text occurs in the activity's text, and no `<at>` in the text is
left without an entity (which is what user text forging a mention would look like).
"""

from __future__ import annotations

import json
import re
import reprlib
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from jsonschema.exceptions import ValidationError, relevance
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from bot.chat.teams.cards import ACTIVITY_LIMIT, CARD_CONTENT_TYPE, activity_size
from tests.conftest import PROJECT_ROOT

SCHEMA_PATH = PROJECT_ROOT / "tests" / "specs" / "teams" / "adaptive-card-1.5.schema.json"
CARD_VERSION = "1.5"
_AT_MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 40, 40, 3, 3


@cache
def card_validator() -> Validator:
    """The schema's validator, for the draft the schema declares (draft-06)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator: Validator = validator_class(schema)
    return validator


def card_problems(card: Any) -> list[str]:
    """What is wrong with a top-level card; empty when Teams would render it."""
    if not isinstance(card, dict):
        return [f"a card is an object, not {_SHORT.repr(card)}"]
    errors = _leaves(card_validator().iter_errors(card))
    problems = list(dict.fromkeys(map(_describe, sorted(errors, key=relevance))))
    if card.get("type") != "AdaptiveCard":
        problems.append(f"type: {card.get('type')!r}, not 'AdaptiveCard'")
    if card.get("version") != CARD_VERSION:
        problems.append(f"version: {card.get('version')!r}, not {CARD_VERSION!r}")
    repeated = [name for name, count in Counter(_input_ids(card)).items() if count > 1]
    problems += [f"input id {name!r} is used more than once" for name in repeated]
    return problems


def activity_problems(activity: Any) -> list[str]:
    """What is wrong with a message activity sent to the Bot Connector."""
    if not isinstance(activity, dict):
        return [f"an activity is an object, not {_SHORT.repr(activity)}"]
    problems: list[str] = []
    if activity.get("type") != "message":
        problems.append(f"type: {activity.get('type')!r}, not 'message'")
    size = activity_size(activity)
    if size > ACTIVITY_LIMIT:
        problems.append(f"{size} bytes, over the limit of {ACTIVITY_LIMIT}")
    text = activity.get("text")
    if text is not None and not isinstance(text, str):
        problems.append("text: not a string")
        text = None
    attachments = activity.get("attachments") or []
    if not text and not attachments:
        problems.append("neither text nor attachments: Teams shows nothing")
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict):
            problems.append(f"attachments/{index}: not an object")
        elif attachment.get("contentType") == CARD_CONTENT_TYPE:
            content = attachment.get("content")
            problems += [f"attachments/{index}/content: {p}" for p in card_problems(content)]
    return problems + _mention_problems(activity.get("entities") or [], text or "")


def _mention_problems(entities: list[Any], text: str) -> list[str]:
    problems: list[str] = []
    mentioned: list[str] = []
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        who = entity.get("mentioned")
        if not isinstance(who, dict) or not who.get("id") or "name" not in who:
            problems.append(f"entities/{index}: a mention names no one (mentioned: id, name)")
        said = entity.get("text")
        if not isinstance(said, str) or not _AT_MENTION.fullmatch(said):
            problems.append(f"entities/{index}: text {said!r} is not <at>…</at>")
        elif said not in text:
            problems.append(f"entities/{index}: {said!r} does not occur in the text")
        else:
            mentioned.append(said)
    unclaimed = Counter(_AT_MENTION.findall(text))
    unclaimed.subtract(mentioned)
    problems += [
        f"text: {said!r} has no mention entity" for said, left in unclaimed.items() if left > 0
    ]
    return problems


def _input_ids(element: Any) -> Iterator[str]:
    """Every input's id, in the card and in the cards its actions show."""
    if isinstance(element, dict):
        if str(element.get("type", "")).startswith("Input.") and "id" in element:
            yield str(element["id"])
        for value in element.values():
            yield from _input_ids(value)
    elif isinstance(element, list):
        for value in element:
            yield from _input_ids(value)


def _leaves(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    """The errors that say what is wrong. The card, its elements and its actions are each
    an `anyOf` (of every kind, each checking `type` first): follow the one kind whose
    `type` matched, rather than report that the element is none of them."""
    for error in errors:
        if error.validator != "anyOf" or not error.context:
            yield error
            continue
        by_branch: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        matching = [branch for branch in by_branch.values() if not any(map(_wrong_kind, branch))]
        if len(matching) == 1:
            yield from _leaves(matching[0])
            continue
        if isinstance(error.instance, dict) and "type" in error.instance:
            error.message = f"no element or action has type {error.instance['type']!r}"
        yield error


def _wrong_kind(error: ValidationError) -> bool:
    return list(error.relative_path) == ["type"] and error.validator in ("enum", "const")


def _describe(error: ValidationError) -> str:
    message, whole = error.message, repr(error.instance)
    if len(whole) > 60:  # the whole instance would drown the reason
        message = message.replace(whole, _SHORT.repr(error.instance))
    path = "/".join(str(part) for part in error.absolute_path)
    return f"{path}: {message}" if path else message
