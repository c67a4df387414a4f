"""The fake Slack shares files the way Slack's external upload does, refuses what Slack
would, and opens direct conversations."""

from __future__ import annotations

import json

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .fake_slack import FakeSlack

BOT = "U0WARBOT"


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.api_url)


def slack_error(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


async def ticket(client: AsyncWebClient, filename: str, length: int) -> tuple[str, str]:
    answer = await client.files_getUploadURLExternal(filename=filename, length=length)
    return str(answer["file_id"]), str(answer["upload_url"])


async def test_slack_sdks_own_upload_shares_one_file_with_its_comment(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("inc-1", members=[BOT])
    answer = await client.files_upload_v2(
        channel=channel,
        filename="postmortem.md",
        title="Postmortem INC-1",
        content=b"# What happened\n",
        initial_comment="*Postmortem* for <@U0ALEX>",
    )
    (file,) = fake.files
    assert answer["file"]["id"] == file.id and file.id.startswith("F")
    assert (file.name, file.title, file.content) == (
        "postmortem.md",
        "Postmortem INC-1",
        b"# What happened\n",
    )
    assert file.channels == [channel] and file.initial_comment == "*Postmortem* for <@U0ALEX>"
    assert fake.files_in(channel) == [file] and not file.deleted
    (message,) = fake.channels[channel].messages
    assert message["user"] == BOT and message["text"] == "*Postmortem* for <@U0ALEX>"
    (shared,) = message["files"]
    assert {k: shared[k] for k in ("id", "name", "title", "size")} == {
        "id": file.id,
        "name": "postmortem.md",
        "title": "Postmortem INC-1",
        "size": 16,
    }
    assert shared["mimetype"].startswith("text/")
    (upload,) = fake.calls_to("upload")
    assert upload.args == {"file_id": file.id, "length": 16} and upload.status == 200
    assert fake.violations == []


async def test_the_upload_url_is_the_fakes_own(fake: FakeSlack, client: AsyncWebClient) -> None:
    file_id, url = await ticket(client, "notes.md", 3)
    assert url == f"{fake.base_url}/upload/{file_id}"


async def test_a_second_complete_of_the_same_file_shares_it_once(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("inc-1", members=[BOT])
    file_id, url = await ticket(client, "postmortem.md", 2)
    async with httpx.AsyncClient() as http:
        assert (await http.post(url, content=b"ok")).status_code == 200
    for _ in range(2):
        answer = await client.files_completeUploadExternal(
            files=[{"id": file_id, "title": "Postmortem"}], channel_id=channel
        )
        assert answer["files"] == [{"id": file_id, "title": "Postmortem"}]
    assert len(fake.channels[channel].messages) == 1
    assert fake.violations == []


async def test_a_file_whose_bytes_never_arrived_is_not_found(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("inc-1", members=[BOT])
    file_id, _ = await ticket(client, "postmortem.md", 2)
    for unknown in (file_id, "F0NOSUCHFILE"):
        with pytest.raises(SlackApiError) as exc:
            await client.files_completeUploadExternal(files=[{"id": unknown}], channel_id=channel)
        assert slack_error(exc) == "file_not_found"
    assert fake.channels[channel].messages == []


async def test_uploads_the_ticket_did_not_announce_are_refused_and_recorded(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    _, url = await ticket(client, "postmortem.md", 5)
    async with httpx.AsyncClient() as http:
        assert (await http.post(url, content=b"too long")).status_code == 400
        unknown = await http.post(f"{fake.base_url}/upload/F0NOSUCHFILE", content=b"x")
        assert unknown.status_code == 404
    assert fake.files[0].content is None
    assert len(fake.violations) == 2
    assert "8 bytes" in fake.violations[0] and "F0NOSUCHFILE" in fake.violations[1]


async def test_a_ticket_needs_a_length(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("files.getUploadURLExternal", params={"filename": "a.md"})
    assert slack_error(exc) == "missing_argument"
    assert fake.files == []
    assert fake.violations == ["files.getUploadURLExternal: required argument `length` is missing"]


async def test_sharing_needs_the_bot_in_the_channel(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("inc-1")
    with pytest.raises(SlackApiError) as exc:
        await client.files_upload_v2(channel=channel, filename="a.md", content=b"x")
    assert slack_error(exc) == "not_in_channel"
    assert fake.files_in(channel) == [] and not fake.files[0].completed


async def test_a_deleted_file_leaves_the_history_with_its_share(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("inc-1", members=[BOT])
    fake.post_as("U0ALEX", channel, "before")
    answer = await client.files_upload_v2(channel=channel, filename="a.md", content=b"x")
    file_id = answer["file"]["id"]
    await client.files_delete(file=file_id)
    assert [m["text"] for m in fake.channels[channel].messages] == ["before"]
    assert fake.files_in(channel) == [] and fake.files[0].deleted
    for again, error in ((file_id, "file_deleted"), ("F0NOSUCHFILE", "file_not_found")):
        with pytest.raises(SlackApiError) as exc:
            await client.files_delete(file=again)
        assert slack_error(exc) == error
    someone_elses = fake.share_file_as("U0ALEX", channel, "b.md")
    with pytest.raises(SlackApiError) as exc:
        await client.files_delete(file=someone_elses)
    assert slack_error(exc) == "cant_delete_file"
    assert fake.violations == []


async def test_a_lost_answer_to_the_share_shares_all_the_same(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("inc-1", members=[BOT])
    fake.lose_answer("files.completeUploadExternal", status=503)
    with pytest.raises(SlackApiError) as exc:
        await client.files_upload_v2(channel=channel, filename="a.md", content=b"x")
    assert exc.value.response.status_code == 503
    assert [f.name for f in fake.files_in(channel)] == ["a.md"]
    (call,) = fake.calls_to("files.completeUploadExternal")
    assert call.outcome is not None and call.outcome["ok"]


async def test_failure_plans_apply_to_the_upload_of_the_bytes(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    _, url = await ticket(client, "a.md", 1)
    fake.fail("upload", status=500)
    fake.rate_limit("upload", retry_after=3)
    async with httpx.AsyncClient() as http:
        assert (await http.post(url, content=b"x")).status_code == 500
        limited = await http.post(url, content=b"x")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
        assert fake.files[0].content is None
        assert (await http.post(url, content=b"x")).status_code == 200
    assert fake.files[0].content == b"x"


async def test_a_direct_conversation_is_a_channel_to_post_in_and_read(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    opened = await client.conversations_open(users="U0ALEX")
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and "already_open" not in opened.data
    again = await client.conversations_open(users="U0ALEX")
    assert again["channel"]["id"] == dm and again["already_open"]
    await client.chat_postMessage(channel=dm, text="Your postmortem is due")
    assert [m["text"] for m in fake.channels[dm].messages] == ["Your postmortem is due"]
    history = await client.conversations_history(channel=dm)
    assert [m["text"] for m in history["messages"]] == ["Your postmortem is due"]
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_open(users="nobody")
    assert slack_error(exc) == "user_not_found"
    assert fake.violations == []


def test_complete_takes_files_as_json_only(fake: FakeSlack) -> None:
    channel = fake.add_channel("inc-1", members=[BOT])
    answer = httpx.post(
        fake.api_url + "files.completeUploadExternal",
        headers={"Authorization": "Bearer xoxb-test"},
        data={"files": json.dumps({"id": "F1"}), "channel_id": channel},
    ).json()
    assert answer["error"] == "invalid_arguments"
    assert len(fake.violations) == 1 and "`files`" in fake.violations[0]
