"""Spec loading and request checks for the fake Slack Web API.

Everything here is pure: it reads the specs once and turns a decoded request into a list of
`Problem`s, each naming the error Slack would answer and what exactly was wrong.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from starlette.requests import Request

MESSAGE_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage"}
)
MAX_MESSAGE_BLOCKS = 50  # the schema allows 100 (modals); a message takes 50
MAX_TEXT_CHARS = 40_000
JSON_ARGS = ("blocks", "view", "metadata")
# Args every method takes although the specs never list them: slack_sdk adds `team_id` to
# every call of a client built with one, as Bolt's per-request client always is.
IMPLICIT_ARGS = frozenset({"token", "team_id"})
VIEW_KINDS = {
    "views.open": "modal",
    "views.push": "modal",
    "views.update": "modal",
    "views.publish": "home",
}
RESPONSE_URL_KEYS = frozenset(
    {
        "text",
        "blocks",
        "attachments",
        "response_type",
        "replace_original",
        "delete_original",
        "unfurl_links",
        "unfurl_media",
        "thread_ts",
        "metadata",
        "mrkdwn",
    }
)

_BOOLEAN_STRINGS = frozenset({"true", "false", "1", "0"})
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request.

    `error` is what Slack answers; an empty `error` means Slack still accepts the call (it
    silently repairs it) but the app should not rely on that.
    """

    error: str
    detail: str


def truthy(value: Any) -> bool:
    """Slack's reading of a boolean arg, which arrives as a JSON bool or a form string."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def decode_json_args(args: dict[str, Any]) -> list[Problem]:
    """Decode JSON-string args in place; form bodies carry them as strings."""
    problems = []
    for name in JSON_ARGS:
        value = args.get(name)
        if not isinstance(value, str):
            continue
        try:
            args[name] = json.loads(value)
        except ValueError as exc:
            code = "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
            problems.append(Problem(code, f"`{name}` is not valid JSON ({exc})"))
    return problems


def _pick(errors: Iterable[ValidationError]) -> ValidationError | None:
    """Pick the error that says what is wrong, following unions by their `type`.

    Block Kit is a `oneOf` keyed by `type`. jsonschema's own `best_match` often descends
    into the branch for another type ("'card' was expected"), so follow the branch whose
    `type` matched instead.
    """
    best = max(errors, key=relevance, default=None)
    if best is None or best.validator not in ("oneOf", "anyOf") or not best.context:
        return best
    branches: dict[Any, list[ValidationError]] = {}
    for sub in best.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    matching = [errs for errs in branches.values() if not any(map(_rejects_type, errs))]
    if len(matching) == 1:
        return _pick(matching[0])
    if matching:  # several shapes fit the type (section: text or fields): name them all
        picks = [_pick(errs) for errs in matching]
        best.message = "; or ".join(dict.fromkeys(_message(p) for p in picks if p))
    elif isinstance(best.instance, dict) and "type" in best.instance:
        best.message = f"unknown type {best.instance['type']!r}"
    return best


def _rejects_type(error: ValidationError) -> bool:
    """Did this branch of a union fail on the instance's kind rather than its content?"""
    if error.validator in ("const", "enum") and list(error.relative_path) == ["type"]:
        return True
    return error.validator == "type" and not error.relative_path


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 40, 40, 3, 3


def _message(error: ValidationError) -> str:
    # jsonschema quotes the whole instance; a 3001-char text would drown the actual reason.
    message, full = str(error.message), repr(error.instance)
    if len(full) > 60:
        short = _SHORT.repr(error.instance)
        if isinstance(error.instance, str):
            short += f" ({len(error.instance)} chars)"
        elif isinstance(error.instance, list):
            short = f"[...] ({len(error.instance)} items)"
        message = message.replace(full, short)
    if error.validator in ("maxLength", "maxItems", "minLength", "minItems"):
        message += f" ({error.validator[:3]} {error.validator_value})"
    return message


def _describe(errors: Iterable[ValidationError], prefix: str) -> str | None:
    error = _pick(errors)
    if error is None:
        return None
    path = "/".join(str(p) for p in error.absolute_path)
    return f"{prefix}/{path}: {_message(error)}" if path else f"{prefix}: {_message(error)}"


class SlackSpecs:
    """The method specs and Block Kit validators, built once per specs directory."""

    def __init__(self, specs_dir: Path) -> None:
        methods_dir = specs_dir / "methods"
        if not methods_dir.is_dir():
            raise FileNotFoundError(f"no Slack method specs in {methods_dir}")
        self.methods: dict[str, dict[str, Any]] = {
            path.stem: json.loads(path.read_text()) for path in methods_dir.glob("*.json")
        }
        self.common_errors: dict[str, str] = json.loads(
            (specs_dir / "common_errors.json").read_text()
        )
        schema = json.loads((specs_dir / "block-kit.schema.json").read_text())
        self._blocks = Draft202012Validator(schema)
        self._views = {
            kind: Draft202012Validator({"$ref": f"#/$defs/{kind}_view", "$defs": schema["$defs"]})
            for kind in ("modal", "home")
        }

    def errors_of(self, method: str) -> set[str]:
        """Every error code `method` may answer, its own and the common ones."""
        return set(self.methods.get(method, {}).get("errors", {})) | set(self.common_errors)

    def blocks_problems(
        self, blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS
    ) -> list[Problem]:
        if not isinstance(blocks, list):
            return [Problem("invalid_blocks_format", "`blocks` must be a JSON array")]
        if len(blocks) > max_blocks:
            detail = f"{len(blocks)} blocks, a message takes at most {max_blocks}"
            return [Problem("invalid_blocks", detail)]
        described = _describe(self._blocks.iter_errors(blocks), "blocks")
        return [Problem("invalid_blocks", described)] if described else []

    def view_problems(self, view: Any, kind: str) -> list[Problem]:
        if not isinstance(view, dict):
            return [Problem("invalid_arguments", "`view` must be a JSON object")]
        detail = _describe(self._views[kind].iter_errors(view), f"view({kind})")
        return [Problem("invalid_arguments", detail)] if detail else []

    def call_problems(self, method: str, args: dict[str, Any]) -> list[Problem]:
        """Check decoded args of a call to a method that has a spec."""
        spec_args: dict[str, dict[str, Any]] = self.methods[method].get("args", {})
        problems = [
            Problem("invalid_arguments", f"argument `{name}` is not in the spec")
            for name in args
            if name not in spec_args and name not in IMPLICIT_ARGS
        ]
        problems += [
            Problem("missing_argument", f"required argument `{name}` is missing")
            for name, arg in spec_args.items()
            if arg.get("required") and args.get(name) is None
        ]
        problems += [
            Problem("invalid_arguments", f"`{name}`={args[name]!r} is not a {arg['type']}")
            for name, arg in spec_args.items()
            if name in args and not _has_type(args[name], arg.get("type"))
        ]
        if "blocks" in args:
            limit = MAX_MESSAGE_BLOCKS if method in MESSAGE_METHODS else 100
            problems += self.blocks_problems(args["blocks"], max_blocks=limit)
        if "view" in args and method in VIEW_KINDS:
            problems += self.view_problems(args["view"], VIEW_KINDS[method])
        if "metadata" in args:
            problems += _metadata_problems(args["metadata"])
        if method in MESSAGE_METHODS:
            problems += self._text_problems(method, args)
        return problems

    def _text_problems(self, method: str, args: dict[str, Any]) -> list[Problem]:
        text = args.get("text")
        if not any(args.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            return [Problem("no_text", "a message needs `text` or `blocks`")]
        if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
            # chat.postMessage truncates rather than failing; the others refuse.
            code = "msg_too_long" if "msg_too_long" in self.errors_of(method) else ""
            return [Problem(code, f"`text` has {len(text)} chars, over {MAX_TEXT_CHARS}")]
        return []

    def response_url_problems(self, body: Any) -> list[str]:
        """Check a message posted to a response_url (the same rules as chat.postMessage)."""
        if not isinstance(body, dict):
            return ["body must be a JSON object"]
        problems = [
            f"key `{key}` is not a response_url field"
            for key in body
            if key not in RESPONSE_URL_KEYS
        ]
        if body.get("response_type", "ephemeral") not in ("ephemeral", "in_channel"):
            problems.append(f"response_type {body['response_type']!r} is not ephemeral/in_channel")
        if "blocks" in body:
            problems += [p.detail for p in self.blocks_problems(body["blocks"])]
        text = body.get("text")
        if not truthy(body.get("delete_original")) and not text and not body.get("blocks"):
            problems.append("a message needs `text` or `blocks`")
        if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
            problems.append(f"`text` has {len(text)} chars, over {MAX_TEXT_CHARS}")
        return problems


async def read_request(request: Request) -> tuple[dict[str, Any], str | None, list[Problem]]:
    """Merge query args with a form or JSON body, as Slack accepts any of them."""
    args: dict[str, Any] = dict(request.query_params)
    problems = []
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw and content_type == "application/json":
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            args.update(body)
        else:
            problems.append(Problem("invalid_arguments", "the JSON body is not an object"))
    elif raw and content_type in ("application/x-www-form-urlencoded", ""):
        args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    elif raw:
        problems.append(Problem("invalid_post_type", f"unsupported body type {content_type!r}"))
    arg_token = args.pop("token", None)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else arg_token
    return args, (str(token) if token else None), problems + decode_json_args(args)


def token_problems(method: str, token: str | None) -> list[Problem]:
    if not token:
        return [Problem("not_authed", "no token (Authorization header or `token` arg)")]
    if method == "apps.connections.open":
        if token.startswith("xapp-"):
            return []
        return [Problem("invalid_auth", "apps.connections.open takes an app-level (xapp-) token")]
    if token.startswith("xapp-"):
        return [Problem("not_allowed_token_type", "an app-level token cannot call this method")]
    if not token.startswith(("xoxb-", "xoxp-")):
        return [Problem("invalid_auth", "the token is neither a bot (xoxb-) nor user token")]
    return []


def _has_type(value: Any, kind: str | None) -> bool:
    """Loose type check: form bodies carry everything as strings, JSON bodies carry values."""
    if kind == "boolean":
        return isinstance(value, bool) or (
            isinstance(value, str) and value.strip().lower() in _BOOLEAN_STRINGS
        )
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _INTEGER.fullmatch(value.strip()) is not None
        )
    if kind == "number":
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return False
            return True
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        # A float here is a real bug: a message ts sent as a float loses digits.
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    return True


def _metadata_problems(metadata: Any) -> list[Problem]:
    if isinstance(metadata, dict) and "entities" in metadata:
        return []  # work-object entity metadata: a different, open-ended shape
    if (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        return []
    detail = "`metadata` must be {event_type: str, event_payload: object}"
    return [Problem("invalid_metadata_format", detail)]


@lru_cache(maxsize=4)
def load_specs(specs_dir: Path) -> SlackSpecs:
    """Specs are read-only, so every fake on the same directory shares one copy."""
    return SlackSpecs(specs_dir.resolve())
