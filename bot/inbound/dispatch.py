"""Requests from any chat platform, run through the parser and the use cases, answered
with a platform-neutral `Reply`. The Slack glue (handlers/slack/) and, later, the Teams
glue only translate payloads to these requests and show the replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.alerts.messages import DECLARE_ALERT_ACTION, IGNORE_ALERT_ACTION, SILENCE_ACTION
from bot.alerts.silences import SilenceRequests
from bot.alerts.triage import AlertTriage
from bot.diagnostics.messages import catalogue
from bot.diagnostics.runner import ALL
from bot.diagnostics.service import Diagnostics
from bot.errors import UsageError, UserError
from bot.inbound.command_types import (
    ActionAddCommand,
    ActionDoneCommand,
    ActionListCommand,
    CloseCommand,
    ComponentsCommand,
    PostmortemCommand,
    StatsCommand,
)
from bot.inbound.commands import (
    AcknowledgeCommand,
    Command,
    DeclareCommand,
    DeclareFormCommand,
    DiagnosticsCommand,
    DiagnosticsListCommand,
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
    SilenceCommand,
    StatusCommand,
    TimelineCommand,
    UpdateCommand,
    parse_command,
    parse_silence_duration,
    usage,
)
from bot.inbound.forms import declare_form, diagnostics_picker, update_form
from bot.inbound.requests import ButtonPress, CommandRequest, Reply, Requester
from bot.incidents.access import IncidentRef, Outcome
from bot.incidents.cards import (
    ACKNOWLEDGE_ACTION,
    DIAGNOSE_ACTION,
    ESCALATE_ACTION,
    POST_UPDATE_ACTION,
    POSTMORTEM_ACTION,
    RESOLVE_ACTION,
)
from bot.incidents.declare import Declaration, IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.status import incident_key
from bot.incidents.transitions import ensure_open_for_updates
from bot.incidents.views import IncidentViews
from bot.policy.schema import Policy
from bot.postmortem.actions import ActionItems
from bot.postmortem.service import Postmortems
from bot.status.components import NO_STATUS_PAGE, IncidentComponents
from bot.status.publishing import PublicPost
from bot.text.markdown import escape_markdown
from bot.text.templates import Renderer

log = logging.getLogger(__name__)

FAILED = "❌ That could not be stored, so nothing changed. Please try again."
# What each card button stands for: pressing it is checked like typing the command.
BUTTON_COMMANDS: dict[str, Callable[[int], Command]] = {
    ACKNOWLEDGE_ACTION: AcknowledgeCommand,
    RESOLVE_ACTION: ResolveCommand,
    ESCALATE_ACTION: EscalateCommand,
    POST_UPDATE_ACTION: UpdateCommand,
    POSTMORTEM_ACTION: PostmortemCommand,
}
# Buttons of alert messages: a triage card's Declare / Ignore, a digest's Silence.
ALERT_BUTTONS = (DECLARE_ALERT_ACTION, IGNORE_ALERT_ACTION, SILENCE_ACTION)
BUTTON_ACTIONS: tuple[str, ...] = (*BUTTON_COMMANDS, *ALERT_BUTTONS, DIAGNOSE_ACTION)


def refusal(error: UserError, usage_text: str = "") -> Reply:
    """A request refused with its reason: only the requester sees it."""
    hint = f"\n{usage_text}" if usage_text else ""
    return Reply(f"⚠️ {error}.{hint}".rstrip())


def ref_for(parsed: IncidentCommand, requester: Requester) -> IncidentRef:
    """The incident named (INC-N), else the one whose channel the request came from."""
    if parsed.number is not None:
        return IncidentRef(number=parsed.number, via=requester.channel_id)
    return IncidentRef(channel_id=requester.channel_id)


# `/incident stats`: the report for this viewer over so many days (Markdown).
StatsReport = Callable[[str, int], Awaitable[str]]


@dataclass(frozen=True)
class Followthrough:
    """What the end of an incident offers: its postmortem, action items and the stats."""

    postmortems: Postmortems
    actions: ActionItems
    stats: StatsReport


class Inbound:
    def __init__(
        self,
        *,
        policy: Policy,
        renderer: Renderer,
        service: IncidentService,
        lifecycle: IncidentLifecycle,
        views: IncidentViews,
        triage: AlertTriage | None = None,
        silences: SilenceRequests | None = None,
        diagnostics: Diagnostics | None = None,
        followthrough: Followthrough | None = None,
        components: IncidentComponents | None = None,
    ) -> None:
        self._followthrough = followthrough
        self._components = components
        self._diagnostics = diagnostics
        self._triage = triage
        self._silences = silences
        self._policy = policy
        self._renderer = renderer
        self._service = service
        self._lifecycle = lifecycle
        self._views = views
        self._usage_texts: dict[str | None, str] = {}

    def usage(self, subcommand: str | None = None) -> str:
        # The policy never changes while serving: build each help text once.
        if subcommand not in self._usage_texts:
            self._usage_texts[subcommand] = usage(
                self._policy, self._renderer, subcommand=subcommand
            )
        return self._usage_texts[subcommand]

    async def command(self, request: CommandRequest) -> Reply:
        """`/incident <text>`: parsed, run, answered; never an exception."""
        return await self._guarded(lambda: self._command(request))

    async def press(self, press: ButtonPress) -> Reply:
        """A card button: the card itself shows what changed, so success says nothing."""
        if press.action in ALERT_BUTTONS:
            return await self._guarded(lambda: self._alert_press(press))
        if press.action == DIAGNOSE_ACTION:
            return await self._guarded(lambda: self._diagnose_press(press))
        make = BUTTON_COMMANDS.get(press.action)
        try:
            number = int(press.value)
        except ValueError:
            number = -1
        if make is None or number < 0:
            log.warning("button %s with value %r: not ours", press.action, press.value[:40])
            return Reply("⚠️ That button no longer works here.")
        parsed = make(number)

        async def run() -> Reply:
            if isinstance(parsed, UpdateCommand):
                return await self._update_form(parsed, press.requester)
            if isinstance(parsed, PostmortemCommand):
                return await self._postmortem(parsed, press.requester)
            await self._change(parsed, press.requester)
            return Reply()

        return await self._guarded(run)

    async def _alert_press(self, press: ButtonPress) -> Reply:
        requester = press.requester
        if press.action == SILENCE_ACTION:
            number, _, duration = press.value.partition(":")
            if not number.isdigit():
                return Reply("⚠️ That button no longer works here.")
            command = SilenceCommand(int(number), parse_silence_duration(duration or "1h"))
            return Reply(f"🔕 {await self._silence(command, requester)}")
        if self._triage is None or not press.value.isdigit():
            return Reply("⚠️ That button no longer works here.")
        if press.action == DECLARE_ALERT_ACTION:
            group = int(press.value)
            summary = await self._triage.declare(
                group, actor=requester.user_id, channel_id=requester.channel_id
            )
            return Reply(summary)
        return Reply(f"🙈 {await self._triage.ignore(int(press.value), actor=requester.user_id)}")

    async def _diagnose_press(self, press: ButtonPress) -> Reply:
        """Run diagnostics: the card's runbook, the only runbook, or a picker of them."""
        number, _, target = press.value.partition(":")
        if not number.isdigit():
            return Reply("⚠️ That button no longer works here.")
        runbooks = self._policy.diagnostics.runbooks
        if not target and len(runbooks) > 1:
            ref = IncidentRef(number=int(number), via=press.requester.channel_id)
            incident = await self._lifecycle.incident(
                ref, viewer=press.requester.user_id, action="diagnose"
            )
            picker = diagnostics_picker(
                incident, self._policy.diagnostics, origin_channel=press.requester.channel_id
            )
            return Reply(form=picker)
        target = target or (runbooks[0].name if runbooks else ALL)
        return await self._diagnose(DiagnosticsCommand(int(number), target), press.requester)

    async def _diagnose(self, command: DiagnosticsCommand, requester: Requester) -> Reply:
        if self._diagnostics is None:
            raise UserError("diagnostics are not set up here")
        summary = await self._diagnostics.request(
            ref_for(command, requester), actor=requester.user_id, target=command.target
        )
        return Reply(f"🩺 {summary}")

    async def _silence(self, command: SilenceCommand, requester: Requester) -> str:
        if self._silences is None:
            raise UserError("alerts are not set up here")
        return await self._silences.silence(
            ref_for(command, requester), actor=requester.user_id, duration=command.duration
        )

    async def _guarded(self, work: Callable[[], Awaitable[Reply]]) -> Reply:
        try:
            return await work()
        except UsageError as error:  # a command that does not parse: how to type it
            return refusal(error, self.usage(error.usage))
        except UserError as error:
            return refusal(error, self.usage(error.usage) if error.usage else "")
        except Exception:
            log.exception("request failed")
            return Reply(FAILED)

    async def _command(self, request: CommandRequest) -> Reply:
        requester = request.requester
        parsed = parse_command(request.text)
        match parsed:
            case HelpCommand():
                return Reply(self.usage())
            case DeclareFormCommand():
                return Reply(form=declare_form(self._policy, origin_channel=requester.channel_id))
            case UpdateCommand(text=""):
                return await self._update_form(parsed, requester)
            case ListCommand():
                return Reply(await self._views.open_list(viewer=requester.user_id), paged=True)
            case RolesCommand():
                ref = ref_for(parsed, requester)
                return Reply(await self._views.roles(ref, viewer=requester.user_id), paged=True)
            case TimelineCommand():
                ref = ref_for(parsed, requester)
                return Reply(await self._views.timeline(ref, viewer=requester.user_id), paged=True)
            case DeclareCommand():
                return await self._declare(parsed, requester)
            case SilenceCommand():
                return Reply(f"🔕 {await self._silence(parsed, requester)}")
            case DiagnosticsListCommand():
                text = catalogue(self._policy.diagnostics, renderer=self._renderer)
                return Reply(text, paged=True)
            case DiagnosticsCommand():
                return await self._diagnose(parsed, requester)
            case ComponentsCommand():
                return await self._components_of(parsed, requester)
            case (
                PostmortemCommand()
                | CloseCommand()
                | ActionListCommand()
                | ActionAddCommand()
                | ActionDoneCommand()
                | StatsCommand()
            ):
                return await self._follow_through(parsed, requester)
        outcome = await self._change(parsed, requester)
        return Reply(f"✅ {outcome.summary}")

    def _ends(self) -> Followthrough:
        if self._followthrough is None:
            raise UserError("postmortems are not set up here")
        return self._followthrough

    async def _postmortem(self, parsed: PostmortemCommand, requester: Requester) -> Reply:
        postmortems, ref = self._ends().postmortems, ref_for(parsed, requester)
        if parsed.export:
            outcome = await postmortems.export(ref, actor=requester.user_id)
            return Reply(f"📄 {outcome.summary}")
        return Reply(form=await postmortems.form(ref, viewer=requester.user_id))

    async def _follow_through(self, parsed: Command, requester: Requester) -> Reply:
        ends, actor = self._ends(), requester.user_id
        match parsed:
            case StatsCommand(days=days):
                return Reply(await ends.stats(actor, days), paged=True)
            case PostmortemCommand():
                return await self._postmortem(parsed, requester)
            case CloseCommand():
                outcome = await ends.postmortems.close(ref_for(parsed, requester), actor=actor)
                return Reply(f"🏁 {outcome.summary}")
            case ActionListCommand():
                ref = ref_for(parsed, requester)
                return Reply(await ends.actions.listing(ref, viewer=actor), paged=True)
            case ActionAddCommand(text=text, owner=owner, due=due):
                outcome = await ends.actions.add(
                    ref_for(parsed, requester), actor=actor, text=text, owner=owner, due=due
                )
                return Reply(f"☑️ {outcome.summary}")
            case ActionDoneCommand(item=item):
                outcome = await ends.actions.done(
                    ref_for(parsed, requester), actor=actor, number=item
                )
                return Reply(f"✅ {outcome.summary}")
        raise AssertionError(f"not a follow-through command: {parsed!r}")

    async def _declare(self, parsed: DeclareCommand, requester: Requester) -> Reply:
        try:
            incident = await self._service.declare(
                Declaration(
                    title=parsed.title,
                    severity=parsed.severity,
                    private=parsed.private,
                    declared_by=requester.user_id,
                    declared_in=requester.channel_id,
                )
            )
        except UserError as error:
            return refusal(error, self.usage("declare"))
        return Reply(
            f"Declaring {incident_key(incident.number)} ({incident.severity}) "
            f"{escape_markdown(incident.title)}: opening its channel and inviting you; "
            "the status card will be pinned there."
        )

    async def _update_form(self, parsed: UpdateCommand, requester: Requester) -> Reply:
        incident = await self._lifecycle.incident(
            ref_for(parsed, requester), viewer=requester.user_id, action="update"
        )
        ensure_open_for_updates(incident)
        return Reply(form=update_form(incident, self._policy))

    def _public(self, asked: bool, *, title: str | None = None) -> PublicPost | None:
        """What `--public` asks of a use case (None: not asked)."""
        if not asked:
            return None
        if self._policy.status_page is None:
            raise UserError(NO_STATUS_PAGE)
        return PublicPost(title=title)

    async def _components_of(self, parsed: ComponentsCommand, requester: Requester) -> Reply:
        if self._components is None:
            raise UserError(NO_STATUS_PAGE)
        ref, actor = ref_for(parsed, requester), requester.user_id
        if parsed.names is None:
            return Reply(await self._components.show(ref, viewer=actor))
        outcome = await self._components.replace(ref, actor=actor, typed=parsed.names)
        return Reply(f"✅ {outcome.summary}")

    async def _change(self, parsed: Command, requester: Requester) -> Outcome:
        assert isinstance(parsed, IncidentCommand), parsed
        ref, actor = ref_for(parsed, requester), requester.user_id
        lifecycle = self._lifecycle
        match parsed:
            case AcknowledgeCommand():
                return await lifecycle.acknowledge(ref, actor=actor)
            case StatusCommand(status=status, note=note):
                return await lifecycle.set_status(ref, actor=actor, status=status, note=note)
            case SeverityCommand(severity=severity):
                return await lifecycle.set_severity(ref, actor=actor, severity=severity)
            case NoteCommand(text=text):
                return await lifecycle.add_note(ref, actor=actor, text=text)
            case ResolveCommand(resolution=resolution):
                public = self._public(parsed.public)
                return await lifecycle.resolve(
                    ref, actor=actor, resolution=resolution, public=public
                )
            case ReopenCommand():
                return await lifecycle.reopen(ref, actor=actor)
            case UpdateCommand(text=text, next_in=next_in):
                public = self._public(parsed.public, title=parsed.public_title)
                return await lifecycle.post_update(
                    ref, actor=actor, text=text, next_in=next_in, public=public
                )
            case EscalateCommand(reason=reason):
                return await lifecycle.escalate(ref, actor=actor, reason=reason)
            case RoleCommand(role=role, user=assignee):
                return await lifecycle.assign_role(ref, actor=actor, role=role, user=assignee)
        raise AssertionError(f"no use case for {parsed!r}")
