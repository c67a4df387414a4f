"""Where a Teams incident opens: a thread beside its declaration, or a channel of its own
made through Graph, adopted after a create whose answer was lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.chat.teams.book import ConversationBook
from bot.chat.teams.connector import BotConnector
from bot.chat.teams.graph import GraphChannels
from bot.chat.teams.spaces import IncidentSpaces
from bot.errors import ChannelNameTaken, DeliveryError, OutcomeUnknown
from bot.policy.teams import TeamsPolicy
from bot.storage.database import Database
from tests.conftest import SteppingClock
from tests.support.fake_bot_connector import FakeBotConnector

TEAM = "6f0c5a1e-1111-4222-8333-444455556666"
GENERAL = "19:general@thread.tacv2"
TENANT = "tenant-1"
CHANNEL_MODE = TeamsPolicy(incident_space="channel", team_id=TEAM)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotConnector]:
    with FakeBotConnector() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeBotConnector) -> FakeBotConnector:
    server.reset()
    server.add_channel(channel_id=GENERAL, team_id=TEAM, name="General")
    return server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def book(database_url: str, clock: SteppingClock) -> AsyncIterator[ConversationBook]:
    db = Database(database_url)
    yield ConversationBook(db=db, clock=clock)
    db.dispose()


def spaces(
    http: httpx.AsyncClient, fake: FakeBotConnector, book: ConversationBook, policy: TeamsPolicy
) -> IncidentSpaces:
    return IncidentSpaces(
        connector=BotConnector(http=http, tokens=None, timeout=2),
        book=book,
        policy=policy,
        channels=GraphChannels(http=http, tokens=None, base_url=fake.graph_url, timeout=2),
    )


async def heard_from_general(book: ConversationBook, fake: FakeBotConnector) -> str:
    post = fake.add_post(channel_id=GENERAL, body={"text": "@warroom declare sev2 DB"})
    activity: dict[str, Any] = {
        "serviceUrl": fake.service_url,
        "conversation": {"id": post, "conversationType": "channel", "tenantId": TENANT},
        "channelData": {"channel": {"id": GENERAL}, "team": {"id": "19:team@thread.skype"}},
        "from": {"id": "29:alex", "aadObjectId": "aad-alex", "name": "Alex"},
    }
    return (await book.remember(activity)).local_id


async def test_channel_mode_makes_a_channel_and_opens_the_incident_thread_in_it(
    http: httpx.AsyncClient, fake: FakeBotConnector, book: ConversationBook
) -> None:
    near = await heard_from_general(book, fake)
    opened = await spaces(http, fake, book, CHANNEL_MODE).open(
        name="inc-4-checkout", private=False, near=near
    )
    channel = fake.channel_named(TEAM, "inc-4-checkout")
    assert channel is not None
    place = await book.place(opened.id)
    assert place is not None and place.channel == channel and place.kind == "thread"
    (thread,) = [t for t in fake.threads() if t.root.from_bot]
    assert thread.channel_id == channel and "inc-4-checkout" in thread.root.body["text"]
    assert fake.violations == []


async def test_a_lost_channel_create_is_adopted_with_one_thread(
    http: httpx.AsyncClient, fake: FakeBotConnector, book: ConversationBook
) -> None:
    near = await heard_from_general(book, fake)
    space = spaces(http, fake, book, CHANNEL_MODE)
    fake.lose_answer("graph_create")
    with pytest.raises(OutcomeUnknown):
        await space.open(name="inc-5-api", private=False, near=near)
    with pytest.raises(ChannelNameTaken):
        await space.open(name="inc-5-api", private=False, near=near)
    own = await space.own(names=["inc-5-api", "inc-5-api-2"])
    again = await space.own(names=["inc-5-api", "inc-5-api-2"])
    assert set(own) == {"inc-5-api"} and own == again
    assert own["inc-5-api"].created_at is not None
    place = await book.place(own["inc-5-api"].id)
    assert place is not None and place.channel == fake.channel_named(TEAM, "inc-5-api")
    assert len([t for t in fake.threads() if t.root.from_bot]) == 1


async def test_thread_mode_has_no_names_and_no_private_incident_opens_anywhere(
    http: httpx.AsyncClient, fake: FakeBotConnector, book: ConversationBook
) -> None:
    near = await heard_from_general(book, fake)
    threads = spaces(http, fake, book, TeamsPolicy())
    assert await threads.own(names=["inc-6"]) == {}
    opened = await threads.open(name="inc-6", private=False, near=near)
    assert (await book.place(opened.id)) is not None
    assert fake.calls_to("graph_create") == []
    for policy in (TeamsPolicy(), CHANNEL_MODE):
        with pytest.raises(DeliveryError) as refused:
            await spaces(http, fake, book, policy).open(name="inc-7", private=True, near=near)
        assert refused.value.code == "teams_private_incident"


def test_channel_mode_needs_its_team() -> None:
    with pytest.raises(ValueError, match="team_id"):
        TeamsPolicy(incident_space="channel")
    with pytest.raises(ValueError):
        TeamsPolicy(team_id="not-a-guid")
