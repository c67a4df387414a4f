"""Our forms as Adaptive Cards, and a submitted card's values back in our terms.

The card's one Action.Execute carries the form's id in its verb ("form:<id>") and its
context in its data; Teams merges the inputs' values into that data, by input id (the
field ids), every value a string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.chat.teams.card_elements import adaptive_card, text_block
from bot.chat.teams.card_text import literal
from bot.inbound.forms import Choice, FieldKind, Form, FormField

FORM_VERB_PREFIX = "form:"
CONTEXT_KEY = "context"
TOGGLE_ON, TOGGLE_OFF = "true", "false"


def form_verb(form_id: str) -> str:
    return FORM_VERB_PREFIX + form_id


def form_of_verb(verb: str) -> str | None:
    """The form a submission's verb names; None for a button's verb."""
    return verb.removeprefix(FORM_VERB_PREFIX) if verb.startswith(FORM_VERB_PREFIX) else None


def _choice(choice: Choice) -> dict[str, Any]:
    # Input.Choice has no description line: it follows the label.
    title = f"{choice.label} · {choice.description}" if choice.description else choice.label
    return {"title": title, "value": choice.value}


def _input(field: FormField) -> dict[str, Any]:
    element: dict[str, Any]
    match field.kind:
        case FieldKind.TEXT | FieldKind.LONG_TEXT:
            element = {"type": "Input.Text", "id": field.id}
            if field.kind is FieldKind.LONG_TEXT:
                element["isMultiline"] = True
            if field.max_length:
                element["maxLength"] = field.max_length
            if field.initial:
                element["value"] = field.initial
        case FieldKind.CHOICE:
            element = {
                "type": "Input.ChoiceSet",
                "id": field.id,
                "style": "compact",
                "choices": [_choice(choice) for choice in field.choices],
            }
            if field.initial is not None and any(c.value == field.initial for c in field.choices):
                element["value"] = field.initial
        case FieldKind.TOGGLE:
            element = {
                "type": "Input.Toggle",
                "id": field.id,
                "title": field.placeholder or field.label,
                "valueOn": TOGGLE_ON,
                "valueOff": TOGGLE_OFF,
                "value": TOGGLE_ON if field.initial == TOGGLE_ON else TOGGLE_OFF,
                "wrap": True,
            }
    element["label"] = field.label
    if field.placeholder and field.kind is not FieldKind.TOGGLE:
        element["placeholder"] = field.placeholder
    # A toggle is answered either way: requiring one would require it on.
    if not field.optional and field.kind is not FieldKind.TOGGLE:
        element["isRequired"] = True
        element["errorMessage"] = f"{field.label} is required"
    return element


def form_card(form: Form) -> dict[str, Any]:
    """The form as a card: its title, an input per field, one action to submit."""
    # The context must survive JSON as the submission brings it back; what JSON cannot
    # say (a date) comes back as its text, as from a Slack modal.
    context = json.loads(json.dumps(dict(form.context), default=str))
    submit = {
        "type": "Action.Execute",
        "title": form.submit,
        "verb": form_verb(form.id),
        "data": {CONTEXT_KEY: context},
        "style": "positive",
    }
    title = text_block(literal(form.title), size="Medium", weight="Bolder", style="heading")
    return adaptive_card([title, *(_input(field) for field in form.fields)], [submit])


def _text_value(value: Any) -> str:
    return "" if value is None else str(value)


def _toggle_value(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == TOGGLE_ON)


def _untyped_value(value: Any) -> str | bool:
    if isinstance(value, bool) or value in (TOGGLE_ON, TOGGLE_OFF):
        return _toggle_value(value)
    return _text_value(value)


def submitted_values(
    form_fields: Sequence[FormField] | None, data: Mapping[str, Any]
) -> dict[str, str | bool | None]:
    """Each field's value from an Action.Execute's data: text ("" when left empty), the
    chosen value (None when none), a toggle's state.

    Without the form's fields, every input the data holds, as text; except "true" and
    "false", taken for a toggle's state, so that a private incident's toggle is never
    read as anything but on."""
    if form_fields is None:
        inputs = {key: value for key, value in data.items() if key != CONTEXT_KEY}
        return {str(key): _untyped_value(value) for key, value in inputs.items()}
    values: dict[str, str | bool | None] = {}
    for field in form_fields:
        value = data.get(field.id)
        match field.kind:
            case FieldKind.TOGGLE:
                values[field.id] = _toggle_value(value)
            case FieldKind.CHOICE:
                values[field.id] = _text_value(value) or None
            case FieldKind.TEXT | FieldKind.LONG_TEXT:
                values[field.id] = _text_value(value)
    return values


def submitted_context(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the form carried; empty if the data is not a form's or was tampered into
    another shape."""
    context = data.get(CONTEXT_KEY)
    return dict(context) if isinstance(context, dict) else {}
