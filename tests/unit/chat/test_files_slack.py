"""The Slack adapter shares, finds and deletes files and opens direct conversations, against
the fake Slack; failures say, by type, whether the file may have been shared."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.port import Document, Message, OutcomeUnknown
from bot.chat.slack.adapter import SlackChat, build_web_client
from bot.errors import DeliveryError
from tests.conftest import SPECS_DIR
from tests.support.fake_slack import FakeSlack

BOT = "U0WARBOT"
POSTMORTEM = Document(
    filename="inc-7-postmortem.md",
    title="Postmortem: INC-7 Checkout errors",
    content=b"# Summary\n\nCheckout failed for 12 minutes.\n",
    comment="# Postmortem\n\nDrafted by <user:U0ALEX>: **review** it",
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
def slack(server: FakeSlack) -> Iterator[FakeSlack]:
    server.reset()
    yield server
    assert server.violations == [], "the adapter made calls Slack would reject"


@pytest.fixture
def chat(slack: FakeSlack) -> SlackChat:
    return SlackChat(build_web_client(token="xoxb-test", base_url=slack.api_url))


@pytest.fixture
def channel(slack: FakeSlack) -> str:
    return slack.add_channel("inc-7", members=[BOT])


async def eventually(check: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)


async def test_an_upload_shares_one_file_with_its_comment(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    ref = await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    (file,) = slack.files_in(channel)
    assert file.id == ref
    assert (file.name, file.title, file.content) == (
        POSTMORTEM.filename,
        POSTMORTEM.title,
        POSTMORTEM.content,
    )
    # Our Markdown as Slack's: a heading in bold, references as mentions.
    assert file.initial_comment == "*Postmortem*\n\nDrafted by <@U0ALEX>: *review* it"
    (message,) = slack.channels[channel].messages
    assert message["user"] == BOT and [f["id"] for f in message["files"]] == [ref]
    # The bytes went to the upload URL without the token: the URL is the ticket.
    (upload,) = slack.calls_to("upload")
    assert upload.token is None


async def test_files_named_finds_the_bots_own_files_of_that_name_oldest_first(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    first = await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    slack.share_file_as("U0ALEX", channel, POSTMORTEM.filename)  # someone else's
    other = Document(filename="notes.md", title="Notes", content=b"x")
    await chat.upload_file(channel_id=channel, document=other)
    second = await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    found = await chat.files_named(channel_id=channel, filename=POSTMORTEM.filename)
    assert found == [first, second]
    assert await chat.files_named(channel_id=channel, filename="absent.md") == []


async def test_a_lost_answer_to_the_share_is_an_unknown_outcome_found_by_name(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    slack.lose_answer("files.completeUploadExternal")
    with pytest.raises(OutcomeUnknown) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert error.value.retryable and not error.value.timed_out
    (file,) = slack.files_in(channel)
    assert await chat.files_named(channel_id=channel, filename=POSTMORTEM.filename) == [file.id]


async def test_a_share_that_timed_out_may_land_later(slack: FakeSlack, channel: str) -> None:
    impatient = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, timeout=0.3)  # type: ignore[arg-type]
    chat = SlackChat(impatient)
    slack.hang("files.completeUploadExternal", seconds=0.6)
    with pytest.raises(OutcomeUnknown) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert error.value.timed_out
    await eventually(lambda: slack.files_in(channel))


async def test_failures_before_the_share_are_plain_retryable_errors(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    # The safe-to-repeat client tries a 5xx once more: both are lost here.
    slack.lose_answer("files.getUploadURLExternal", times=2)
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert type(error.value) is DeliveryError and error.value.retryable
    slack.fail("upload", status=500)
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert type(error.value) is DeliveryError and error.value.code == "upload_http_500"
    assert error.value.retryable
    assert slack.files_in(channel) == []


async def test_a_share_of_a_lost_ticket_starts_over_later(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    slack.error("files.completeUploadExternal", "file_not_found")
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert type(error.value) is DeliveryError and error.value.retryable
    await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert len(slack.files_in(channel)) == 1


async def test_a_rate_limit_says_when_to_try_again(slack: FakeSlack, channel: str) -> None:
    chat = SlackChat(AsyncWebClient(token="xoxb-test", base_url=slack.api_url))
    slack.rate_limit("files.getUploadURLExternal", retry_after=7)
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert type(error.value) is DeliveryError
    assert (error.value.code, error.value.retryable, error.value.retry_after) == (
        "ratelimited",
        True,
        7,
    )


async def test_a_rate_limited_share_is_no_unknown_outcome(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    # slack_sdk waits out one 429 of the share (it never reached Slack); not two.
    slack.rate_limit("files.completeUploadExternal", retry_after=1, times=2)
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert not isinstance(error.value, OutcomeUnknown)
    assert error.value.retryable and error.value.retry_after == 1
    assert slack.files_in(channel) == []


async def test_sharing_in_a_public_channel_the_bot_left_joins_it_first(
    slack: FakeSlack, chat: SlackChat
) -> None:
    channel = slack.add_channel("inc-8")
    ref = await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert [f.id for f in slack.files_in(channel)] == [ref]
    assert BOT in slack.channels[channel].members


async def test_a_private_channel_out_of_reach_is_refused_for_good(
    slack: FakeSlack, chat: SlackChat
) -> None:
    channel = slack.add_channel("inc-9", is_private=True)
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    assert error.value.code == "channel_not_found" and not error.value.retryable


async def test_deleting_a_file_twice_is_fine(
    slack: FakeSlack, chat: SlackChat, channel: str
) -> None:
    ref = await chat.upload_file(channel_id=channel, document=POSTMORTEM)
    await chat.delete_file(file_ref=ref)
    await chat.delete_file(file_ref=ref)
    await chat.delete_file(file_ref="F0NEVERWAS")
    assert slack.files_in(channel) == [] and slack.channels[channel].messages == []
    assert await chat.files_named(channel_id=channel, filename=POSTMORTEM.filename) == []


async def test_a_direct_channel_is_one_to_post_in(slack: FakeSlack, chat: SlackChat) -> None:
    dm = await chat.direct_channel(user_id="U0ALEX")
    assert dm.startswith("D")
    assert await chat.direct_channel(user_id="U0ALEX") == dm
    await chat.post(channel_id=dm, message=Message("Your postmortem is due", "postmortem due"))
    (message,) = slack.channels[dm].messages
    assert message["text"] == "postmortem due" and slack.channels[dm].members == {BOT, "U0ALEX"}
