"""Private means private on the web too: a private incident exists only for a viewer the
proxy names and chat knows as one of its people; a token login, a member of no private
incident, and an email chat does not know see exactly what they would for a number never
used."""

from __future__ import annotations

import httpx

from bot.errors import DeliveryError
from tests.web.conftest import BEARER, HEADER, PAGE, TOKEN, MakeWeb, Web
from tests.web.seed import ALICE, BOB, PRIVATE_TITLE, PUBLIC_TITLE, command

PRIVATE_PATHS = ("/web/incidents/INC-2", "/web/incidents/INC-2/postmortem")
ALICE_EMAIL = {HEADER: "u0alice@example.com"}  # in the public incidents, not in INC-2
STRANGER_EMAIL = {HEADER: "nobody@elsewhere.example"}


def mentions_private(answer: httpx.Response) -> bool:
    """The private incident's title, row or link is on the page."""
    text = answer.text
    return PRIVATE_TITLE in text or 'data-key="INC-2"' in text or "/web/incidents/INC-2" in text


async def test_a_token_viewer_sees_no_private_incident(web: Web) -> None:
    listed = await web.get("/web/", headers=BEARER)
    assert PUBLIC_TITLE in listed.text
    assert not mentions_private(listed)
    for path in PRIVATE_PATHS:
        answer = await web.get(path, headers=BEARER)
        assert answer.status_code == 404
        assert PRIVATE_TITLE not in answer.text
    filtered = await web.get("/web/", params={"text": "payroll"}, headers=BEARER)
    assert not mentions_private(filtered)
    by_key = await web.get("/web/", params={"text": "INC-2"}, headers=BEARER)
    assert not mentions_private(by_key)


async def test_a_hidden_incident_reads_exactly_like_one_never_used(make_web: MakeWeb) -> None:
    seeded = await make_web(web_token=TOKEN, web_trusted_header=HEADER)
    empty = await make_web(seeded=False, web_token=TOKEN, web_trusted_header=HEADER)
    for path in PRIVATE_PATHS:
        for headers in (BEARER, ALICE_EMAIL, STRANGER_EMAIL):
            hidden = await seeded.get(path, headers=headers)
            never = await empty.get(path, headers=headers)
            assert (hidden.status_code, hidden.text) == (never.status_code, never.text)
            assert hidden.status_code == 404


async def test_a_member_named_by_the_proxy_sees_it(web: Web) -> None:
    listed = await web.get("/web/", headers={**PAGE, **web.as_member()})
    assert PRIVATE_TITLE in listed.text and PUBLIC_TITLE in listed.text
    assert "Signed in as u0bob@example.com" in listed.text
    page = await web.get("/web/incidents/INC-2", headers=web.as_member())
    assert page.status_code == 200
    assert PRIVATE_TITLE in page.text and "private" in page.text
    document = await web.get("/web/incidents/INC-2/postmortem", headers=web.as_member())
    assert document.status_code == 200 and PRIVATE_TITLE in document.text


async def test_someone_who_is_not_one_of_its_people_does_not(web: Web) -> None:
    assert web.chat.emails["u0alice@example.com"] == ALICE
    listed = await web.get("/web/", headers=ALICE_EMAIL)
    assert PUBLIC_TITLE in listed.text and not mentions_private(listed)
    assert (await web.get("/web/incidents/INC-2", headers=ALICE_EMAIL)).status_code == 404


async def test_an_email_chat_does_not_know_sees_public_incidents_only(web: Web) -> None:
    listed = await web.get("/web/", headers=STRANGER_EMAIL)
    assert listed.status_code == 200
    assert "matched to no chat user" in listed.text
    assert PUBLIC_TITLE in listed.text and not mentions_private(listed)
    # Not an email at all: nobody to look up, and nothing private either.
    odd = await web.get("/web/", headers={HEADER: "<script>bob</script>"})
    assert odd.status_code == 200 and not mentions_private(odd)
    assert "&lt;script&gt;bob&lt;/script&gt;" in odd.text


async def test_the_proxys_header_wins_over_the_token(web: Web) -> None:
    answer = await web.get("/web/", headers={**BEARER, **STRANGER_EMAIL})
    assert "nobody@elsewhere.example" in answer.text and not mentions_private(answer)
    member = await web.get("/web/", headers={**BEARER, **web.as_member()})
    assert PRIVATE_TITLE in member.text


async def test_lookups_are_kept_for_a_few_minutes(web: Web) -> None:
    def lookups() -> int:
        return web.chat.calls.count("user_by_email")

    before = lookups()
    await web.get("/web/", headers=web.as_member())
    await web.get("/web/stats", headers={HEADER: "U0BOB@Example.com "})  # the same address
    assert lookups() == before + 1
    web.clock.advance(minutes=6)
    await web.get("/web/", headers=web.as_member())
    assert lookups() == before + 2


async def test_a_failed_lookup_shows_public_incidents_and_is_asked_again(web: Web) -> None:
    web.chat.fail_next("user_by_email", DeliveryError("ratelimited", retry_after=1))
    first = await web.get("/web/", headers=web.as_member())
    assert first.status_code == 200 and not mentions_private(first)
    second = await web.get("/web/", headers=web.as_member())
    assert PRIVATE_TITLE in second.text


async def test_stats_count_private_incidents_only_for_their_people(web: Web) -> None:
    def total(answer: httpx.Response) -> str:
        row = answer.text.split('<tr class="total">')[1].split("</tr>")[0]
        return row.split("<td>")[2].split("</td>")[0]

    assert total(await web.get("/web/stats", headers=BEARER)) == "3"
    assert total(await web.get("/web/stats", headers=ALICE_EMAIL)) == "3"
    assert total(await web.get("/web/stats", headers=web.as_member())) == "4"


async def test_a_member_sees_it_among_the_resolved_once_resolved(web: Web) -> None:
    await command(
        web.warroom, "resolve INC-2 Rotated the export credentials", user=BOB, channel=None
    )
    member = await web.get("/web/resolved", headers=web.as_member())
    assert PRIVATE_TITLE in member.text
    assert not mentions_private(await web.get("/web/resolved", headers=BEARER))
