"""The door of `/alerts/<source>`: a webhook body checked step by step and turned into
the core's `AlertBatch`, or refused with the first reason found.

The steps run in this order, so that nothing is parsed for a sender that may not send:
size (413), a token configured (503), the bearer (401), Grafana's signature (401), JSON
(400), the source's payload (422).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from bot.alerts.model import AlertBatch, AlertSource
from handlers.alerts import alertmanager, generic, grafana
from handlers.alerts.auth import AlertCredentials, check_access
from handlers.http import Refusal, read_limited

MAX_DETAIL = 200
MAX_FIELD_PART = 64
# Only a body with such an escape can decode to a str that is not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class _Reader:
    model: type[BaseModel]
    to_batch: Callable[[Any], AlertBatch]


_READERS = {
    AlertSource.ALERTMANAGER: _Reader(alertmanager.AlertmanagerWebhook, alertmanager.to_batch),
    AlertSource.GRAFANA: _Reader(grafana.GrafanaWebhook, grafana.to_batch),
    AlertSource.GENERIC: _Reader(generic.GenericAlert, generic.to_batch),
}


async def read_alert(
    request: Request, *, source: AlertSource, credentials: AlertCredentials
) -> AlertBatch | Refusal:
    body = await read_limited(request)
    if isinstance(body, Refusal):
        return body
    refusal = check_access(credentials, request.headers, source)
    if refusal is None and source is AlertSource.GRAFANA and credentials.hmac_secret:
        refusal = grafana.check_signature(body, request.headers, credentials.hmac_secret)
    if refusal is not None:
        return refusal
    document = parse_json(body)
    if isinstance(document, Refusal):
        return document
    return translate(source, document)


def parse_json(body: bytes) -> Any:
    """The JSON value of the body, or a 400 saying where it stops being JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "invalid_json", "not UTF-8 text")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return Refusal(400, "invalid_json", f"{exc.msg} (line {exc.lineno} column {exc.colno})")
    except RecursionError:
        return Refusal(400, "invalid_json", "nested too deeply")
    except ValueError as exc:  # NaN and Infinity, or an integer too long to convert
        return Refusal(400, "invalid_json", _clip(str(exc)))
    if _SURROGATE_ESCAPE.search(text) and not _is_text(document):
        return Refusal(400, "invalid_json", "an unpaired surrogate escape is not text")
    return document


def translate(source: AlertSource, document: Any) -> AlertBatch | Refusal:
    """The batch a JSON document stands for, or a 422 naming the first field at fault."""
    reader = _READERS[source]
    try:
        payload = reader.model.model_validate(document)
    except ValidationError as exc:
        return _invalid(exc)
    return reader.to_batch(payload)


def request_schema(source: AlertSource) -> dict[str, Any]:
    """The JSON schema of the source's body, self-contained (no `$ref`s), for a route's
    `openapi_extra={"requestBody": {"content": {"application/json": {"schema": ...}}}}`."""
    schema = _READERS[source].model.model_json_schema(by_alias=True, mode="validation")
    definitions = schema.pop("$defs", {})
    inlined: dict[str, Any] = _inline(schema, definitions)
    return copy.deepcopy(inlined)


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            target = definitions[reference.removeprefix("#/$defs/")]
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            return _inline({**target, **siblings}, definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def _invalid(exc: ValidationError) -> Refusal:
    error = exc.errors(include_url=False, include_context=False, include_input=False)[0]
    location = list(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if "[key]" in location:
        # A bad key: name the mapping, not the (possibly long) key itself.
        location = location[: location.index("[key]") - 1]
        message = f"a key: {message}"
    if not location:
        return Refusal(422, "invalid_payload", "expected a JSON object", field=None)
    field = ".".join(_clip(str(part), MAX_FIELD_PART) for part in location)
    return Refusal(422, "invalid_payload", _clip(message), field=field)


def _clip(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_text(document: Any) -> bool:
    # A lone \ud800 escape decodes to a str that cannot be encoded, stored or shown.
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
