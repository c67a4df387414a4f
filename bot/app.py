"""The composition root: the only place that picks concrete adapters and wires them."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

import handlers.slack
from bot.alerts.effects import AlertEffects
from bot.alerts.ingest import AlertIntake
from bot.alerts.model import AlertBatch
from bot.alerts.silences import Silencer, SilenceRequests
from bot.alerts.triage import AlertTriage
from bot.chat.port import ChatPlatform
from bot.chat.routing import RoutingChat
from bot.chat.slack.adapter import SlackChat, build_web_client
from bot.chat.teams.wiring import TeamsParts, teams_parts
from bot.chat.unconfigured import UnconfiguredChat
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.delivery.effects import ChatEffects
from bot.delivery.outbox import DeliveryKind, DeliveryWorker
from bot.delivery.pacing import ChannelPacer
from bot.delivery.paging import Pager
from bot.diagnostics.effects import DiagnosticsEffects
from bot.diagnostics.runner import CheckRunner, default_runner
from bot.diagnostics.service import Diagnostics
from bot.inbound.dispatch import Inbound
from bot.inbound.flags import TimelineFlags
from bot.inbound.submissions import FormSubmissions
from bot.incidents.capture import TimelineCapture
from bot.incidents.declare import IncidentService
from bot.incidents.lifecycle import IncidentLifecycle
from bot.incidents.views import IncidentViews
from bot.lifespan import lifespan_of
from bot.observability.metrics import Metrics
from bot.observability.metrics_route import add_metrics_route
from bot.policy.schema import Policy, load_policy
from bot.postmortem.effects import PostmortemEffects
from bot.postmortem.wiring import wire_postmortems
from bot.probes import add_probe_routes
from bot.status.components import IncidentComponents
from bot.status.routes import add_status_routes
from bot.storage.database import Database
from bot.text.templates import Renderer
from bot.timers.schedule import TimerLoop
from bot.timers.ticker import Timers
from bot.web import add_web_routes
from handlers.alerts import credentials_for
from handlers.alerts.routes import add_alert_routes
from handlers.slack import intake
from handlers.slack.background import Background
from handlers.teams.messages import TeamsMessages

log = logging.getLogger(__name__)


@dataclass
class Warroom:
    """Everything one running process holds."""

    settings: Settings
    policy: Policy
    clock: Clock
    db: Database
    chat: ChatPlatform
    service: IncidentService
    lifecycle: IncidentLifecycle
    capture: TimelineCapture
    inbound: Inbound
    submissions: FormSubmissions  # forms filled in
    follow_ups: Background  # work after an acknowledgement
    worker: DeliveryWorker
    timers: Timers
    timer_loop: TimerLoop  # when this process next runs `timers`
    http: httpx.AsyncClient  # outgoing pages and silences
    renderer: Renderer  # every template compiled at start; /readyz asks it again
    alerts: AlertIntake  # alert webhooks in
    diagnostics: Diagnostics  # checks and runbooks run on request
    metrics: Metrics  # this process's own, at GET /metrics
    # Only where Slack is configured: a Teams-only or alerts-only install has none.
    bolt: AsyncApp | None = None
    # Only where Teams is configured: POST /api/messages.
    teams_door: TeamsMessages | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)


def build(
    settings: Settings,
    *,
    chat: ChatPlatform | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Clock = utc_now,
    policy: Policy | None = None,
    run_check: CheckRunner | None = None,
) -> Warroom:
    """Wire one process. Tests and benchmarks pass a fake `chat` (and an `http` client
    whose transport is a fake pager); production takes the adapters the settings name."""
    policy = policy or load_policy(settings.config_path)
    environ = settings.secret_environment()
    # A check that cannot run for want of its secret is said now, not when someone runs it.
    for problem in policy.diagnostics.missing_environment(environ):
        log.error("%s (warroom check-config lists every problem)", problem)
    db = Database(settings.database_url)
    renderer = Renderer(settings.templates_dir)
    # Every template compiled now: a missing or broken one refuses the start (a
    # ConfigurationError naming it) instead of failing the first card it should render.
    for name in renderer.check().unused:
        log.warning("%s in %s is not one of warroom's templates: unused", name, renderer.overrides)
    metrics = Metrics(severities=policy.severity_names(), process=True)
    client = (
        build_web_client(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            on_call=metrics.chat_calls_of("slack"),
        )
        if settings.slack_bot_token
        else None
    )
    http = http or httpx.AsyncClient(timeout=15)
    teams = (
        teams_parts(settings, db=db, clock=clock, policy=policy, http=http)
        if settings.teams_enabled
        else None
    )
    if teams is not None:
        teams.connector.count_calls(metrics.chat_calls_of("teams"))
    if chat is None:
        chat = _chat_of(client, teams)
    effects = ChatEffects(
        db=db,
        chat=chat,
        policy=policy,
        renderer=renderer,
        clock=clock,
        pacer=ChannelPacer(interval=settings.post_interval_seconds),
    )
    pager = Pager(db=db, policy=policy, client=http, environ=environ)
    alert_effects = AlertEffects(
        db=db, chat=chat, effects=effects, policy=policy, renderer=renderer
    )
    silencer = Silencer(db=db, policy=policy, client=http, clock=clock)
    diagnostics_effects = DiagnosticsEffects(
        db=db, chat=chat, effects=effects, policy=policy.diagnostics, renderer=renderer
    )
    postmortem_effects = PostmortemEffects(
        db=db,
        chat=chat,
        effects=effects,
        policy=policy,
        renderer=renderer,
        http=http,
        environ=environ,
        clock=clock,
    )
    worker = DeliveryWorker(
        db=db,
        effects={
            **effects.registry(),
            **alert_effects.registry(),
            **diagnostics_effects.registry(),
            **postmortem_effects.registry(),
            DeliveryKind.RUN_DIAGNOSTICS.value: lambda delivery: diagnostics.run(delivery),
            DeliveryKind.PAGE.value: pager.page,
            DeliveryKind.SILENCE.value: silencer.silence,
        },
        clock=clock,
        lease=timedelta(seconds=settings.delivery_lease_seconds),
    )

    def committed() -> None:
        """After a use case's commit: deliveries may be owed and a deadline may have moved
        (a declaration, an update, a severity). `timer_loop` is bound below, before any
        use case can run."""
        worker.wake()
        timer_loop.wake()

    service = IncidentService(
        db=db,
        policy=policy,
        clock=clock,
        announce_channel=settings.announce_channel,
        on_commit=committed,
        renderer=renderer,
        handoff=worker,  # what a declaration owes starts here at once, already claimed
        metrics=metrics,
    )
    lifecycle = IncidentLifecycle(
        db=db,
        policy=policy,
        clock=clock,
        renderer=renderer,
        on_commit=committed,
        metrics=metrics,
    )
    ends = wire_postmortems(
        db=db, policy=policy, clock=clock, lifecycle=lifecycle, renderer=renderer
    )
    timers = Timers(
        db=db,
        policy=policy,
        clock=clock,
        renderer=renderer,
        on_commit=worker.wake,
        more=ends.timers,
        metrics=metrics,
    )
    # The ticker reads the next deadline itself after each tick: its commits need no wake.
    timer_loop = TimerLoop(
        timers=timers, clock=clock, poll=timedelta(seconds=settings.tick_seconds)
    )
    capture = TimelineCapture(db=db, lifecycle=lifecycle, clock=clock)
    diagnostics = Diagnostics(
        db=db,
        policy=policy,
        clock=clock,
        lifecycle=lifecycle,
        run_check=run_check or default_runner(environ),
        handoff=worker,
        on_commit=committed,
        metrics=metrics,
    )
    service.when_opened(diagnostics.run_when_opened)  # an alert route's auto_run runbook
    views = IncidentViews(db=db, policy=policy, renderer=renderer, clock=clock)
    alerts = AlertIntake(
        db=db,
        policy=policy,
        clock=clock,
        service=service,
        lifecycle=lifecycle,
        announce_channel=settings.announce_channel,
    )
    inbound = Inbound(
        policy=policy,
        renderer=renderer,
        service=service,
        lifecycle=lifecycle,
        views=views,
        triage=AlertTriage(db=db, clock=clock, service=service),
        silences=SilenceRequests(db=db, policy=policy, clock=clock, on_commit=committed),
        diagnostics=diagnostics,
        followthrough=ends.followthrough,
        components=IncidentComponents(db=db, policy=policy, lifecycle=lifecycle),
    )
    submissions = FormSubmissions(
        service=service,
        lifecycle=lifecycle,
        capture=capture,
        diagnostics=diagnostics,
        postmortems=ends.followthrough.postmortems,
    )
    flags = TimelineFlags(policy=policy, capture=capture, views=views, chat=chat)
    follow_ups = Background()
    bolt: AsyncApp | None = None
    # Socket Mode (an app token) needs no signing secret: Slack never calls in. Without one
    # /slack/events answers 503 and says so.
    if client is not None and settings.slack_mode is not None:
        bolt = AsyncApp(
            client=client,
            signing_secret=settings.slack_signing_secret,
            # The HTTP answer is sent when a listener returns, not polled for: listeners
            # decide and ack, and hand what follows to `follow_ups`.
            process_before_response=True,
            # /slack/events checks the signature before Bolt sees the request (and Socket
            # Mode needs none): checking it twice only costs every ack.
            request_verification_enabled=False,
        )
        slack_chat = chat if isinstance(chat, SlackChat) else SlackChat(client)
        handlers.slack.register(
            bolt,
            handlers.slack.SlackGlue(
                inbound=inbound,
                submissions=submissions,
                flags=flags,
                forms=slack_chat,
                background=follow_ups,
            ),
        )
    teams_door = (
        TeamsMessages(
            inbound=inbound,
            submissions=submissions,
            book=teams.book,
            connector=teams.connector,
            tokens=teams.inbound_tokens,
            card_of=effects.current_card,
        )
        if teams is not None
        else None
    )
    return Warroom(
        teams_door=teams_door,
        settings=settings,
        policy=policy,
        clock=clock,
        db=db,
        chat=chat,
        service=service,
        lifecycle=lifecycle,
        capture=capture,
        inbound=inbound,
        submissions=submissions,
        follow_ups=follow_ups,
        worker=worker,
        timers=timers,
        timer_loop=timer_loop,
        http=http,
        renderer=renderer,
        alerts=alerts,
        diagnostics=diagnostics,
        metrics=metrics,
        bolt=bolt,
    )


def _chat_of(client: Any, teams: TeamsParts | None) -> ChatPlatform:
    """Slack, Teams, or both in one process (each incident on its own platform)."""
    slack: ChatPlatform | None = SlackChat(client) if client is not None else None
    if teams is None:
        return slack or UnconfiguredChat()
    if slack is None:
        return teams.chat
    return RoutingChat({"slack": slack, "teams": teams.chat}, default="slack")


def create_app(settings: Settings | None = None, *, warroom: Warroom | None = None) -> FastAPI:
    warroom = warroom or build(settings or Settings())
    # The OpenAPI page documents the alert webhooks (/docs, /openapi.json).
    api = FastAPI(title="warroom", lifespan=lifespan_of(warroom), redoc_url=None)
    api.state.warroom = warroom
    slack_handler = AsyncSlackRequestHandler(warroom.bolt) if warroom.bolt else None
    secret = warroom.settings.slack_signing_secret
    verifier = SignatureVerifier(secret) if secret else None

    @api.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        if slack_handler is None or verifier is None:
            return JSONResponse(
                {
                    "ok": False,
                    "error": "slack_not_configured",
                    "missing": warroom.settings.missing_slack_settings(),
                },
                status_code=503,
            )
        body = await intake.read_limited(request)
        if isinstance(body, intake.Refusal):
            return _refused(body)
        refusal = intake.check(body, dict(request.headers), verifier)
        if refusal is not None:
            return _refused(refusal)
        request._body = body  # Bolt reads the body again: hand it the bytes already read
        # While a person waits for an answer, deliveries take one slot instead of all.
        with warroom.worker.foreground.serving():
            response: Response = await slack_handler.handle(request)
        return response

    environ = warroom.settings.secret_environment()
    sources = warroom.policy.alerts.sources

    async def receive_alert(batch: AlertBatch) -> dict[str, Any]:
        return (await warroom.alerts.receive(batch)).as_json()

    add_alert_routes(
        api,
        receive=receive_alert,
        credentials=lambda source: credentials_for(
            source, sources, fallback_token=warroom.settings.alert_token, environ=environ
        ),
        serving=warroom.worker.foreground.serving,
        answered=warroom.metrics.alert_webhook,
    )
    add_metrics_route(api, warroom)
    add_status_routes(api, warroom)  # the public status page, when the policy has one

    @api.post("/api/messages")
    async def teams_messages(request: Request) -> Response:
        if warroom.teams_door is None:
            return JSONResponse(
                {
                    "ok": False,
                    "error": "teams_not_configured",
                    "missing": ["WARROOM_TEAMS_APP_ID", "WARROOM_TEAMS_APP_PASSWORD"],
                },
                status_code=503,
            )
        with warroom.worker.foreground.serving():
            return await warroom.teams_door.handle(request)

    add_web_routes(api, warroom)  # /web: incidents and statistics in a browser

    add_probe_routes(api, warroom)

    return api


def _refused(refusal: intake.Refusal) -> JSONResponse:
    return JSONResponse(refusal.body(), status_code=refusal.status)
