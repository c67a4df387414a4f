"""Who may send alerts: a bearer per source from the policy's variable or the process-wide
token, a 503 when neither is set, and nothing parsed before the sender is known."""

from __future__ import annotations

import pytest

from bot.alerts.model import AlertSource
from bot.policy.alerts import AlertSourceConfig, AlertSources
from handlers.alerts import AlertCredentials, credentials_for
from handlers.http import MAX_BODY_BYTES
from tests.handlers.alerts.conftest import BEARER, CONFIGURED, TOKEN, accepted, fixture, refused

AM = AlertSource.ALERTMANAGER
BODY = fixture("alertmanager/01-firing-one-alert.json")
UNCONFIGURED = AlertCredentials(token=None, token_name="WARROOM_ALERT_TOKEN", hmac_secret=None)


# Which token, from where ----------------------------------------------------------------


def test_without_a_policy_entry_the_process_wide_token_is_used() -> None:
    credentials = credentials_for(AM, AlertSources(), fallback_token="t0", environ={})
    assert credentials == AlertCredentials(
        token="t0", token_name="WARROOM_ALERT_TOKEN", hmac_secret=None
    )


def test_a_sources_token_env_names_its_own_token() -> None:
    sources = AlertSources(alertmanager=AlertSourceConfig(token_env="AM_TOKEN"))
    environ = {"AM_TOKEN": " am-secret\n"}
    credentials = credentials_for(AM, sources, fallback_token="t0", environ=environ)
    assert (credentials.token, credentials.token_name) == ("am-secret", "AM_TOKEN")
    # Other sources keep the process-wide token.
    grafana = credentials_for(AlertSource.GRAFANA, sources, fallback_token="t0", environ=environ)
    assert (grafana.token, grafana.token_name) == ("t0", "WARROOM_ALERT_TOKEN")


@pytest.mark.parametrize("environ", [{}, {"AM_TOKEN": ""}, {"AM_TOKEN": "  "}])
def test_a_token_env_that_is_not_set_is_not_configured_and_no_fallback(
    environ: dict[str, str],
) -> None:
    sources = AlertSources(alertmanager=AlertSourceConfig(token_env="AM_TOKEN"))
    credentials = credentials_for(AM, sources, fallback_token="t0", environ=environ)
    assert (credentials.token, credentials.token_name) == (None, "AM_TOKEN")


@pytest.mark.parametrize("fallback", [None, "", " "])
def test_no_token_at_all_is_not_configured(fallback: str | None) -> None:
    credentials = credentials_for(AM, AlertSources(), fallback_token=fallback, environ={})
    assert credentials.token is None


def test_only_grafana_takes_an_hmac_secret() -> None:
    config = AlertSourceConfig(hmac_secret_env="HMAC")
    sources = AlertSources(alertmanager=config, grafana=config)
    environ = {"HMAC": "s"}
    grafana = credentials_for(AlertSource.GRAFANA, sources, fallback_token="t", environ=environ)
    assert (grafana.hmac_secret, grafana.hmac_secret_name) == ("s", "HMAC")
    alertmanager = credentials_for(AM, sources, fallback_token="t", environ=environ)
    assert (alertmanager.hmac_secret, alertmanager.hmac_secret_name) == (None, None)
    unset = credentials_for(AlertSource.GRAFANA, sources, fallback_token="t", environ={})
    assert (unset.hmac_secret, unset.hmac_secret_name) == (None, "HMAC")


# Refusals, in order ---------------------------------------------------------------------


@pytest.mark.parametrize("source", list(AlertSource))
async def test_a_source_with_no_token_answers_503_naming_the_variable(source: AlertSource) -> None:
    refusal = await refused(source, BODY, credentials=UNCONFIGURED, headers={})
    assert refusal.status == 503
    assert refusal.body() == {
        "ok": False,
        "error": "alerts_not_configured",
        "detail": f"set WARROOM_ALERT_TOKEN (or token_env in the policy's {source} alert source)",
    }


async def test_an_unset_token_env_answers_503_naming_that_variable() -> None:
    credentials = AlertCredentials(token=None, token_name="AM_TOKEN", hmac_secret=None)
    refusal = await refused(AM, BODY, credentials=credentials, headers=BEARER)
    assert (refusal.status, refusal.error) == (503, "alerts_not_configured")
    assert (
        refusal.detail
        == "set AM_TOKEN (named by token_env in the policy's alertmanager alert source)"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer tökén"},
        {"X-Token": TOKEN},
    ],
)
async def test_a_missing_or_wrong_bearer_is_refused(headers: dict[str, str]) -> None:
    refusal = await refused(AM, BODY, headers=headers)
    assert (refusal.status, refusal.error) == (401, "unauthorized")


@pytest.mark.parametrize(
    "authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer  {TOKEN} "]
)
async def test_the_bearer_scheme_is_case_blind(authorization: str) -> None:
    await accepted(AM, BODY, headers={"Authorization": authorization})


async def test_a_non_ascii_token_is_compared_as_bytes() -> None:
    credentials = AlertCredentials(token="jeton-é", token_name="T", hmac_secret=None)
    headers = {"Authorization": "Bearer jeton-é".encode().decode("latin-1")}
    await accepted(AM, BODY, credentials=credentials, headers=headers)


async def test_nothing_is_parsed_before_the_bearer_matches() -> None:
    refusal = await refused(AM, b"\xff not even text", headers={"Authorization": "Bearer wrong"})
    assert refusal.status == 401


async def test_the_size_is_checked_first() -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    for declare in (True, False):
        refusal = await refused(AM, body, credentials=UNCONFIGURED, headers={}, declare=declare)
        assert (refusal.status, refusal.error) == (413, "request_too_large")


async def test_a_body_of_exactly_the_limit_is_read() -> None:
    refusal = await refused(AM, b" " * MAX_BODY_BYTES, credentials=CONFIGURED)
    assert (refusal.status, refusal.error) == (400, "invalid_json")


# Bodies that are not JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"", "Expecting value (line 1 column 1)"),
        (b'{"alerts": [', "Expecting value (line 1 column 13)"),
        (b"{'single': 'quotes'}", None),
        (b'{"value": NaN}', "NaN is not JSON"),
        (b'{"value": -Infinity}', "-Infinity is not JSON"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"title": "\\ud800"}', "an unpaired surrogate escape is not text"),
        (b'{"n": ' + b"9" * 5000 + b"}", None),
    ],
)
async def test_a_body_that_is_not_json_is_a_400(body: bytes, detail: str | None) -> None:
    for source in AlertSource:
        refusal = await refused(source, body)
        assert (refusal.status, refusal.error, refusal.field) == (400, "invalid_json", None)
        assert len(refusal.detail) <= 200
        if detail is not None:
            assert refusal.detail == detail
