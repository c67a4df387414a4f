"""`/incident …`: parse, run the use case, answer within Slack's 3-second window."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.blocks import to_block_pages, to_mrkdwn
from bot.clock import Clock
from bot.errors import UnknownSeverity, UsageError, UserError
from bot.inbound.commands import (
    COMMAND,
    AcknowledgeCommand,
    Command,
    DeclareCommand,
    DeclareFormCommand,
    EscalateCommand,
    HelpCommand,
    IncidentCommand,
    ListCommand,
    NoteCommand,
    ReopenCommand,
    ResolveCommand,
    RoleCommand,
    RolesCommand,
    SeverityCommand,
    StatusCommand,
    TimelineCommand,
    UpdateCommand,
    parse_command,
    usage,
)
from bot.incidents.access import IncidentRef, Outcome
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import incident_key
from bot.incidents.views import list_markdown, open_incidents, roles_markdown, timeline_markdown
from bot.storage.database import Database
from bot.storage.models import Incident
from bot.text.markdown import escape_markdown
from handlers.slack.forms import Forms

log = logging.getLogger(__name__)

# Leave Slack's 3 s budget room for the network: past this, ack first and report later.
ACK_BUDGET_SECONDS = 2.0
RESPONSE_URL_USES = 5
# Mistakes a person can fix: answered with the reason, never logged as failures.
USER_ERRORS = (UnknownSeverity, UserError, UserError)


def register(
    app: AsyncApp,
    *,
    service: IncidentService,
    lifecycle: IncidentLifecycle,
    db: Database,
    clock: Clock,
    forms: Forms,
) -> None:
    handler = SlashCommands(service, lifecycle, db, clock, forms)
    app.command(COMMAND)(handler.handle)


def slack_user_mention(user_id: str) -> str:
    return f"<@{user_id}>"


def slack_channel_mention(channel_id: str) -> str:
    return f"<#{channel_id}>"


def _ref(parsed: IncidentCommand, channel: str | None) -> IncidentRef:
    """The incident named (INC-N), else the one whose channel the command came from."""
    if parsed.number is not None:
        return IncidentRef(number=parsed.number, via=channel)
    return IncidentRef(channel_id=channel)


def _section_note(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _fallback(markdown: str) -> str:
    """The plain first line, for notifications and clients that show no blocks."""
    return to_mrkdwn(markdown.strip().split("\n", 1)[0])[:300]


class SlashCommands:
    def __init__(
        self,
        service: IncidentService,
        lifecycle: IncidentLifecycle,
        db: Database,
        clock: Clock,
        forms: Forms,
    ) -> None:
        self._service = service
        self._lifecycle = lifecycle
        self._db = db
        self._clock = clock
        self._forms = forms
        self._usage_texts: dict[str | None, str] = {}

    def _usage(self, subcommand: str | None = None) -> str:
        # The policy never changes while serving: build each help text once.
        if subcommand not in self._usage_texts:
            text = to_mrkdwn(usage(self._service.policy, subcommand=subcommand))
            self._usage_texts[subcommand] = text
        return self._usage_texts[subcommand]

    async def handle(
        self,
        ack: AsyncAck,
        respond: AsyncRespond,
        command: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        try:
            parsed = parse_command(str(command.get("text", "")))
        except UsageError as error:
            await _reply(ack, f":warning: {to_mrkdwn(str(error))}.\n{self._usage(error.usage)}")
            return
        if isinstance(parsed, HelpCommand):
            await _reply(ack, self._usage())
            return
        user = str(command["user_id"])
        channel = command.get("channel_id")
        if isinstance(parsed, DeclareFormCommand) or (
            isinstance(parsed, UpdateCommand) and not parsed.text
        ):
            await self._open_form(parsed, ack, client, command)
            return
        if isinstance(parsed, ListCommand | TimelineCommand | RolesCommand):
            await self._show(parsed, ack, respond, user=user, channel=channel)
            return
        if isinstance(parsed, DeclareCommand):
            work = self._declare(parsed, user=user, channel=channel)
            subcommand = "declare"
        else:
            assert isinstance(parsed, IncidentCommand)
            work = self._change(parsed, _ref(parsed, channel), user=user)
            subcommand = None
        await self._answer(work, ack, respond, subcommand=subcommand)

    async def _answer(
        self,
        work: Awaitable[str],
        ack: AsyncAck,
        respond: AsyncRespond,
        *,
        subcommand: str | None,
    ) -> None:
        """Ack with the outcome if it is ready in time; otherwise ack now, respond later."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET_SECONDS)
        if done:
            await _reply(ack, self._result_text(task, subcommand))
            return
        await _reply(ack, "Working on it… (this is taking longer than usual)")
        await asyncio.wait({task})
        await respond(text=self._result_text(task, subcommand), response_type="ephemeral")

    def _result_text(self, task: asyncio.Future[str], subcommand: str | None) -> str:
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, USER_ERRORS):
            hint = f"\n{self._usage(subcommand)}" if subcommand else ""
            return f":warning: {to_mrkdwn(str(error))}.{hint}"
        log.error("command failed", exc_info=error)
        return ":x: That could not be stored, so nothing changed. Please try again."

    async def _open_form(
        self,
        parsed: Command,
        ack: AsyncAck,
        client: AsyncWebClient,
        command: dict[str, Any],
    ) -> None:
        trigger, channel = str(command["trigger_id"]), command.get("channel_id")
        if isinstance(parsed, DeclareFormCommand):
            await ack()
            await self._forms.open_declare(client, trigger_id=trigger, channel=channel)
            return
        assert isinstance(parsed, UpdateCommand)
        try:
            incident = await self._lifecycle.incident(_ref(parsed, channel))
        except UserError as error:
            await _reply(ack, f":warning: {to_mrkdwn(str(error))}.")
            return
        await ack()
        await self._forms.open_update(
            client, trigger_id=trigger, ref=IncidentRef(number=incident.number)
        )

    async def _show(
        self,
        parsed: ListCommand | TimelineCommand | RolesCommand,
        ack: AsyncAck,
        respond: AsyncRespond,
        *,
        user: str,
        channel: str | None,
    ) -> None:
        """Read-only answers, possibly long: paged so no page breaks Slack's limits."""
        try:
            if isinstance(parsed, ListCommand):
                incidents = await open_incidents(self._db, viewer=user)
                markdown = list_markdown(
                    incidents, now=self._clock(), channel_mention=slack_channel_mention
                )
            elif isinstance(parsed, RolesCommand):
                markdown = await roles_markdown(
                    self._db,
                    _ref(parsed, channel),
                    viewer=user,
                    mention=slack_user_mention,
                    policy_roles=list(self._service.policy.roles),
                )
            else:
                markdown = await timeline_markdown(
                    self._db, _ref(parsed, channel), viewer=user, mention=slack_user_mention
                )
        except UserError as error:
            await _reply(ack, f":warning: {to_mrkdwn(str(error))}.")
            return
        first, *rest = to_block_pages(markdown)
        await ack(text=_fallback(markdown), blocks=first, response_type="ephemeral")
        # Slack accepts five messages per response_url; the last says what was left out.
        shown, left_out = rest[:RESPONSE_URL_USES], rest[RESPONSE_URL_USES:]
        for number, page in enumerate(shown, start=2):
            if left_out and number == len(shown) + 1:
                page = [*page[:-1], _section_note(f"… {len(left_out)} more pages not shown")]
            await respond(text=f"(page {number})", blocks=page, response_type="ephemeral")

    async def _declare(self, parsed: DeclareCommand, *, user: str, channel: str | None) -> str:
        incident = await self._service.declare(
            Declaration(
                title=parsed.title,
                severity=parsed.severity,
                private=parsed.private,
                declared_by=user,
                declared_in=channel,
            )
        )
        return self._declaring(incident)

    def _declaring(self, incident: Incident) -> str:
        name = self._service.channel_name_for(
            number=incident.number, title=incident.title, severity=incident.severity
        )
        return (
            f"Declaring {incident_key(incident.number)} ({incident.severity}) "
            f"{to_mrkdwn(escape_markdown(incident.title))}: opening #{name} and inviting you; "
            "the status card will be pinned there."
        )

    async def _change(self, parsed: Command, ref: IncidentRef, *, user: str) -> str:
        outcome = await self._run(parsed, ref, user)
        return f":white_check_mark: {to_mrkdwn(outcome.summary)}"

    async def _run(self, parsed: Command, ref: IncidentRef, user: str) -> Outcome:
        lifecycle = self._lifecycle
        match parsed:
            case AcknowledgeCommand():
                return await lifecycle.acknowledge(ref, actor=user)
            case StatusCommand(status=status, note=note):
                return await lifecycle.set_status(ref, actor=user, status=status, note=note)
            case SeverityCommand(severity=severity):
                return await lifecycle.set_severity(ref, actor=user, severity=severity)
            case NoteCommand(text=text):
                return await lifecycle.add_note(ref, actor=user, text=text)
            case ResolveCommand(resolution=resolution):
                return await lifecycle.resolve(ref, actor=user, resolution=resolution)
            case ReopenCommand():
                return await lifecycle.reopen(ref, actor=user)
            case UpdateCommand(text=text, next_in=next_in):
                return await lifecycle.post_update(ref, actor=user, text=text, next_in=next_in)
            case EscalateCommand(reason=reason):
                return await lifecycle.escalate(ref, actor=user, reason=reason)
            case RoleCommand(role=role, user=assignee):
                return await lifecycle.assign_role(ref, actor=user, role=role, user=assignee)
        raise AssertionError(f"no use case for {parsed!r}")


async def _reply(ack: AsyncAck, text: str) -> None:
    """Acknowledge with a message only the person who typed the command sees."""
    await ack(text=text, response_type="ephemeral")
