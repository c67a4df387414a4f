"""Our forms as Slack modals, and a submitted modal's values back in our terms."""

from __future__ import annotations

import json
from typing import Any

from bot.inbound.forms import Choice, FieldKind, Form, FormField

TITLE_LIMIT = 24
OPTION_TEXT_LIMIT = 75
METADATA_LIMIT = 3000
ACTION_ID = "value"


def _text(text: str, limit: int | None = None) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] if limit else text}


def _option(choice: Choice) -> dict[str, Any]:
    option: dict[str, Any] = {
        "text": _text(choice.label, OPTION_TEXT_LIMIT),
        "value": choice.value,
    }
    if choice.description:
        option["description"] = _text(choice.description, OPTION_TEXT_LIMIT)
    return option


def _element(field: FormField) -> dict[str, Any]:
    element: dict[str, Any]
    match field.kind:
        case FieldKind.TEXT | FieldKind.LONG_TEXT:
            element = {"type": "plain_text_input"}
            if field.kind is FieldKind.LONG_TEXT:
                element["multiline"] = True
            if field.max_length:
                element["max_length"] = field.max_length
            if field.initial:
                element["initial_value"] = field.initial
            if field.placeholder:
                element["placeholder"] = _text(field.placeholder, 150)
        case FieldKind.CHOICE:
            options = [_option(choice) for choice in field.choices]
            element = {"type": "static_select", "options": options}
            initial = next((o for o in options if o["value"] == field.initial), None)
            if initial is not None:
                element["initial_option"] = initial
        case FieldKind.TOGGLE:
            toggle = Choice(field.id, field.label, field.placeholder)
            element = {"type": "checkboxes", "options": [_option(toggle)]}
    element["action_id"] = ACTION_ID
    return element


def _label(field: FormField) -> str:
    # A checkbox carries its own label; the block's says what the choice is about.
    return "Visibility" if field.kind is FieldKind.TOGGLE else field.label


def to_modal(form: Form) -> dict[str, Any]:
    metadata = json.dumps(dict(form.context), default=str)
    if len(metadata) > METADATA_LIMIT:
        raise ValueError(f"form {form.id} carries {len(metadata)} characters of context")
    return {
        "type": "modal",
        "callback_id": form.id,
        "title": _text(form.title, TITLE_LIMIT),
        "submit": _text(form.submit, TITLE_LIMIT),
        "close": _text("Cancel"),
        "private_metadata": metadata,
        "blocks": [
            {
                "type": "input",
                "block_id": field.id,
                "label": _text(_label(field)),
                "element": _element(field),
                "optional": field.optional,
            }
            for field in form.fields
        ],
    }


def submitted_values(view: dict[str, Any]) -> dict[str, str | bool | None]:
    """Each input block's value: text, the chosen option's value, or a checkbox's state."""
    values: dict[str, str | bool | None] = {}
    state = view.get("state")
    blocks = state.get("values") if isinstance(state, dict) else None
    if not isinstance(blocks, dict):
        return values
    for block_id, actions in blocks.items():
        element = actions.get(ACTION_ID) if isinstance(actions, dict) else None
        if not isinstance(element, dict):
            continue
        if "selected_options" in element or element.get("type") == "checkboxes":
            values[str(block_id)] = bool(element.get("selected_options"))
        elif "selected_option" in element or element.get("type") == "static_select":
            chosen = element.get("selected_option")
            value = chosen.get("value") if isinstance(chosen, dict) else None
            values[str(block_id)] = str(value) if value is not None else None
        else:
            value = element.get("value")
            values[str(block_id)] = str(value) if value is not None else ""
    return values


def carried_context(view: dict[str, Any]) -> dict[str, Any]:
    """What the form carried (its private_metadata); empty if it is not ours or broken."""
    try:
        context = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        return {}
    return context if isinstance(context, dict) else {}
