"""The forms: declare an incident, post a status update. Opened from a command or a
button; their submissions are validated field by field before anything is stored."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.blocks import slack_escape, to_mrkdwn
from bot.errors import UnknownSeverity, UserError
from bot.incidents.access import IncidentRef
from bot.incidents.cards import POST_UPDATE_ACTION
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import Status, incident_key
from bot.policy.schema import Policy
from bot.storage.models import Incident
from bot.text.durations import format_duration, parse_duration

log = logging.getLogger(__name__)

DECLARE_VIEW = "incident.declare_form"
UPDATE_VIEW = "incident.update_form"
NEXT_UPDATE_CHOICES = ("10m", "15m", "30m", "1h", "2h", "4h")


def _text(text: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": kind, "text": text}


def _option(value: str, label: str, description: str = "") -> dict[str, Any]:
    option: dict[str, Any] = {"text": _text(label[:75]), "value": value}
    if description:
        option["description"] = _text(description[:75])
    return option


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    element.setdefault("action_id", "value")
    return {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }


def declare_view(policy: Policy, *, origin_channel: str | None) -> dict[str, Any]:
    severities = [_option(s.name, s.name, s.description) for s in policy.severities]
    return {
        "type": "modal",
        "callback_id": DECLARE_VIEW,
        "title": _text("Declare an incident"),
        "submit": _text("Declare"),
        "close": _text("Cancel"),
        "private_metadata": json.dumps({"channel": origin_channel}),
        "blocks": [
            _input(
                "title",
                "Title",
                {
                    "type": "plain_text_input",
                    "max_length": 200,
                    "placeholder": _text("Checkout errors"),
                },
            ),
            _input("severity", "Severity", {"type": "static_select", "options": severities}),
            _input(
                "impact",
                "Impact",
                {"type": "plain_text_input", "placeholder": _text("Who or what is affected")},
                optional=True,
            ),
            _input(
                "private",
                "Visibility",
                {
                    "type": "checkboxes",
                    "options": [
                        _option("private", "Private incident", "A private channel, never announced")
                    ],
                },
                optional=True,
            ),
        ],
    }


def update_view(incident: Incident, policy: Policy) -> dict[str, Any]:
    statuses = [_option(s.value, s.label) for s in (Status.INVESTIGATING, Status.MITIGATING)]
    current = next(o for o in statuses if o["value"] == incident.status.value)
    cadence = policy.severity(incident.severity).update_every
    choices = [_option(c, f"in {c}") for c in NEXT_UPDATE_CHOICES]
    default = format_duration(cadence) if cadence else None
    if default and default not in NEXT_UPDATE_CHOICES:
        choices.insert(0, _option(default, f"in {default}"))
    next_element: dict[str, Any] = {"type": "static_select", "options": choices}
    if default:
        next_element["initial_option"] = next(o for o in choices if o["value"] == default)
    impact: dict[str, Any] = {"type": "plain_text_input"}
    if incident.impact:
        impact["initial_value"] = incident.impact
    return {
        "type": "modal",
        "callback_id": UPDATE_VIEW,
        "title": _text(f"Update {incident_key(incident.number)}"[:24]),
        "submit": _text("Post update"),
        "close": _text("Cancel"),
        "private_metadata": json.dumps({"number": incident.number}),
        "blocks": [
            _input(
                "status",
                "Status",
                {"type": "static_select", "options": statuses, "initial_option": current},
            ),
            _input("impact", "Impact", impact, optional=True),
            _input(
                "text",
                "What is happening",
                {"type": "plain_text_input", "multiline": True, "max_length": 3000},
            ),
            _input("next", "Next update", next_element, optional=cadence is None),
        ],
    }


def _values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        block_id: actions.get("value", {})
        for block_id, actions in view.get("state", {}).get("values", {}).items()
    }


class Forms:
    def __init__(
        self, *, service: IncidentService, lifecycle: IncidentLifecycle, policy: Policy
    ) -> None:
        self._service = service
        self._lifecycle = lifecycle
        self._policy = policy

    async def open_declare(
        self, client: AsyncWebClient, *, trigger_id: str, channel: str | None
    ) -> None:
        await client.views_open(
            trigger_id=trigger_id, view=declare_view(self._policy, origin_channel=channel)
        )

    async def open_update(
        self, client: AsyncWebClient, *, trigger_id: str, ref: IncidentRef
    ) -> None:
        incident = await self._lifecycle.incident(ref)
        if not incident.status.is_open:
            key, status = incident_key(incident.number), incident.status.label
            raise UserError(f"{key} is {status}: reopen it to post updates")
        await client.views_open(trigger_id=trigger_id, view=update_view(incident, self._policy))

    async def submit_declare(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        values = _values(view)
        user = str(body["user"]["id"])
        title = str(values.get("title", {}).get("value") or "")
        severity = str((values.get("severity", {}).get("selected_option") or {}).get("value") or "")
        impact = str(values.get("impact", {}).get("value") or "")
        private = bool(values.get("private", {}).get("selected_options"))
        origin = json.loads(view.get("private_metadata") or "{}").get("channel")
        try:
            incident = await self._service.declare(
                Declaration(
                    title=title,
                    severity=severity,
                    declared_by=user,
                    declared_in=origin,
                    private=private,
                    impact=impact,
                )
            )
        except UserError as error:
            await ack(response_action="errors", errors={"title": str(error)})
            return
        except UnknownSeverity as error:
            await ack(response_action="errors", errors={"severity": str(error)})
            return
        await ack()
        log.info("%s declared %s from the form", user, incident_key(incident.number))

    async def submit_update(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body["view"]
        values = _values(view)
        user = str(body["user"]["id"])
        number = int(json.loads(view.get("private_metadata") or "{}").get("number", 0))
        status_value = (values.get("status", {}).get("selected_option") or {}).get("value")
        next_value = (values.get("next", {}).get("selected_option") or {}).get("value")
        next_in: timedelta | None = parse_duration(next_value) if next_value else None
        try:
            await self._lifecycle.post_update(
                IncidentRef(number=number),
                actor=user,
                text=str(values.get("text", {}).get("value") or ""),
                next_in=next_in,
                status=Status(status_value) if status_value else None,
                impact=values.get("impact", {}).get("value"),
            )
        except UserError as error:
            await ack(response_action="errors", errors={"text": slack_escape(str(error))[:150]})
            return
        await ack()


def register(app: AsyncApp, *, forms: Forms) -> None:
    app.view(DECLARE_VIEW)(forms.submit_declare)
    app.view(UPDATE_VIEW)(forms.submit_update)

    async def post_update_button(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        await ack()
        try:
            number = int(body["actions"][0]["value"])
            await forms.open_update(
                client, trigger_id=body["trigger_id"], ref=IncidentRef(number=number)
            )
        except UserError as error:
            await respond(
                text=f":warning: {to_mrkdwn(str(error))}.",
                response_type="ephemeral",
                replace_original=False,
            )

    app.action(POST_UPDATE_ACTION)(post_update_button)
