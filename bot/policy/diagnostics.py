"""The policy's `diagnostics:` section: the checks warroom may run, and the runbooks'
diagnostic trees built from them.

People only ever choose a check or runbook by name: every target, argument and header
is written here by the operator. Secrets are never written here either: a header value,
a DSN or a command's environment names the environment variable that holds it
(`{env: NAME}`), looked up when the check runs (`bot.diagnostics.checks`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField

from bot.diagnostics.expect import Expectation, ExpectationError, parse_expectation
from bot.policy.fields import Duration

__all__ = [
    "CheckDefinition",
    "CommandCheck",
    "DiagnosticsPolicy",
    "DnsCheck",
    "EnvRef",
    "HttpCheck",
    "PostgresCheck",
    "PrometheusCheck",
    "Runbook",
    "RunbookStep",
    "TcpCheck",
    "TlsCheck",
]

EnvName = Annotated[str, PydanticField(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
# What `/incident diag <name>` types: one word, so a name never needs quoting.
CheckName = Annotated[str, PydanticField(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
# Names `/incident diag` itself gives a meaning to.
RESERVED_NAMES = frozenset({"all", "list", "help"})
DEFAULT_TIMEOUT = timedelta(seconds=5)
MAX_TIMEOUT = timedelta(minutes=5)
Port = Annotated[int, PydanticField(ge=1, le=65535)]


class EnvRef(BaseModel):
    """A value kept in the environment: `{env: WARROOM_DIAG_API_TOKEN}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: EnvName


# A plain value, or one from the environment (a secret).
Value = str | EnvRef


def _to_expectation(value: Any) -> Expectation:
    if isinstance(value, Expectation):
        return value
    if not isinstance(value, str):
        raise ValueError("an expectation is text, e.g. '$.status == \"ok\"'")
    try:
        return parse_expectation(value)
    except ExpectationError as error:
        raise ValueError(str(error)) from None


ExpectationText = Annotated[
    Expectation,
    PlainValidator(_to_expectation),
    PlainSerializer(lambda expectation: expectation.text, return_type=str),
    WithJsonSchema({"type": "string", "examples": ['$.status == "ok"']}),
]


def _url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as error:
        raise ValueError(f"{value!r} is not a URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return value


def _host(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:\[\]-]{1,253}", value):
        raise ValueError(f"{value!r} is not a host name or address")
    return value.strip("[]")


class CheckBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CheckName
    description: str = ""
    timeout: Duration = DEFAULT_TIMEOUT

    @field_validator("timeout")
    @classmethod
    def _timeout_in_range(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= MAX_TIMEOUT:
            raise ValueError("timeout must be longer than 0s and at most 5m")
        return value

    def target(self) -> str:
        """What the check looks at, for `/incident diag` (never a secret)."""
        raise NotImplementedError

    def env_refs(self) -> list[str]:
        """The environment variables the check reads."""
        return []


class HttpCheck(CheckBase):
    type: Literal["http"]
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    url: str
    headers: dict[str, Value] = PydanticField(default_factory=dict)
    expect_status: int | tuple[int, ...] = 200
    expect: tuple[ExpectationText, ...] = ()
    ca_file: str | None = None  # trust this CA bundle instead of the system's
    follow_redirects: bool = False

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return _url(value)

    @field_validator("expect_status")
    @classmethod
    def _valid_statuses(cls, value: int | tuple[int, ...]) -> int | tuple[int, ...]:
        statuses = (value,) if isinstance(value, int) else value
        if not statuses:
            raise ValueError("expect_status names at least one status")
        for status in statuses:
            if not 100 <= status <= 599:
                raise ValueError(f"{status} is not an HTTP status (100 to 599)")
        return value

    def statuses(self) -> tuple[int, ...]:
        return (self.expect_status,) if isinstance(self.expect_status, int) else self.expect_status

    def target(self) -> str:
        url = httpx.URL(self.url)
        return f"{self.method} {url.copy_with(query=None, fragment=None, userinfo=b'')}"

    def env_refs(self) -> list[str]:
        return [value.env for value in self.headers.values() if isinstance(value, EnvRef)]


class TcpCheck(CheckBase):
    type: Literal["tcp"]
    host: str
    port: Port

    @field_validator("host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        return _host(value)

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class PostgresCheck(CheckBase):
    type: Literal["postgres"]
    dsn_env: EnvName
    # Connections in use, as a share of max_connections, that warn and fail.
    warn_connections: Annotated[float, PydanticField(gt=0, le=1)] = 0.8
    fail_connections: Annotated[float, PydanticField(gt=0, le=1)] = 0.95
    # A query running longer than this warns (None: never).
    warn_query_age: Duration | None = timedelta(minutes=5)

    @model_validator(mode="after")
    def _warn_before_fail(self) -> PostgresCheck:
        if self.warn_connections > self.fail_connections:
            raise ValueError("warn_connections must not be more than fail_connections")
        return self

    def target(self) -> str:
        return f"the database in ${self.dsn_env}"

    def env_refs(self) -> list[str]:
        return [self.dsn_env]


class DnsCheck(CheckBase):
    type: Literal["dns"]
    host: str
    expect_address: str | tuple[str, ...] | None = None

    @field_validator("host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        return _host(value)

    @field_validator("expect_address")
    @classmethod
    def _valid_addresses(cls, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        # The lookup answers addresses only: a name here could never be met.
        for address in (value,) if isinstance(value, str) else value or ():
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address") from None
        if value == ():
            raise ValueError("expect_address names at least one address")
        return value

    def addresses(self) -> tuple[str, ...]:
        if self.expect_address is None:
            return ()
        if isinstance(self.expect_address, str):
            return (self.expect_address,)
        return self.expect_address

    def target(self) -> str:
        expected = f" → {', '.join(self.addresses())}" if self.expect_address else ""
        return f"{self.host}{expected}"


class TlsCheck(CheckBase):
    type: Literal["tls"]
    host: str
    port: Port = 443
    server_name: str | None = None  # SNI and the name verified (default: host)
    warn_days: Annotated[int, PydanticField(ge=0)] = 14
    fail_days: Annotated[int, PydanticField(ge=0)] = 3
    ca_file: str | None = None

    @field_validator("host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        return _host(value)

    @model_validator(mode="after")
    def _fail_before_warn(self) -> TlsCheck:
        if self.fail_days > self.warn_days:
            raise ValueError("fail_days must not be more than warn_days")
        return self

    def target(self) -> str:
        return f"{self.host}:{self.port}"


class PrometheusCheck(CheckBase):
    type: Literal["prometheus"]
    url: str
    query: Annotated[str, PydanticField(min_length=1, max_length=4000)]
    headers: dict[str, Value] = PydanticField(default_factory=dict)
    warn_above: float | None = None
    fail_above: float | None = None
    warn_below: float | None = None
    fail_below: float | None = None
    unit: str = ""  # how the value is shown: "s", "%", "req/s"
    ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return _url(value)

    @model_validator(mode="after")
    def _warn_before_fail(self) -> PrometheusCheck:
        # A warning comes before the failure: a value crossing the failing bound has
        # crossed the warning one already.
        if (
            self.warn_above is not None
            and self.fail_above is not None
            and self.warn_above > self.fail_above
        ):
            raise ValueError("warn_above must not be more than fail_above")
        if (
            self.warn_below is not None
            and self.fail_below is not None
            and self.warn_below < self.fail_below
        ):
            raise ValueError("warn_below must not be less than fail_below")
        return self

    def target(self) -> str:
        return f"{httpx.URL(self.url).copy_with(userinfo=b'')} {self.query}"

    def env_refs(self) -> list[str]:
        return [value.env for value in self.headers.values() if isinstance(value, EnvRef)]


class CommandCheck(CheckBase):
    type: Literal["command"]
    argv: Annotated[tuple[str, ...], PydanticField(min_length=1)]
    cwd: str | None = None
    # The command's environment: PATH, HOME, LANG, LC_ALL and TZ of warroom's, plus these
    # (warroom's own secrets are never passed on).
    env: dict[EnvName, Value] = PydanticField(default_factory=dict)
    expect_exit: int = 0

    def target(self) -> str:
        return " ".join(self.argv)

    def env_refs(self) -> list[str]:
        return [value.env for value in self.env.values() if isinstance(value, EnvRef)]


CheckDefinition = Annotated[
    HttpCheck | TcpCheck | PostgresCheck | DnsCheck | TlsCheck | PrometheusCheck | CommandCheck,
    PydanticField(discriminator="type"),
]


class RunbookStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check: CheckName
    hint: str = ""  # shown when the step fails: what to do about it


class Runbook(BaseModel):
    """A diagnostic tree: its checks in order, stopping at the first failure if asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CheckName
    title: str = ""
    description: str = ""
    stop_on_failure: bool = True
    steps: Annotated[tuple[RunbookStep, ...], PydanticField(min_length=1)]

    def label(self) -> str:
        return self.title or self.name


class RunPermission(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


class DiagnosticsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checks: tuple[CheckDefinition, ...] = ()
    runbooks: tuple[Runbook, ...] = ()
    # Who may run them, like the policy's permissions; absent: anyone in the incident's
    # channel or one of its people.
    run: RunPermission | None = None

    @model_validator(mode="after")
    def _names(self) -> DiagnosticsPolicy:
        problems: list[str] = []
        seen: dict[str, str] = {}
        # Checks and runbooks share one namespace: `/incident diag <name>` takes either.
        named = [("checks", index, check.name) for index, check in enumerate(self.checks)]
        named += [("runbooks", index, book.name) for index, book in enumerate(self.runbooks)]
        for section, index, name in named:
            where = f"diagnostics.{section}[{index}] ({name})"
            if name in RESERVED_NAMES:
                problems.append(f"{where}: {name!r} means something else to /incident diag")
            elif name in seen:
                problems.append(f"{where}: the name is used by {seen[name]} too")
            seen.setdefault(name, where)
        checks = set(self.check_names())
        for index, runbook in enumerate(self.runbooks):
            for step_index, step in enumerate(runbook.steps):
                if step.check not in checks:
                    problems.append(
                        f"diagnostics.runbooks[{index}] ({runbook.name}).steps[{step_index}]: "
                        f"no check is named {step.check!r}"
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def check_names(self) -> list[str]:
        return [check.name for check in self.checks]

    def check(self, name: str) -> CheckBase | None:
        return next((check for check in self.checks if check.name == name), None)

    def runbook(self, name: str) -> Runbook | None:
        return next((runbook for runbook in self.runbooks if runbook.name == name), None)

    def missing_environment(self, environ: Mapping[str, str]) -> list[str]:
        """One line per check whose environment reference is not set here."""
        return [
            f"diagnostics check {check.name}: ${name} is not set, so the check cannot run"
            for check in self.checks
            # A variable named twice (two headers from one token) is one problem.
            for name in dict.fromkeys(check.env_refs())
            if not environ.get(name)
        ]
