"""Filled-in forms: checked field by field, then handed to the use case. A refusal names
the field it is about, so the platform shows it under that field."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot.diagnostics.service import Diagnostics
from bot.errors import UnknownSeverity, UserError
from bot.inbound.forms import (
    DECLARE_FORM,
    DIAGNOSTICS_PICKER_FORM,
    TIMELINE_PICKER_FORM,
    UPDATE_FORM,
)
from bot.inbound.requests import ChatMessage, FormOutcome, FormSubmission
from bot.incidents.access import IncidentRef
from bot.incidents.capture import TimelineCapture
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import Status
from bot.postmortem.form import POSTMORTEM_FORM, SECTION_IDS
from bot.postmortem.service import Postmortems
from bot.text.durations import parse_duration

log = logging.getLogger(__name__)

FAILED = "That could not be stored, so nothing changed. Please try again."


def _text(submission: FormSubmission, field: str) -> str:
    value = submission.values.get(field)
    return value if isinstance(value, str) else ""


class FormSubmissions:
    def __init__(
        self,
        *,
        service: IncidentService,
        lifecycle: IncidentLifecycle,
        capture: TimelineCapture,
        diagnostics: Diagnostics | None = None,
        postmortems: Postmortems | None = None,
    ) -> None:
        self._postmortems = postmortems
        self._diagnostics = diagnostics
        self._service = service
        self._lifecycle = lifecycle
        self._capture = capture
        self._handlers: dict[str, Callable[[FormSubmission], Awaitable[FormOutcome]]] = {
            DECLARE_FORM: self._declare,
            UPDATE_FORM: self._update,
            TIMELINE_PICKER_FORM: self._pick_incident,
            DIAGNOSTICS_PICKER_FORM: self._run_diagnostics,
            POSTMORTEM_FORM: self._write_postmortem,
        }

    async def submit(self, submission: FormSubmission) -> FormOutcome:
        handler = self._handlers.get(submission.form)
        if handler is None:
            return FormOutcome({"form": "This form is not warroom's, or no longer exists."})
        try:
            return await handler(submission)
        except Exception:
            log.exception("form %s failed", submission.form)
            first = next(iter(submission.values), "form")
            return FormOutcome({first: FAILED})

    async def _declare(self, submission: FormSubmission) -> FormOutcome:
        origin = submission.context.get("channel")
        try:
            await self._service.declare(
                Declaration(
                    title=_text(submission, "title"),
                    severity=_text(submission, "severity"),
                    declared_by=submission.requester.user_id,
                    declared_in=origin if isinstance(origin, str) else None,
                    private=submission.values.get("private") is True,
                    impact=_text(submission, "impact"),
                )
            )
        except UnknownSeverity as error:
            return FormOutcome({"severity": str(error)})
        except UserError as error:
            return FormOutcome({"title": str(error)})
        return FormOutcome()

    async def _update(self, submission: FormSubmission) -> FormOutcome:
        number = _number(submission.context.get("number"))
        if number is None:
            return FormOutcome({"text": "This form no longer names an incident; open it again."})
        status_value = _text(submission, "status")
        try:
            status = Status(status_value) if status_value else None
        except ValueError:
            return FormOutcome({"status": "Choose Investigating or Mitigating."})
        next_value = _text(submission, "next")
        try:
            next_in = parse_duration(next_value) if next_value else None
        except ValueError:
            return FormOutcome({"next": "Choose when the next update is due."})
        try:
            await self._lifecycle.post_update(
                IncidentRef(number=number),
                actor=submission.requester.user_id,
                text=_text(submission, "text"),
                next_in=next_in,
                status=status,
                impact=_text(submission, "impact") or None,
            )
        except UserError as error:
            return FormOutcome({"text": str(error)})
        return FormOutcome()

    async def _pick_incident(self, submission: FormSubmission) -> FormOutcome:
        number = _number(submission.values.get("incident"))
        if number is None:
            return FormOutcome({"incident": "Choose an incident."})
        try:
            message = ChatMessage(**_message_fields(submission.context.get("message")))
        except (TypeError, ValueError):
            return FormOutcome({"incident": "This form lost its message; use the shortcut again."})
        try:
            await self._capture.capture(
                IncidentRef(number=number), message, actor=submission.requester.user_id
            )
        except UserError as error:
            return FormOutcome({"incident": str(error)})
        return FormOutcome()

    async def _run_diagnostics(self, submission: FormSubmission) -> FormOutcome:
        number = _number(submission.context.get("number"))
        target = _text(submission, "target")
        if number is None or self._diagnostics is None:
            return FormOutcome({"target": "This form no longer names an incident; open it again."})
        if not target:
            return FormOutcome({"target": "Choose what to run."})
        origin = submission.context.get("channel")
        try:
            await self._diagnostics.request(
                IncidentRef(number=number, via=origin if isinstance(origin, str) else None),
                actor=submission.requester.user_id,
                target=target,
            )
        except UserError as error:
            return FormOutcome({"target": str(error)})
        return FormOutcome()

    async def _write_postmortem(self, submission: FormSubmission) -> FormOutcome:
        number = _number(submission.context.get("number"))
        first = SECTION_IDS[0]
        if number is None or self._postmortems is None:
            return FormOutcome({first: "This form no longer names an incident; open it again."})
        origin = submission.context.get("channel")
        try:
            await self._postmortems.submit(
                IncidentRef(number=number, via=origin if isinstance(origin, str) else None),
                actor=submission.requester.user_id,
                sections={field_id: _text(submission, field_id) for field_id in SECTION_IDS},
            )
        except UserError as error:
            return FormOutcome({first: str(error)})
        return FormOutcome()


def _number(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None


def _message_fields(carried: object) -> dict[str, Any]:
    if not isinstance(carried, dict):
        raise ValueError("no message")
    fields = {k: carried.get(k) for k in ("channel_id", "ref", "author", "text", "permalink")}
    if not isinstance(fields["channel_id"], str) or not isinstance(fields["ref"], str):
        raise ValueError("no message")
    posted = carried.get("posted_at")
    fields["posted_at"] = datetime.fromisoformat(posted) if isinstance(posted, str) else None
    return fields
