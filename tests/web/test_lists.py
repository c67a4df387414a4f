"""The open and resolved lists: what a row says, the overdue highlight, the filters (and
the 400 that a filter which cannot be applied gets)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import BEARER, TOKEN, MakeWeb, Web
from tests.web.seed import ALERT_TITLE, ALICE, PUBLIC_TITLE, RESOLVED_TITLE, command


def rows(answer: httpx.Response) -> dict[str, str]:
    """Each listed incident's row, by key."""
    return dict(
        re.findall(r'<tr class="incident[^"]*" data-key="(INC-\d+)">(.*?)</tr>', answer.text, re.S)
    )


def overdue(answer: httpx.Response) -> set[str]:
    return set(re.findall(r'<tr class="incident overdue" data-key="(INC-\d+)">', answer.text))


async def test_the_open_list_says_what_the_card_says(web: Web) -> None:
    answer = await web.get("/web/", headers=BEARER)
    listed = rows(answer)
    assert list(listed) == ["INC-4", "INC-1"]  # newest first; resolved and private left out
    first = listed["INC-1"]
    for shown in (PUBLIC_TITLE, "SEV1", "Investigating", "56 min", f"@{ALICE}", "14:23 UTC"):
        assert shown in first
    assert "overdue by 41 min" in first
    assert "—" in listed["INC-4"]  # no commander yet
    assert ALERT_TITLE in listed["INC-4"] and "overdue" not in listed["INC-4"]
    assert overdue(answer) == {"INC-1"}
    assert 'href="/web/resolved"' in answer.text


async def test_the_resolved_list(web: Web) -> None:
    answer = await web.get("/web/resolved", headers=BEARER)
    listed = rows(answer)
    assert list(listed) == ["INC-3"]
    assert RESOLVED_TITLE in listed["INC-3"] and "Resolved" in listed["INC-3"]
    assert "2026-11-22 14:43 UTC" in listed["INC-3"]  # when it was resolved


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"severity": "SEV1"}, ["INC-4", "INC-1"]),
        ({"severity": "p0"}, ["INC-4", "INC-1"]),  # an alias, any case
        ({"severity": "SEV2"}, []),
        ({"status": "investigating"}, ["INC-4", "INC-1"]),
        ({"status": "mitigating"}, []),
        ({"text": "checkout"}, ["INC-4", "INC-1"]),
        ({"text": "  CHECKOUT   errors "}, ["INC-1"]),
        ({"text": "inc-4"}, ["INC-4"]),
        ({"text": "1"}, ["INC-1"]),
        ({"text": "%"}, []),  # a wildcard is a character like any other
        ({"text": "_"}, []),
        ({"severity": "", "status": "", "text": ""}, ["INC-4", "INC-1"]),
    ],
)
async def test_filters(web: Web, query: dict[str, str], expected: list[str]) -> None:
    answer = await web.get("/web/", params=query, headers=BEARER)
    assert answer.status_code == 200
    assert list(rows(answer)) == expected
    if not expected:
        assert "No incident matches these filters." in answer.text


async def test_the_filters_stay_chosen_in_the_form(web: Web) -> None:
    answer = await web.get(
        "/web/", params={"severity": "sev1", "status": "investigating", "text": 'a"b'},
        headers=BEARER,
    )  # fmt: skip
    assert '<option value="SEV1" selected>' in answer.text
    assert '<option value="investigating" selected>' in answer.text
    assert 'value="a&#34;b"' in answer.text


async def test_a_status_move_shows_in_the_list(web: Web) -> None:
    await command(web.warroom, "status INC-1 mitigating", user=ALICE, channel=None)
    answer = await web.get("/web/", params={"status": "mitigating"}, headers=BEARER)
    assert list(rows(answer)) == ["INC-1"]
    assert "Mitigating" in rows(answer)["INC-1"]


@pytest.mark.parametrize(
    ("path", "query", "said"),
    [
        ("/web/", {"severity": "SEV9"}, "there is no severity &#39;SEV9&#39;: use one of SEV1"),
        ("/web/", {"status": "resolved"}, "use one of investigating, mitigating"),
        ("/web/resolved", {"status": "investigating"}, "use one of resolved, closed"),
        ("/web/", {"text": "x" * 201}, "at most 200"),
        ("/web/", {"severity": "<b>" * 30}, "there is no severity"),
    ],
)
async def test_a_filter_that_cannot_be_applied_is_a_400_saying_why(
    web: Web, path: str, query: dict[str, str], said: str
) -> None:
    answer = await web.get(path, params=query, headers=BEARER)
    assert answer.status_code == 400
    assert said in answer.text
    assert rows(answer) == {}
    assert "<b>" not in answer.text


async def test_empty_lists_say_so(make_web: MakeWeb) -> None:
    web = await make_web(seeded=False, web_token=TOKEN)
    assert "No open incidents." in (await web.get("/web/", headers=BEARER)).text
    assert "No resolved incidents yet." in (await web.get("/web/resolved", headers=BEARER)).text
