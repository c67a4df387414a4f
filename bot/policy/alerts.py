"""The policy's `alerts:` section: where alerts come from and how they are routed.

Routes are tried in order and the first whose matchers all match an alert group's labels
decides what happens to it (`bot.alerts.routing`): declare an incident, notify a channel,
or drop it. A `routes:` list in the policy file replaces the built-in routes as a whole.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
)
from pydantic import Field as PydanticField

from bot.alerts.matchers import Matcher, parse_matcher
from bot.policy.fields import Duration
from bot.policy.status_page import ComponentNames

__all__ = [
    "BUILT_IN_ROUTES",
    "AlertAction",
    "AlertRoute",
    "AlertSourceConfig",
    "AlertSources",
    "AlertsPolicy",
    "compile_title",
]

EnvName = Annotated[str, PydanticField(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
AlertAction = Literal["declare", "notify", "drop"]


class AlertSourceConfig(BaseModel):
    """One alert source's settings; secrets stay in the environment, named here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: EnvName | None = None  # its own bearer token (else WARROOM_ALERT_TOKEN)
    hmac_secret_env: EnvName | None = None  # Grafana: X-Grafana-Alerting-Signature secret
    # Alertmanager: where silences are created from chat (Silence 1h).
    alertmanager_url: Annotated[str, PydanticField(pattern=r"^https?://")] | None = None


class AlertSources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alertmanager: AlertSourceConfig | None = None
    grafana: AlertSourceConfig | None = None
    generic: AlertSourceConfig | None = None


# Immutable: a title template cannot change the labels it is given (`labels.clear()`).
# Chainable: a label an alert lacks renders empty, even as `labels.a.b`.
_TITLE_ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False
)


@lru_cache(maxsize=256)
def compile_title(source: str) -> Template:
    """A route's title template, compiled once; TemplateSyntaxError if it is not Jinja."""
    return _TITLE_ENVIRONMENT.from_string(source)


def _to_matcher(value: Any) -> Matcher:
    return value if isinstance(value, Matcher) else parse_matcher(value)


MatcherText = Annotated[
    Matcher,
    PlainValidator(_to_matcher),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ['severity="critical"']}),
]


class AlertRoute(BaseModel):
    """What to do with an alert group whose labels all of `matchers` match (none: any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None  # how logs and check-config call this route
    matchers: tuple[MatcherText, ...] = ()
    action: AlertAction = "declare"
    severity: str | None = None  # a ladder name; None: mapped from the severity label
    channel: str | None = None  # notify: where; None: the announce channel
    title: str | None = None  # a Jinja template over labels, annotations, source_title
    # The diagnostics runbook offered on the card of an incident this route declares, and
    # whether it runs as soon as the incident opens.
    runbook: str | None = None
    auto_run: bool = False
    auto_resolve: bool = False  # resolve the incident when every alert of it resolves
    # The status page components an incident this route declares names (one or a list).
    component: ComponentNames = ()
    # An alert group firing again this soon after its incident resolved reopens it.
    reopen_within: Duration = timedelta(hours=1)
    # New incidents this route declares per minute before the rest are folded into one
    # storm incident (which does not count).
    max_new_incidents_per_minute: Annotated[int, PydanticField(ge=1)] = 10

    @field_validator("title")
    @classmethod
    def _title_compiles(cls, title: str | None) -> str | None:
        if title is None:
            return None
        try:
            compile_title(title)
        except TemplateSyntaxError as exc:
            raise ValueError(
                f"title {title!r} is not a valid template: "
                f"{(exc.message or 'syntax error').rstrip('.')} (line {exc.lineno})"
            ) from None
        return title

    def label(self, index: int) -> str:
        """`alerts.routes[2] (payments)`, or `the fallback route` past the explicit ones."""
        if index < 0:
            return "the fallback route"
        return f"alerts.routes[{index}]" + (f" ({self.name})" if self.name else "")


def _route(*matchers: str, action: AlertAction) -> AlertRoute:
    return AlertRoute(matchers=tuple(parse_matcher(text) for text in matchers), action=action)


# The runbook's mapping of alert severities, used when the policy gives no routes.
# Severity labels are written in any case in the wild (`CRITICAL`, `Warning`).
BUILT_IN_ROUTES: tuple[AlertRoute, ...] = (
    _route('severity=~"(?i)critical"', action="declare"),
    _route('severity=~"(?i)error|high"', action="declare"),
    _route('severity=~"(?i)warning"', action="notify"),
    _route('severity=~"(?i)info|low"', action="drop"),
)


class AlertsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: AlertSources = AlertSources()
    # First match wins; a group no route matches is notified (see bot.alerts.routing).
    routes: tuple[AlertRoute, ...] = BUILT_IN_ROUTES
    # How long alert changes on one incident are gathered into one channel message.
    coalesce: Duration = timedelta(seconds=3)
