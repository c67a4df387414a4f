"""`/incident …`: parse, run the use case, answer within Slack's 3-second window."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chat.slack_blocks import to_mrkdwn
from bot.commands import (
    COMMAND,
    AcknowledgeCommand,
    Command,
    CommandError,
    DeclareCommand,
    HelpCommand,
    IncidentCommand,
    NoteCommand,
    ReopenCommand,
    ResolveCommand,
    SeverityCommand,
    StatusCommand,
    parse_command,
    usage,
)
from bot.incident import incident_key
from bot.lifecycle import IncidentLifecycle, IncidentRef, LifecycleError, Outcome
from bot.markdown import escape_markdown
from bot.models import Incident
from bot.policy import UnknownSeverity
from bot.service import Declaration, IncidentService, InvalidRequest

log = logging.getLogger(__name__)

# Leave Slack's 3 s budget room for the network: past this, ack first and report later.
ACK_BUDGET_SECONDS = 2.0
# Mistakes a person can fix: answered with the reason, never logged as failures.
USER_ERRORS = (UnknownSeverity, InvalidRequest, LifecycleError)


def register(app: AsyncApp, *, service: IncidentService, lifecycle: IncidentLifecycle) -> None:
    handler = SlashCommands(service, lifecycle)
    app.command(COMMAND)(handler.handle)


class SlashCommands:
    def __init__(self, service: IncidentService, lifecycle: IncidentLifecycle) -> None:
        self._service = service
        self._lifecycle = lifecycle

    def _usage(self, subcommand: str | None = None) -> str:
        return to_mrkdwn(usage(self._service.policy, subcommand=subcommand))

    async def handle(self, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        try:
            parsed = parse_command(str(command.get("text", "")))
        except CommandError as error:
            await _reply(
                ack, f":warning: {to_mrkdwn(str(error))}.\n{self._usage(error.subcommand)}"
            )
            return
        if isinstance(parsed, HelpCommand):
            await _reply(ack, self._usage())
            return
        user = str(command["user_id"])
        channel = command.get("channel_id")
        if isinstance(parsed, DeclareCommand):
            work = self._declare(parsed, user=user, channel=channel)
            subcommand = "declare"
        else:
            assert isinstance(parsed, IncidentCommand)
            ref = IncidentRef(number=parsed.number, channel_id=None if parsed.number else channel)
            work = self._change(parsed, ref, user=user)
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
        raise AssertionError(f"no use case for {parsed!r}")


async def _reply(ack: AsyncAck, text: str) -> None:
    """Acknowledge with a message only the person who typed the command sees."""
    await ack(text=text, response_type="ephemeral")
