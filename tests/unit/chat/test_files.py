"""FakeChat shares files and opens direct conversations as the port asks, with the same
failure hooks as every other operation; an unconfigured install has neither."""

from __future__ import annotations

import pytest

from bot.chat.fake import FakeChat
from bot.chat.port import Document, Message, OutcomeUnknown
from bot.chat.unconfigured import UnconfiguredChat
from bot.errors import DeliveryError

POSTMORTEM = Document(
    filename="inc-7-postmortem.md", title="Postmortem INC-7", content=b"# Summary\n", comment="hi"
)


@pytest.fixture
def chat() -> FakeChat:
    chat = FakeChat()
    chat.add_channel("C1", "inc-7")
    return chat


async def test_an_upload_is_kept_whole_and_found_by_name(chat: FakeChat) -> None:
    first = await chat.upload_file(channel_id="C1", document=POSTMORTEM)
    other = Document(filename="notes.md", title="Notes", content=b"x")
    await chat.upload_file(channel_id="C1", document=other)
    second = await chat.upload_file(channel_id="C1", document=POSTMORTEM)
    assert await chat.files_named(channel_id="C1", filename=POSTMORTEM.filename) == [first, second]
    shared = chat.files[first]
    assert (shared.channel_id, shared.filename, shared.title, shared.content, shared.comment) == (
        "C1",
        POSTMORTEM.filename,
        POSTMORTEM.title,
        POSTMORTEM.content,
        "hi",
    )
    assert shared.mime_type == "text/markdown" and not shared.deleted


async def test_an_upload_to_no_channel_is_refused(chat: FakeChat) -> None:
    with pytest.raises(DeliveryError) as error:
        await chat.upload_file(channel_id="C404", document=POSTMORTEM)
    assert error.value.code == "channel_not_found" and chat.files == {}


async def test_failure_hooks_apply_to_uploads(chat: FakeChat) -> None:
    chat.fail_next("upload_file", DeliveryError("ratelimited", retry_after=3))
    with pytest.raises(DeliveryError):
        await chat.upload_file(channel_id="C1", document=POSTMORTEM)
    assert chat.files == {}
    chat.lose_answer("upload_file")
    with pytest.raises(OutcomeUnknown):
        await chat.upload_file(channel_id="C1", document=POSTMORTEM)
    assert len(chat.files_in("C1")) == 1
    chat.land_late("upload_file")
    with pytest.raises(OutcomeUnknown):
        await chat.upload_file(channel_id="C1", document=POSTMORTEM)
    assert len(chat.files_in("C1")) == 1
    assert chat.land() == 1
    assert len(await chat.files_named(channel_id="C1", filename=POSTMORTEM.filename)) == 2


async def test_a_deleted_file_stays_listed_and_deleting_again_is_fine(chat: FakeChat) -> None:
    ref = await chat.upload_file(channel_id="C1", document=POSTMORTEM)
    await chat.delete_file(file_ref=ref)
    await chat.delete_file(file_ref=ref)
    await chat.delete_file(file_ref="F-never")
    assert chat.files[ref].deleted and chat.files_in("C1") == []
    assert await chat.files_named(channel_id="C1", filename=POSTMORTEM.filename) == []
    assert chat.calls.count("delete_file") == 3


async def test_a_direct_channel_is_one_to_post_in(chat: FakeChat) -> None:
    dm = await chat.direct_channel(user_id="U1")
    assert dm == "DU1" and await chat.direct_channel(user_id="U1") == dm
    ref = await chat.post(channel_id=dm, message=Message("Your postmortem is due", "due"))
    direct = chat.direct_with("U1")
    assert direct is not None and direct.id == dm
    assert direct.messages[ref].markdown == "Your postmortem is due"
    assert chat.opened() == []  # not an incident channel the bot opened


async def test_an_unconfigured_chat_has_no_files_nor_direct_channels() -> None:
    chat = UnconfiguredChat()
    calls = [
        chat.upload_file(channel_id="C1", document=POSTMORTEM),
        chat.files_named(channel_id="C1", filename="a.md"),
        chat.delete_file(file_ref="F1"),
        chat.direct_channel(user_id="U1"),
    ]
    for call in calls:
        with pytest.raises(DeliveryError) as error:
            await call
        assert error.value.code == "chat_not_configured" and error.value.retryable
