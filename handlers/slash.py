"""`/incident …`: parse, run the use case, answer within Slack's 3-second window."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chat.slack_blocks import slack_escape
from bot.commands import (
    COMMAND,
    CommandError,
    DeclareCommand,
    HelpCommand,
    parse_command,
    usage,
)
from bot.incident import incident_key
from bot.models import Incident
from bot.policy import UnknownSeverity
from bot.service import Declaration, IncidentService, InvalidRequest

log = logging.getLogger(__name__)

# Leave Slack's 3 s budget room for the network: past this, ack first and report later.
ACK_BUDGET_SECONDS = 2.0


def register(app: AsyncApp, *, service: IncidentService) -> None:
    handler = SlashCommands(service)
    app.command(COMMAND)(handler.handle)


class SlashCommands:
    def __init__(self, service: IncidentService) -> None:
        self._service = service

    @staticmethod
    async def _reply(ack: AsyncAck, text: str) -> None:
        """Acknowledge with a message only the person who typed the command sees."""
        await ack(text=text, response_type="ephemeral")

    def _usage(self, subcommand: str | None = None) -> str:
        return usage(self._service.policy, subcommand=subcommand)

    async def handle(self, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        try:
            parsed = parse_command(str(command.get("text", "")))
        except CommandError as error:
            problem = slack_escape(str(error))
            await self._reply(ack, f":warning: {problem}.\n{self._usage(error.subcommand)}")
            return
        match parsed:
            case HelpCommand():
                await self._reply(ack, self._usage())
            case DeclareCommand():
                await self._declare(parsed, ack, respond, command)

    async def _declare(
        self,
        parsed: DeclareCommand,
        ack: AsyncAck,
        respond: AsyncRespond,
        command: dict[str, Any],
    ) -> None:
        declaration = Declaration(
            title=parsed.title,
            severity=parsed.severity,
            private=parsed.private,
            declared_by=str(command["user_id"]),
            declared_in=command.get("channel_id"),
        )
        task = asyncio.create_task(self._service.declare(declaration))
        done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET_SECONDS)
        if not done:
            # The database is slow: answer Slack now, finish the declaration, then report.
            await self._reply(
                ack, f"Declaring {slack_escape(parsed.title)}… (this is taking longer than usual)"
            )
            try:
                incident = await task
            except Exception as error:
                await respond(text=self._failure(error), response_type="ephemeral")
                return
            await respond(text=self._declaring(incident), response_type="ephemeral")
            return
        try:
            incident = task.result()
        except Exception as error:
            await self._reply(ack, self._failure(error))
            return
        await self._reply(ack, self._declaring(incident))

    def _declaring(self, incident: Incident) -> str:
        name = self._service.channel_name_for(
            number=incident.number, title=incident.title, severity=incident.severity
        )
        return (
            f"Declaring {incident_key(incident.number)} ({incident.severity}) "
            f"{slack_escape(incident.title)}: opening "
            f"#{name} and inviting you; the status card will be pinned there."
        )

    def _failure(self, error: BaseException) -> str:
        if isinstance(error, UnknownSeverity | InvalidRequest):
            return f":warning: {slack_escape(str(error))}.\n{self._usage('declare')}"
        log.error("declaration failed", exc_info=error)
        return ":x: The incident could not be stored, so nothing was declared. Please try again."
