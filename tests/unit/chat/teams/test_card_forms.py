"""Forms as Adaptive Cards: every form the bot opens is a card Teams accepts, and what
Teams sends back on submit reads as the values and context the core expects."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.chat.teams.card_forms import form_of_verb
from bot.chat.teams.cards import (
    CARD_CONTENT_TYPE,
    form_card,
    submitted_context,
    submitted_values,
)
from bot.inbound.forms import (
    FieldKind,
    Form,
    FormField,
    declare_form,
    diagnostics_picker,
    timeline_picker,
    update_form,
)
from bot.incidents.status import Status
from bot.policy.diagnostics import DiagnosticsPolicy
from bot.policy.schema import default_policy
from bot.postmortem.form import postmortem_form
from bot.storage.models import Incident, TimelineEntry, TimelineKind
from tests.support.adaptive_cards import activity_problems, card_problems

STARTED = datetime(2026, 11, 22, 14, 8, tzinfo=UTC)
POLICY = default_policy()
DIAGNOSTICS = DiagnosticsPolicy.model_validate(
    {
        "checks": [{"name": "api-health", "type": "http", "url": "https://api.example.com/"}],
        "runbooks": [
            {"name": "api", "title": "API down", "steps": [{"check": "api-health"}]},
        ],
    }
)


def incident(**overrides: Any) -> Incident:
    values: dict[str, Any] = dict(
        id=1,
        number=7,
        title="Checkout <!channel> **errors**",
        severity="SEV2",
        impact="Checkout fails",
        status=Status.MITIGATING,
        declared_by="29:1ann",
        started_at=STARTED,
        resolution="Rolled back",
    )
    values.update(overrides)
    return Incident(**values)


def update(minutes: int, text: str) -> TimelineEntry:
    return TimelineEntry(
        id=minutes,
        incident_id=1,
        kind=TimelineKind.UPDATE,
        at=STARTED + timedelta(minutes=minutes),
        actor="29:1ann",
        text=text,
    )


FORMS: dict[str, Callable[[], Form]] = {
    "declare": lambda: declare_form(POLICY, origin_channel="teams:3"),
    "update": lambda: update_form(incident(), POLICY),
    "timeline picker": lambda: timeline_picker(
        [incident(), incident(number=8, title="Other")],
        message={"channel_id": "teams:3", "ref": "1", "posted_at": STARTED},
    ),
    "diagnostics picker": lambda: diagnostics_picker(
        incident(), DIAGNOSTICS, origin_channel="teams:3"
    ),
    "postmortem": lambda: postmortem_form(
        incident(status=Status.RESOLVED), None, [update(5, "rolled **back**")]
    ),
}


def submission(card: dict[str, Any], answers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What Teams sends when the card's action is pressed: its verb, and its data with
    every input's value merged in by id (as text: what is typed, the chosen value,
    the toggle's valueOn or valueOff; an untouched input keeps its initial value)."""
    (action,) = card["actions"]
    data = dict(action["data"])
    for element in card["body"]:
        if not element["type"].startswith("Input."):
            continue
        if element["type"] == "Input.Toggle":
            on = answers.get(element["id"], element["value"] == element["valueOn"])
            data[element["id"]] = element["valueOn"] if on else element["valueOff"]
        else:
            data[element["id"]] = answers.get(element["id"], element.get("value", ""))
    return action["verb"], data


@pytest.mark.parametrize("make", FORMS.values(), ids=list(FORMS))
def test_every_form_is_a_card_teams_accepts(make: Callable[[], Form]) -> None:
    form = make()
    card = form_card(form)
    assert card_problems(card) == []
    activity = {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}],
    }
    assert activity_problems(activity) == []
    inputs = [element for element in card["body"] if element["type"].startswith("Input.")]
    assert [element["id"] for element in inputs] == [field.id for field in form.fields]
    assert all(element["label"] for element in inputs)


@pytest.mark.parametrize("make", FORMS.values(), ids=list(FORMS))
def test_a_form_left_as_it_opened_submits_its_initial_values(make: Callable[[], Form]) -> None:
    form = make()
    verb, data = submission(form_card(form), {})
    assert form_of_verb(verb) == form.id
    values = submitted_values(form.fields, data)
    for field in form.fields:
        match field.kind:
            case FieldKind.TOGGLE:
                assert values[field.id] is False
            case FieldKind.CHOICE:
                assert values[field.id] == field.initial
            case _:
                assert values[field.id] == (field.initial or "")
    assert submitted_context(data) == _as_json(form.context)


def test_the_declare_form_round_trips() -> None:
    form = declare_form(POLICY, origin_channel="teams:3")
    card = form_card(form)
    assert card["actions"] == [
        {
            "type": "Action.Execute",
            "title": "Declare",
            "verb": "form:incident.declare_form",
            "data": {"context": {"channel": "teams:3"}},
            "style": "positive",
        }
    ]
    title, severity, impact, private = card["body"][1:]
    assert title == {
        "type": "Input.Text",
        "id": "title",
        "maxLength": 200,
        "label": "Title",
        "placeholder": "Checkout errors",
        "isRequired": True,
        "errorMessage": "Title is required",
    }
    assert severity["type"] == "Input.ChoiceSet" and severity["style"] == "compact"
    assert severity["choices"][0] == {"title": "SEV1 · Complete outage", "value": "SEV1"}
    assert severity["isRequired"] is True and "value" not in severity
    assert "isRequired" not in impact
    assert private == {
        "type": "Input.Toggle",
        "id": "private",
        "title": "A private channel, never announced",
        "valueOn": "true",
        "valueOff": "false",
        "value": "false",
        "wrap": True,
        "label": "Private incident",
    }
    answers = {"title": "DB <down> **now**", "severity": "SEV1", "impact": "", "private": True}
    _, data = submission(card, answers)
    expected = {"title": "DB <down> **now**", "severity": "SEV1", "impact": "", "private": True}
    assert submitted_values(form.fields, data) == expected
    # Without the form's fields, the same: a toggle's "true" is its state.
    assert submitted_values(None, data) == expected
    assert submitted_context(data) == {"channel": "teams:3"}


def test_the_update_form_starts_from_the_incident() -> None:
    form = update_form(incident(), POLICY)
    status, impact, text, next_update = form_card(form)["body"][1:]
    assert status["value"] == "mitigating"
    assert impact["value"] == "Checkout fails"
    assert text["isMultiline"] is True and text["maxLength"] == 3000
    assert next_update["value"] == "30m" and next_update["isRequired"] is True


def test_the_postmortem_form_is_multiline_and_prefilled() -> None:
    form = postmortem_form(incident(status=Status.RESOLVED), None, [update(5, "rolled back")])
    body = form_card(form)["body"]
    assert body[0]["text"] == "Postmortem of INC-7"
    sections = body[1:]
    assert all(element["isMultiline"] for element in sections)
    assert all("isRequired" not in element for element in sections)
    assert "14:13 UTC rolled back" in sections[0]["value"]


def test_an_empty_choice_or_a_missing_input_reads_as_nothing_chosen() -> None:
    form = update_form(incident(), POLICY)
    values = submitted_values(form.fields, {"status": "", "text": "ok"})
    assert values == {"status": None, "impact": "", "text": "ok", "next": None}


def test_a_form_title_is_text_not_markup() -> None:
    form = Form(
        id="x",
        title="Update **INC-7** <at>x</at>",
        submit="Go",
        fields=(FormField("a", "A", FieldKind.TEXT),),
    )
    stars = "\u2217\u2217"  # look-alikes of **, which is markup
    assert (
        form_card(form)["body"][0]["text"] == f"Update {stars}INC-7{stars} <\u200bat>x<\u200b/at>"
    )


def test_context_that_json_cannot_say_comes_back_as_text() -> None:
    form = timeline_picker([incident()], message={"ref": "1", "posted_at": STARTED})
    _, data = submission(form_card(form), {"incident": "7"})
    assert submitted_context(data) == {
        "message": {"ref": "1", "posted_at": "2026-11-22 14:08:00+00:00"}
    }
    assert submitted_values(form.fields, data) == {"incident": "7"}


def test_data_that_is_no_forms_context_is_empty() -> None:
    assert submitted_context({"context": "nope"}) == {}
    assert submitted_context({}) == {}
    assert form_of_verb("incident.acknowledge") is None


def _as_json(context: Any) -> Any:
    return json.loads(json.dumps(dict(context), default=str))
