"""warroom's log lines: JSON objects (one a line) or text, each naming what it was written
for (the incident, the chat platform's request, the outbox delivery), with every secret
taken out before it is written.

The standard library's logging, not a JSON logging package: a formatter is a few lines,
and it keeps the field names, the context and the redaction in one place without another
dependency in the wheel.

Context rides on a `ContextVar`: set where work enters (a platform's request, a delivery
run by the worker) with `log_context(...)` (a `with` or `async with` block), and read by
every line logged inside, tasks started from there included (they copy the context).
Entry points that give no block to wrap (a framework's middleware, which returns before
the request's handler runs) use `bind_log_context(...)`, which holds for the rest of the
current task: each request has one of its own.

Deliveries know their incident's id, not its key: the key (INC-7) is found in a small
table of the incidents this process has read or created (bot/storage/incident_keys.py
fills it), so no log line costs a query.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, TextIO

from bot.observability.redaction import SecretRedactor

LogFormat = Literal["json", "text"]
# The fields a line carries when it was written for one of these (in this order).
CONTEXT_FIELDS = ("incident", "request_id", "delivery_id")
# Incidents whose key is remembered for their deliveries' lines: far more than are ever
# active at once, and a few hundred kilobytes at most.
MAX_REMEMBERED_INCIDENTS = 10_000
# A platform's request id is untrusted input: printable, no spaces, and short.
MAX_REQUEST_ID = 128
TEXT_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class LogContext:
    incident: str | None = None  # the key, INC-7
    incident_id: int | None = None  # when only the id is known (a delivery)
    request_id: str | None = None
    delivery_id: int | None = None

    def merged(
        self,
        *,
        incident: str | None,
        incident_id: int | None,
        request_id: str | None,
        delivery_id: int | None,
    ) -> LogContext:
        """This context with the fields given (None leaves a field as it was)."""
        changes: dict[str, object] = {}
        if incident is not None:
            changes["incident"] = incident
        if incident_id is not None:
            changes["incident_id"] = incident_id
        if request_id is not None and (cleaned := _clean_request_id(request_id)):
            changes["request_id"] = cleaned
        if delivery_id is not None:
            changes["delivery_id"] = delivery_id
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]


_NO_CONTEXT = LogContext()
_CONTEXT: ContextVar[LogContext | None] = ContextVar("warroom_log_context", default=None)


def _clean_request_id(value: str) -> str:
    return "".join(ch for ch in value if ch.isprintable() and not ch.isspace())[:MAX_REQUEST_ID]


def current_log_context() -> LogContext:
    return _CONTEXT.get() or _NO_CONTEXT


class _Scope:
    """The block of a `log_context(...)`: a `with` or an `async with`."""

    def __init__(self, context: LogContext) -> None:
        self._context = context
        self._tokens: list[Token[LogContext | None]] = []

    def __enter__(self) -> LogContext:
        self._tokens.append(_CONTEXT.set(self._context))
        return self._context

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _CONTEXT.reset(self._tokens.pop())

    async def __aenter__(self) -> LogContext:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, error, traceback)


def log_context(
    *,
    incident: str | None = None,
    incident_id: int | None = None,
    request_id: str | None = None,
    delivery_id: int | None = None,
) -> _Scope:
    """Lines logged within the block name these (on top of the enclosing block's)."""
    return _Scope(
        current_log_context().merged(
            incident=incident,
            incident_id=incident_id,
            request_id=request_id,
            delivery_id=delivery_id,
        )
    )


def bind_log_context(
    *,
    incident: str | None = None,
    incident_id: int | None = None,
    request_id: str | None = None,
    delivery_id: int | None = None,
) -> None:
    """Like `log_context`, for the rest of the current task (or thread)."""
    _CONTEXT.set(
        current_log_context().merged(
            incident=incident,
            incident_id=incident_id,
            request_id=request_id,
            delivery_id=delivery_id,
        )
    )


class _IncidentKeys:
    """Incident id -> key, for the incidents this process has seen lately (thread-safe:
    the database threads fill it, the event loop reads it)."""

    def __init__(self, capacity: int = MAX_REMEMBERED_INCIDENTS) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, incident_id: int, key: str) -> None:
        with self._lock:
            self._keys[incident_id] = key
            self._keys.move_to_end(incident_id)
            while len(self._keys) > self._capacity:
                self._keys.popitem(last=False)

    def get(self, incident_id: int) -> str | None:
        with self._lock:
            return self._keys.get(incident_id)


_INCIDENT_KEYS = _IncidentKeys()


def remember_incident_key(incident_id: int, key: str) -> None:
    _INCIDENT_KEYS.remember(incident_id, key)


class ContextFields(logging.Filter):
    """Puts the current context's fields on each record (`record.incident`, …); a field
    given with `extra=` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_log_context()
        incident = context.incident
        if incident is None and context.incident_id is not None:
            incident = _INCIDENT_KEYS.get(context.incident_id)
        for name, value in (
            ("incident", incident),
            ("request_id", context.request_id),
            ("delivery_id", context.delivery_id),
        ):
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def _context_of(record: logging.LogRecord) -> list[tuple[str, object]]:
    return [
        (name, value)
        for name in CONTEXT_FIELDS
        if (value := getattr(record, name, None)) is not None
    ]


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, the
    exception's text when there is one, and the context fields that are set."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        entry.update(_context_of(record))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [incident=INC-7 request_id=… delivery_id=12]`, in UTC."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, TEXT_DATE_FORMAT)
        self.converter = time.gmtime

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = _context_of(record)
        if context:
            line += " [" + " ".join(f"{name}={value}" for name, value in context) + "]"
        return line


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a line is written (not when configured)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # under the handler's lock: Handler.handle holds it
        super().emit(record)


def default_format(stream: TextIO | None = None) -> LogFormat:
    """JSON where a program reads the lines (a file, a pipe, a collector), text on a terminal."""
    target = stream if stream is not None else sys.stderr
    try:
        return "text" if target.isatty() else "json"
    except (AttributeError, ValueError):  # no stream, or a closed one
        return "json"


def build_handler(
    *, log_format: LogFormat, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """A handler that writes `log_format` lines with the context and without `secrets`
    (nor anything shaped like a token)."""
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.addFilter(ContextFields())
    handler.addFilter(SecretRedactor(secrets))
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(
    *, level: str, log_format: LogFormat, secrets: Iterable[str] = ()
) -> logging.Handler | None:
    """Send every logger's lines (uvicorn's included: they propagate to the root) to
    stderr in `log_format`. Logging configured already (handlers on the root logger, as
    a test runner sets) is left as it is, as `logging.basicConfig` does; returns the
    handler installed, if any."""
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = build_handler(log_format=log_format, secrets=secrets)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
