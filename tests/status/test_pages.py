"""`/status`, `/status.json` and `/status.atom` over HTTP (the real app, over ASGI): what
they show, and above all what they never show."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx

from bot.status.publishing import RESOLVED_LINE
from tests.status.conftest import POLICY, StatusHarness, policy_of
from tests.unit.alerts.conftest import alert, batch

ATOM = "{http://www.w3.org/2005/Atom}"
PAGES = ("/status", "/status.json", "/status.atom")


async def bodies(status: StatusHarness) -> dict[str, str]:
    answers = {path: await status.get(path) for path in PAGES}
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        PAGES, 200
    )
    return {path: answer.text for path, answer in answers.items()}


async def document(status: StatusHarness) -> dict[str, Any]:
    answer = await status.get("/status.json")
    assert answer.status_code == 200
    parsed: dict[str, Any] = answer.json()
    return parsed


def states(page: dict[str, Any]) -> dict[str, str]:
    return {component["name"]: component["state"] for component in page["components"]}


async def test_without_a_status_page_every_page_is_a_404(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    async for status in wire(policy_of(tmp_path, "timeline_emoji: pushpin")):
        page = await status.get("/status")
        assert (page.status_code, page.headers["content-type"]) == (
            404,
            "text/plain; charset=utf-8",
        )
        assert page.text == "There is no status page here.\n"
        feed = await status.get("/status.atom")
        assert feed.status_code == 404 and feed.text == "There is no status page here.\n"
        data = await status.get("/status.json")
        assert data.status_code == 404
        assert data.json() == {
            "ok": False,
            "error": "status_page_not_configured",
            "message": "There is no status page here.",
        }


async def test_nothing_internal_ever_reaches_the_page(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    policy = policy_of(
        tmp_path,
        POLICY
        + "alerts:\n  routes:\n"
        + "    - {matchers: ['service=\"checkout\"'], action: declare, component: API}\n",
    )
    async for status in wire(policy):
        # A public incident, with everything responders write around its public updates.
        here = await status.declare("sev1 Gateway TITLE-7f3a down")
        await status.command("role commander <user:U0COMMANDERX>", channel=here)
        await status.command("note NOTE-c0ffee the primary is wedged", channel=here)
        await status.warroom.lifecycle.post_update(
            here_ref(here), actor="U0DECLARER", text="UPDATE-91b2 db-3 pool", impact="IMPACT-5e5e"
        )
        await status.command("components Checkout", channel=here)
        await status.command("update --public We are investigating failed payments", channel=here)
        await status.command("escalate REASON-4d4d", channel=here)
        # A private incident, whose components would otherwise change the page.
        secret = await status.declare("--private sev1 PRIVATE-aa11 leak")
        await status.command("components Search", channel=secret)
        await status.command("update --public PRIVATE-UPDATE-0b0b", channel=secret)
        await status.command("update PRIVATE-NOTE-0c0c", channel=secret)
        # An incident an alert opened, made public.
        await status.warroom.alerts.receive(
            batch([alert("fp-1", alertname="ALERTNAME-d1a9")], group="checkout")
        )
        await status.warroom.worker.drain()
        (_, _, alerted) = await status.incidents()
        assert alerted.channel_id is not None
        await status.command("update --public Errors on the API", channel=alerted.channel_id)
        await status.command("resolve RESOLUTION-77aa restarted", channel=alerted.channel_id)

        shown = await bodies(status)
        incidents = await status.incidents()
        internal = [
            "TITLE-7f3a", "NOTE-c0ffee", "UPDATE-91b2", "IMPACT-5e5e", "REASON-4d4d",
            "PRIVATE-aa11", "PRIVATE-UPDATE-0b0b", "PRIVATE-NOTE-0c0c", "ALERTNAME-d1a9",
            "RESOLUTION-77aa", "U0COMMANDERX", "U0DECLARER", "alertmanager", "INC-", "SEV1",
            "fp-1", "C0GENERAL",
            *[i.channel_id for i in incidents if i.channel_id],
            *[i.channel_name for i in incidents if i.channel_name],
        ]  # fmt: skip
        for path, body in shown.items():
            leaked = [word for word in internal if word.lower() in body.lower()]
            assert leaked == [], f"{path} shows {leaked}"
        for path, body in shown.items():
            assert "We are investigating failed payments" in body, path
            assert "Errors on the API" in body, path
        page = await document(status)
        assert [i["title"] for i in page["active_incidents"]] == ["Incident affecting Checkout"]
        assert [i["title"] for i in page["resolved_incidents"]] == ["Incident affecting API"]
        assert states(page)["Search"] == "operational"  # the private incident does not count


def here_ref(channel: str) -> Any:
    from bot.incidents.access import IncidentRef

    return IncidentRef(channel_id=channel)


STATES_POLICY = """\
status_page:
  title: Acme Status
  components: [{name: Checkout}, {name: API}, {name: Search}, {name: Mail}, {name: Login}]
  severity_states: {SEV4: partial_outage}
"""


async def test_component_states_follow_the_open_public_incidents(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    async for status in wire(policy_of(tmp_path, STATES_POLICY)):
        page = await document(status)
        assert page["state"] == "operational"
        assert set(states(page).values()) == {"operational"}

        checkout = await status.declare("sev1 A")
        await status.command("components Checkout", channel=checkout)
        await status.command("update --public Checkout is down", channel=checkout)
        both = await status.declare("sev3 B")
        await status.command("components API, Checkout", channel=both)
        await status.command("update --public Slow API", channel=both)
        search = await status.declare("sev2 C")
        await status.command("components Search", channel=search)
        await status.command("update --public Search is failing", channel=search)
        await status.command("status mitigating", channel=search)  # still an outage
        mail = await status.declare("sev4 D")
        await status.command("components Mail", channel=mail)
        await status.command("update --public Mail is late", channel=mail)
        quiet = await status.declare("sev1 E")  # names Login, never public
        await status.command("components Login", channel=quiet)
        over = await status.declare("sev1 F")  # public, then resolved
        await status.command("components Login", channel=over)
        await status.command("update --public Login fails", channel=over)
        await status.command("resolve", channel=over)

        page = await document(status)
        assert states(page) == {
            "Checkout": "major_outage",  # the worst of SEV1 and SEV3
            "API": "degraded",  # SEV3
            "Search": "partial_outage",  # SEV2, mitigating or not
            "Mail": "partial_outage",  # SEV4, as the policy says
            "Login": "operational",  # only incidents neither public nor open name it
        }
        assert page["state"] == "major_outage"
        html = (await status.get("/status")).text
        assert '<p class="overall state-major_outage" role="status">Major outage</p>' in html
        assert '<li class="component" data-state="degraded">' in html
        await status.command("resolve", channel=checkout)
        page = await document(status)
        assert states(page)["Checkout"] == "degraded" and page["state"] == "partial_outage"


async def test_the_json_shape(status: StatusHarness) -> None:
    here = await status.declare("sev2 Whatever")
    await status.command("components Checkout", channel=here)
    await status.command('update --public-title "Payments failing" Looking', channel=here)
    status.clock.advance(minutes=7)
    await status.command("update --public Found it", channel=here)
    page = await document(status)
    assert page == {
        "version": 1,
        "page": {
            "title": "Acme Status",
            "url": "http://status.test/status",
            "updated_at": "2026-11-22T14:15:00Z",
        },
        "state": "partial_outage",
        "components": [
            {"name": "Checkout", "description": "Paying for an order", "state": "partial_outage"},
            {"name": "API", "description": "", "state": "operational"},
            {"name": "Search", "description": "", "state": "operational"},
        ],
        "active_incidents": [
            {
                "id": 1,
                "title": "Payments failing",
                "status": "investigating",
                "impact": "partial_outage",
                "components": ["Checkout"],
                "started_at": "2026-11-22T14:08:00Z",
                "resolved_at": None,
                "updated_at": "2026-11-22T14:15:00Z",
                "updates": [
                    {
                        "id": 2,
                        "at": "2026-11-22T14:15:00Z",
                        "status": "investigating",
                        "text": "Found it",
                    },
                    {
                        "id": 1,
                        "at": "2026-11-22T14:08:00Z",
                        "status": "investigating",
                        "text": "Looking",
                    },
                ],
            }
        ],
        "resolved_incidents": [],
    }


async def test_the_feed_is_atom_with_one_entry_per_public_update(status: StatusHarness) -> None:
    here = await status.declare()
    await status.command("components Checkout, API", channel=here)
    await status.command('update --public First <b>bold</b> & "quoted" ]]>\x07!', channel=here)
    status.clock.advance(minutes=3)
    await status.command("update --public Second", channel=here)
    status.clock.advance(minutes=3)
    await status.command("update Internal only", channel=here)
    status.clock.advance(minutes=3)
    await status.command("resolve", channel=here)

    answer = await status.get("/status.atom")
    assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = ElementTree.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == "http://status.test/status"
    assert feed.findtext(f"{ATOM}title") == "Acme Status"
    assert feed.findtext(f"{ATOM}updated") == "2026-11-22T14:17:00Z"
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "Acme Status"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links == {
        "self": "http://status.test/status.atom",
        "alternate": "http://status.test/status",
    }
    entries = feed.findall(f"{ATOM}entry")
    shown = [
        (e.findtext(f"{ATOM}title"), e.findtext(f"{ATOM}content"), e.findtext(f"{ATOM}updated"))
        for e in entries
    ]
    title = "Incident affecting Checkout and API"
    assert shown == [
        (f"{title}: Resolved", RESOLVED_LINE, "2026-11-22T14:17:00Z"),
        (f"{title}: Investigating", "Second", "2026-11-22T14:11:00Z"),
        (f"{title}: Investigating", 'First <b>bold</b> & "quoted" ]]>!', "2026-11-22T14:08:00Z"),
    ]  # newest first; the internal update is not there; the bell character was dropped
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 3 and all(
        i and i.startswith("http://status.test/status#update-") for i in ids
    )
    for entry in entries:
        assert entry.find(f"{ATOM}content").get("type") == "text"  # type: ignore[union-attr]
        assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["Checkout", "API"]
    assert "<b>bold</b>" not in answer.text  # escaped in the XML itself


async def test_the_page_escapes_everything_and_links_the_feed(status: StatusHarness) -> None:
    here = await status.declare()
    await status.command(
        "update --public-title \"<img src=x onerror=alert(1)>\" <script>alert('x')</script>",
        channel=here,
    )
    html = (await status.get("/status")).text
    assert html.startswith("<!doctype html>")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert (
        '<link rel="alternate" type="application/atom+xml" title="Acme Status" href="/status.atom">'
        in html
    )


async def test_resolved_incidents_stay_for_the_window_closed_ones_too(
    status: StatusHarness,
) -> None:
    here = await status.declare()
    await status.command("update --public Looking", channel=here)
    await status.command("resolve", channel=here)
    await status.command("close", channel=here)
    (incident,) = await status.incidents()
    assert incident.status.value == "closed"
    page = await document(status)
    (resolved,) = page["resolved_incidents"]
    assert (resolved["status"], resolved["resolved_at"]) == ("resolved", "2026-11-22T14:08:00Z")
    html = (await status.get("/status")).text
    assert "Resolved in the last 7 days" in html and "Looking" in html
    status.clock.advance(days=7, seconds=1)
    page = await document(status)
    assert page["resolved_incidents"] == [] and page["active_incidents"] == []
    assert "No incidents resolved lately." in (await status.get("/status")).text


async def test_answers_are_cacheable_and_revalidate(status: StatusHarness) -> None:
    for path, kind in zip(
        PAGES, ("text/html", "application/json", "application/atom+xml"), strict=True
    ):
        first = await status.get(path)
        assert first.headers["content-type"].startswith(kind)
        assert first.headers["cache-control"] == "public, max-age=30"
        assert first.headers["x-content-type-options"] == "nosniff"
        again = await status.get(path, **{"If-None-Match": first.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        head = await status.web.head(path)
        assert head.status_code == 200 and head.headers["etag"] == first.headers["etag"]
    page = await status.get("/status")
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    here = await status.declare()
    await status.command("update --public Something changed", channel=here)
    changed = await status.get("/status", **{"If-None-Match": page.headers["etag"]})
    assert changed.status_code == 200 and "Something changed" in changed.text


async def test_a_database_that_does_not_answer_is_a_503(status: StatusHarness) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database down")

    status.warroom.db.transaction = broken  # type: ignore[assignment]
    page = await status.get("/status")
    assert (page.status_code, page.headers["retry-after"]) == (503, "30")
    assert page.text == "The status page is unavailable right now; try again in a minute.\n"
    data = await status.get("/status.json")
    assert data.status_code == 503 and data.json()["error"] == "status_page_unavailable"
    assert (await status.get("/status.atom")).status_code == 503


async def test_the_feed_uses_the_configured_address(
    wire: Callable[..., Any], tmp_path: Path
) -> None:
    policy = policy_of(tmp_path, POLICY + "  base_url: https://status.acme.io/\n")
    async for status in wire(policy):
        feed = ElementTree.fromstring((await status.get("/status.atom")).content)
        assert feed.findtext(f"{ATOM}id") == "https://status.acme.io/status"
        assert json.loads((await status.get("/status.json")).text)["page"]["url"] == (
            "https://status.acme.io/status"
        )


async def test_readers_at_once_share_one_read(status: StatusHarness) -> None:
    import asyncio

    reads = 0
    transaction = status.warroom.db.transaction

    async def counted(work: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await transaction(work, **kwargs)

    status.warroom.db.transaction = counted  # type: ignore[method-assign]
    answers = await asyncio.gather(*(status.get("/status.json") for _ in range(20)))
    assert {answer.status_code for answer in answers} == {200}
    assert reads < 20
    assert isinstance(answers[0], httpx.Response)
