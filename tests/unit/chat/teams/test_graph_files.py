"""A channel's files through Graph, and a team's channels listed, against the fake Graph
over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bot.chat.teams.graph import GraphChannels
from bot.chat.teams.graph_files import GraphFiles
from bot.chat.teams.graph_users import GraphUsers
from bot.errors import DeliveryError
from tests.support.fake_bot_connector import FakeBotConnector

GRAPH_TOKEN = "eyJ0eXAi.graph-token.s3cret"
TEAM = "6f0c5a1e-1111-4222-8333-444455556666"
CHANNEL = "19:c0ffee@thread.tacv2"


class Tokens:
    async def token(self) -> str:
        return GRAPH_TOKEN


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotConnector]:
    with FakeBotConnector(accept=lambda token: token == GRAPH_TOKEN) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeBotConnector) -> FakeBotConnector:
    server.reset()
    server.add_channel(channel_id=CHANNEL, team_id=TEAM, name="General")
    return server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def files(http: httpx.AsyncClient, fake: FakeBotConnector) -> GraphFiles:
    return GraphFiles(http=http, tokens=Tokens(), base_url=fake.graph_url, timeout=2)


async def test_a_file_is_put_in_the_channel_folder_then_replaced_not_doubled(
    files: GraphFiles, fake: FakeBotConnector
) -> None:
    folder = await files.folder(team_id=TEAM, channel_id=CHANNEL)
    first = await files.upload(
        folder=folder, filename="INC-7-postmortem.md", content=b"# v1", media_type="text/markdown"
    )
    again = await files.upload(
        folder=folder, filename="INC-7-postmortem.md", content=b"# v2", media_type="text/markdown"
    )
    assert first.ref == again.ref and first.web_url.startswith("https://")
    (held,) = fake.files_in(CHANNEL)
    assert (held.name, held.content, held.media_type, held.versions) == (
        "INC-7-postmortem.md",
        b"# v2",
        "text/markdown",
        2,
    )
    assert all(c.authorization == f"Bearer {GRAPH_TOKEN}" for c in fake.calls)
    assert fake.violations == []


async def test_the_folder_is_asked_once_per_channel(
    files: GraphFiles, fake: FakeBotConnector
) -> None:
    await files.folder(team_id=TEAM, channel_id=CHANNEL)
    await files.folder(team_id=TEAM, channel_id=CHANNEL)
    assert len(fake.calls_to("graph_folder")) == 1


async def test_a_file_is_found_by_name_and_deleted(
    files: GraphFiles, fake: FakeBotConnector
) -> None:
    folder = await files.folder(team_id=TEAM, channel_id=CHANNEL)
    assert await files.named(folder=folder, filename="INC-7-postmortem.md") is None
    made = await files.upload(
        folder=folder, filename="INC-7-postmortem.md", content=b"x", media_type="text/markdown"
    )
    found = await files.named(folder=folder, filename="INC-7-postmortem.md")
    assert found is not None and found.ref == made.ref
    await files.delete(ref=made.ref)
    await files.delete(ref=made.ref)  # already gone: fine
    assert fake.files_in(CHANNEL) == []


async def test_an_unknown_channel_or_a_throttled_upload_says_so(
    files: GraphFiles, fake: FakeBotConnector
) -> None:
    with pytest.raises(DeliveryError) as unknown:
        await files.folder(team_id=TEAM, channel_id="19:gone@thread.tacv2")
    assert unknown.value.code == "teams_channel_files_not_found" and not unknown.value.retryable
    folder = await files.folder(team_id=TEAM, channel_id=CHANNEL)
    fake.rate_limit("graph_upload", retry_after=7)
    with pytest.raises(DeliveryError) as throttled:
        await files.upload(folder=folder, filename="a.md", content=b"x", media_type="text/plain")
    assert throttled.value.code == "teams_rate_limited" and throttled.value.retry_after == 7
    assert fake.files_in(CHANNEL) == []  # a refused call changes nothing


async def test_a_team_lists_its_channels_with_when_they_were_made(
    http: httpx.AsyncClient, fake: FakeBotConnector
) -> None:
    graph = GraphChannels(http=http, tokens=Tokens(), base_url=fake.graph_url)
    made = await graph.create_channel(team_id=TEAM, name="inc-8-db", private=False)
    listed = {channel.id: channel for channel in await graph.list_channels(team_id=TEAM)}
    assert set(listed) == {CHANNEL, made}
    assert listed[made].name == "inc-8-db" and listed[made].created_at is not None
    assert listed[made].created_at.tzinfo is not None


async def test_people_are_found_by_sign_in_name_or_mail(
    http: httpx.AsyncClient, fake: FakeBotConnector
) -> None:
    fake.graph.users.append(
        {
            "id": "aaaaaaaa-0000-4000-8000-000000000001",
            "userPrincipalName": "alex@contoso.onmicrosoft.com",
            "mail": "alex.doe@contoso.com",
        }
    )
    users = GraphUsers(http=http, tokens=Tokens(), base_url=fake.graph_url)
    alex = "aaaaaaaa-0000-4000-8000-000000000001"
    assert await users.id_of("alex@contoso.onmicrosoft.com") == alex
    assert await users.id_of("Alex.Doe@contoso.com") == alex
    assert await users.id_of("nobody@contoso.com") is None
    assert await users.id_of("o'brien@contoso.com") is None
    assert fake.violations == []
