"""The Confluence page of a postmortem, through the outbox: created by the first
submission, updated by the next ones, never created twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import build
from bot.chat.fake import FakeChat
from bot.policy.defaults import merge_policy_data
from bot.policy.schema import Policy
from bot.storage.models import Postmortem, TimelineKind
from tests.conftest import SteppingClock
from tests.support.fake_confluence import FakeConfluence
from tests.unit.conftest import Harness, unit_settings
from tests.unit.postmortem.flow import resolved_incident, submit

EMAIL, TOKEN = "bot@acme.example", "api-token-123"


@pytest.fixture
def confluence() -> FakeConfluence:
    return FakeConfluence(basic=(EMAIL, TOKEN))


@pytest.fixture
async def publishing(
    database_url: str,
    clock: SteppingClock,
    confluence: FakeConfluence,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Harness]:
    monkeypatch.setenv("CONFLUENCE_EMAIL", EMAIL)
    monkeypatch.setenv("CONFLUENCE_TOKEN", TOKEN)
    policy = Policy.model_validate(
        merge_policy_data(
            {
                "postmortem": {
                    "confluence": {
                        "base_url": confluence.base_url,
                        "space": "OPS",
                        "user_env": "CONFLUENCE_EMAIL",
                        "token_env": "CONFLUENCE_TOKEN",
                    }
                }
            }
        )
    )
    chat = FakeChat()
    chat.add_channel("C0ANNOUNCE", "incidents")
    http = httpx.AsyncClient(transport=confluence.transport)
    warroom = build(unit_settings(database_url), chat=chat, clock=clock, policy=policy, http=http)
    yield Harness(
        warroom.db,
        chat,
        warroom.service,
        warroom.lifecycle,
        warroom.worker,
        clock,
        warroom.timers,
        warroom,
    )
    await http.aclose()
    warroom.db.dispose()


async def test_the_page_is_created_once_and_updated_afterwards(
    publishing: Harness, confluence: FakeConfluence
) -> None:
    harness = publishing
    incident = await resolved_incident(harness)
    assert await submit(harness, incident.number) == {}
    await harness.worker.drain()
    (page,) = confluence.pages_in("OPS")
    assert page.title == "INC-1 postmortem: Checkout errors" and page.version == 1
    assert "pool of database connections" in page.body
    assert await submit(harness, incident.number, went_well="Paged within a minute") == {}
    await harness.worker.drain()
    (page,) = confluence.pages_in("OPS")
    assert page.version == 2 and "Paged within a minute" in page.body
    (written,) = await harness.all(Postmortem, Postmortem.id)
    assert written.confluence_page_id == page.id
    assert written.confluence_url and written.confluence_url.startswith(confluence.base_url)
    published = [
        e
        for e in await harness.timeline()
        if e.kind is TimelineKind.POSTMORTEM and e.data.get("op") == "published"
    ]
    assert len(published) == 1


async def test_a_create_whose_answer_was_lost_makes_one_page(
    publishing: Harness, confluence: FakeConfluence
) -> None:
    harness = publishing
    incident = await resolved_incident(harness)
    confluence.lose_answer(method="POST")
    assert await submit(harness, incident.number) == {}
    await harness.worker.drain()
    harness.clock.advance(minutes=5)
    await harness.worker.drain()
    (page,) = confluence.pages_in("OPS")
    assert page.version == 2  # found by its title and updated, not created again
    (written,) = await harness.all(Postmortem, Postmortem.id)
    assert written.confluence_page_id == page.id
