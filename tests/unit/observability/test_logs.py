"""Log lines: JSON or text, the context they name (incident, request, delivery), and no
secret in them, whatever the message, its arguments or its exception carry."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from starlette.requests import Request

import bot.observability.logs as logs
from bot.config import Settings, load_settings
from bot.delivery.outbox import DeliveryKind, enqueue
from bot.delivery.worker import DeliveryWorker
from bot.errors import ConfigurationError
from bot.incidents.status import Status
from bot.observability.logs import (
    JsonFormatter,
    TextFormatter,
    bind_log_context,
    build_handler,
    configure_logging,
    current_log_context,
    default_format,
    log_context,
)
from bot.observability.redaction import (
    SecretRedactor,
    configured_secrets,
    policy_environment_names,
)
from bot.policy.schema import load_policy
from bot.storage.database import Database
from bot.storage.incident_keys import track_incident_keys
from bot.storage.models import Delivery, Incident, insert_incident
from tests.conftest import SteppingClock

log = logging.getLogger("warroom.test")
SECRET = "s3cr3t-VALUE-4-logs"


@dataclass
class Captured:
    stream: io.StringIO

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def one(self) -> dict[str, Any]:
        (only,) = self.json()
        return only


def capture(
    *, log_format: logs.LogFormat = "json", secrets: tuple[str, ...] = (SECRET,)
) -> Iterator[Captured]:
    stream = io.StringIO()
    handler = build_handler(log_format=log_format, secrets=secrets, stream=stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def lines() -> Iterator[Captured]:
    yield from capture()


@pytest.fixture
def text_lines() -> Iterator[Captured]:
    yield from capture(log_format="text")


# The JSON line ---------------------------------------------------------------------


def test_a_json_line_has_time_level_logger_and_message(lines: Captured) -> None:
    log.warning("declared %s in %.1fs", "INC-7", 0.25)
    line = lines.one()
    assert set(line) == {"time", "level", "logger", "message"}
    assert line["level"] == "WARNING" and line["logger"] == "warroom.test"
    assert line["message"] == "declared INC-7 in 0.2s"
    # ISO 8601 in UTC, to the millisecond.
    assert len(line["time"]) == len("2026-11-22T14:08:00.000Z") and line["time"].endswith("Z")


def test_a_json_line_carries_the_exception_text(lines: Captured) -> None:
    try:
        raise RuntimeError("the database went away")
    except RuntimeError:
        log.exception("delivery lane stopped")
    line = lines.one()
    assert line["message"] == "delivery lane stopped"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: the database went away" in line["exception"]


def test_a_message_with_newlines_and_quotes_is_still_one_line(lines: Captured) -> None:
    log.info('line one\nline "two"\tand é')
    assert len(lines.lines()) == 1
    assert lines.one()["message"] == 'line one\nline "two"\tand é'


def test_arguments_that_do_not_fit_the_message_still_give_a_line(lines: Captured) -> None:
    log.info("two %s %s", "but one")
    assert "two %s %s" in lines.one()["message"]


def test_text_lines_are_for_people_and_name_the_context(text_lines: Captured) -> None:
    with log_context(incident="INC-7", request_id="Ev0PIN", delivery_id=12):
        log.info("card posted")
    (line,) = text_lines.lines()
    assert line.endswith(
        "INFO warroom.test: card posted [incident=INC-7 request_id=Ev0PIN delivery_id=12]"
    )
    assert line[:19].count("-") == 2 and line[10] == "T"  # 2026-11-22T14:08:00.123Z INFO …


def test_the_default_format_is_json_unless_stderr_is_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert default_format(Terminal()) == "text"
    assert default_format(io.StringIO()) == "json"


def test_log_format_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_LOG_FORMAT", "text")
    assert Settings(_env_file=None).log_format == "text"
    monkeypatch.delenv("WARROOM_LOG_FORMAT")
    assert Settings(_env_file=None).log_format is None  # chosen by the terminal
    monkeypatch.setenv("WARROOM_LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match=r"WARROOM_LOG_FORMAT: .*'json' or 'text'"):
        load_settings(_env_file=None)


def test_configured_logging_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """As logging.basicConfig: a process (a test runner) that configured logging keeps it."""
    root = logging.getLogger()
    existing = logging.NullHandler()
    monkeypatch.setattr(root, "handlers", [existing])
    assert configure_logging(level="INFO", log_format="json") is None
    assert root.handlers == [existing]
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    installed = configure_logging(level="DEBUG", log_format="json", secrets=[SECRET])
    assert installed is not None and root.handlers == [installed]
    assert isinstance(installed.formatter, JsonFormatter)
    assert root.level == logging.DEBUG
    assert any(isinstance(f, SecretRedactor) and SECRET in f.secrets for f in installed.filters)
    assert isinstance(build_handler(log_format="text").formatter, TextFormatter)


# Context ---------------------------------------------------------------------------


def test_context_fields_appear_where_they_are_set(lines: Captured) -> None:
    log.info("before")
    with log_context(request_id="Ev0ONE"):
        log.info("request")
        with log_context(incident="INC-3", delivery_id=9):
            log.info("inner")
        log.info("request again")
    log.info("after")
    fields = [{k: v for k, v in line.items() if k in logs.CONTEXT_FIELDS} for line in lines.json()]
    assert fields == [
        {},
        {"request_id": "Ev0ONE"},
        {"incident": "INC-3", "request_id": "Ev0ONE", "delivery_id": 9},
        {"request_id": "Ev0ONE"},
        {},
    ]


async def test_async_blocks_and_the_tasks_started_inside_carry_the_context(
    lines: Captured,
) -> None:
    async def later() -> None:
        await asyncio.sleep(0)
        log.info("follow-up")

    async with log_context(delivery_id=4):
        task = asyncio.create_task(later())
    log.info("outside")
    await task
    ours = [line for line in lines.json() if line["logger"] == log.name]
    assert [line.get("delivery_id") for line in ours] == [None, 4]


async def test_a_binding_holds_for_the_rest_of_its_own_task_only(lines: Captured) -> None:
    async def request(request_id: str) -> None:
        bind_log_context(request_id=request_id)
        await asyncio.sleep(0)
        log.info("handled")

    await asyncio.gather(request("A1"), request("B2"))
    log.info("between requests")
    ours = [line for line in lines.json() if line["logger"] == log.name]
    assert sorted(str(line.get("request_id")) for line in ours) == ["A1", "B2", "None"]


def test_request_ids_are_kept_printable_and_short() -> None:
    with log_context(request_id="Ev0\nFORGED line " + "x" * 500):
        shown = current_log_context().request_id
    assert shown is not None and "\n" not in shown and " " not in shown
    assert shown.startswith("Ev0FORGEDline") and len(shown) == logs.MAX_REQUEST_ID


def test_a_field_given_with_the_line_wins(lines: Captured) -> None:
    with log_context(incident="INC-1"):
        log.info("about another", extra={"incident": "INC-2"})
    assert lines.one()["incident"] == "INC-2"


# Secrets ---------------------------------------------------------------------------


def test_a_secret_goes_from_the_message_its_arguments_and_the_exception(
    lines: Captured,
) -> None:
    log.info(f"in the message {SECRET}")
    log.info("in an argument %s", SECRET)
    log.info("in a mapping %(token)s", {"token": SECRET})
    try:
        raise ValueError(f"in the exception {SECRET}")
    except ValueError:
        log.exception("failed with %r", {"quoted": SECRET})
    log.info("in the stack", stack_info=True, extra={"request_id": "r"})
    written = "\n".join(lines.lines())
    assert SECRET not in written
    assert written.count("[redacted]") >= 5
    assert lines.json()[3]["exception"].endswith("ValueError: in the exception [redacted]")


@pytest.mark.parametrize(
    "leak",
    [
        "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
        "xapp-1-A0123456789-1234567890-abcdef0123456789",
        "xoxp-1234-5678-abcdefabcdef",
        "Authorization: Bearer eyJhbGciOi.something-long-enough",
        "Bearer abcdefgh12345678",
        "postgresql+psycopg://warroom:hunter2-pw@db.internal/warroom",
        "https://user:pa55word@hooks.example/page",
        "password=hunter2-pw",
    ],
)
def test_anything_shaped_like_a_token_goes_too(lines: Captured, leak: str) -> None:
    log.warning("calling with %s", leak)
    message = lines.one()["message"]
    assert "[redacted]" in message
    for secret_part in ("AbCdEfGh", "abcdef0123", "abcdefabcdef", "something-long", "12345678"):
        assert secret_part not in message
    assert "hunter2" not in message and "pa55word" not in message


def test_secrets_stay_out_of_the_text_format_too(text_lines: Captured) -> None:
    log.error("token %s", SECRET)
    assert SECRET not in text_lines.stream.getvalue()


def test_every_configured_secret_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text(
        """
escalation:
  - level: L1
    contacts:
      pagerduty: {routing_key_env: T_PD_KEY}
      webhook: {url: "https://hooks.example/page", secret_env: T_PAGE_SECRET}
alerts:
  sources:
    alertmanager: {token_env: T_AM_TOKEN}
    grafana: {token_env: T_GRAFANA_TOKEN, hmac_secret_env: T_GRAFANA_HMAC}
diagnostics:
  checks:
    - {name: api, type: http, url: "https://api.example/health",
       headers: {Authorization: {env: T_DIAG_HEADER}, X-Plain: not-a-secret}}
    - {name: db, type: postgres, dsn_env: T_DIAG_DSN}
    - {name: cmd, type: command, argv: ["true"], env: {TOKEN: {env: T_CMD_TOKEN}, MODE: fast}}
postmortem:
  confluence: {base_url: "https://acme.example/wiki", space: OPS,
               user_env: T_CONFLUENCE_USER, token_env: T_CONFLUENCE_TOKEN}
"""
    )
    policy = load_policy(policy_file)
    names = {
        "T_PD_KEY", "T_PAGE_SECRET", "T_AM_TOKEN", "T_GRAFANA_TOKEN", "T_GRAFANA_HMAC",
        "T_DIAG_HEADER", "T_DIAG_DSN", "T_CMD_TOKEN", "T_CONFLUENCE_USER", "T_CONFLUENCE_TOKEN",
    }  # fmt: skip
    assert policy_environment_names(policy) == names
    for name in names:
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.setenv("T_DIAG_DSN", "postgresql://diag:diag-pw-77@db/app")
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-bot-value",
        slack_signing_secret="signing-value",
        slack_app_token="xapp-app-value",
        teams_app_id="teams-app-id",
        teams_app_password="teams-password-value",
        alert_token="alert-token-value",
        web_token="web-token-value",
        database_url="postgresql+psycopg://warroom:dsn-pw-value@db.internal/warroom",
    )
    found = configured_secrets(settings, policy)
    expected = {f"value-of-{n}" for n in names - {"T_DIAG_DSN"}} | {
        "xoxb-bot-value", "signing-value", "xapp-app-value", "teams-password-value",
        "alert-token-value", "web-token-value", "dsn-pw-value",
        "postgresql://diag:diag-pw-77@db/app", "diag-pw-77",
    }  # fmt: skip
    assert found == expected
    # Addresses and ids are not secrets: they stay readable in the lines.
    assert settings.slack_api_url not in found and "teams-app-id" not in found


# Where the context is set ------------------------------------------------------------


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


async def _incident(db: Database, clock: SteppingClock, number: int) -> int:
    def insert(session: Session) -> int:
        row = insert_incident(
            session,
            number=number,
            title="Checkout errors",
            severity="SEV2",
            status=Status.INVESTIGATING,
            private=False,
            declared_by="U1",
            started_at=clock.now,
        )
        return row.id or 0

    return await db.transaction(insert)


async def test_a_delivery_s_lines_name_it_and_its_incident(
    db: Database, clock: SteppingClock, lines: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    track_incident_keys()
    created_here = await _incident(db, clock, 41)
    # An incident another process created: its key is learnt when the effect reads it.
    monkeypatch.setattr(logs, "_INCIDENT_KEYS", logs._IncidentKeys())
    elsewhere = await _incident(db, clock, 42)
    monkeypatch.setattr(logs, "_INCIDENT_KEYS", logs._IncidentKeys())
    logs.remember_incident_key(created_here, "INC-41")

    async def effect(delivery: Delivery) -> None:
        await db.transaction(lambda session: session.get(Incident, delivery.incident_id))
        log.info("posting for %s", delivery.kind)

    for incident_id in (created_here, elsewhere):
        await db.transaction(
            lambda s, i=incident_id: enqueue(  # type: ignore[misc]
                s, incident_id=i, owed=[(DeliveryKind.POST_MESSAGE, {})], now=clock.now
            )
        )
    worker = DeliveryWorker(db=db, effects={"post_message": effect}, clock=clock)
    assert await worker.drain() == 2
    written = {line["incident"]: line for line in lines.json() if line["logger"] == log.name}
    assert set(written) == {"INC-41", "INC-42"}
    assert all(isinstance(line["delivery_id"], int) for line in written.values())
    assert written["INC-41"]["delivery_id"] != written["INC-42"]["delivery_id"]
    assert current_log_context().delivery_id is None  # nothing stays behind


async def test_a_slack_request_s_lines_name_slack_s_id_for_it(lines: Captured) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from slack_bolt.request.async_request import AsyncBoltRequest

    from handlers.slack import _name_the_request
    from tests.support.slack_requests import command_fields, form_body

    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-x")

    app = AsyncApp(
        signing_secret="s",
        authorize=authorize,
        request_verification_enabled=False,
        process_before_response=True,
    )
    app.use(_name_the_request)

    @app.command("/incident")
    async def listener(ack: Any) -> None:
        log.info("listener ran")
        await ack()

    fields = command_fields("help", user="U1", channel="C1", response_url="https://x.invalid")
    body = form_body(fields).decode()
    # Its own task, as each HTTP request and Socket Mode message has.
    response = await asyncio.create_task(app.async_dispatch(AsyncBoltRequest(body=body)))
    assert response.status == 200
    (ran,) = [line for line in lines.json() if line["message"] == "listener ran"]
    assert ran["request_id"] == fields["trigger_id"]
    assert current_log_context().request_id is None


async def test_a_teams_activity_s_lines_name_its_id(lines: Captured) -> None:
    from handlers.teams.messages import TeamsMessages

    class Book:
        async def remember(self, activity: dict[str, Any]) -> Any:
            raise RuntimeError("the database went away")

    door = TeamsMessages(
        inbound=None,  # type: ignore[arg-type]
        submissions=None,  # type: ignore[arg-type]
        book=Book(),  # type: ignore[arg-type]
        connector=None,  # type: ignore[arg-type]
        tokens=None,
        card_of=None,  # type: ignore[arg-type]
    )
    activity = {
        "type": "message",
        "id": "1481567603816",
        "serviceUrl": "https://smba.example/teams/",
        "conversation": {"id": "19:abc@thread.tacv2"},
        "from": {"id": "29:person"},
        "recipient": {"id": "28:warroom"},
    }
    body = json.dumps(activity).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/api/messages", "headers": []}
    response = await door.handle(Request(scope, receive))
    assert response.status_code == 503, bytes(response.body)
    (failed,) = [line for line in lines.json() if line["logger"] == "handlers.teams.messages"]
    assert failed["message"] == "Teams activity could not be served"
    assert failed["request_id"] == "1481567603816" and "RuntimeError" in failed["exception"]
