"""A proxy's viewer matched to a chat user by email: the chat port's `user_by_email` on
FakeChat, Slack (against the fake Slack, which checks each call against Slack's method
catalogue) and the router between platforms; answers kept briefly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.chat.fake import FakeChat
from bot.chat.routing import RoutingChat
from bot.chat.slack.adapter import SlackChat, build_web_client
from bot.chat.unconfigured import UnconfiguredChat
from bot.errors import DeliveryError
from bot.web.people import LOOKUP_TTL, PeopleByEmail, normalized_email
from tests.conftest import SPECS_DIR, SteppingClock
from tests.support.fake_slack import FakeSlack


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
def slack(fake_slack: FakeSlack) -> Iterator[SlackChat]:
    fake_slack.reset()
    yield SlackChat(build_web_client(token="xoxb-web-test", base_url=fake_slack.api_url))
    assert fake_slack.violations == [], "the adapter made calls Slack would reject"


async def test_slack_finds_a_person_by_profile_email(
    slack: SlackChat, fake_slack: FakeSlack
) -> None:
    assert await slack.user_by_email(email="u0bob@example.com") == "U0BOB"
    (call,) = fake_slack.calls_to("users.lookupByEmail")
    assert call.args["email"] == "u0bob@example.com"


async def test_slack_says_nobody_for_an_unknown_email(slack: SlackChat) -> None:
    assert await slack.user_by_email(email="nobody@elsewhere.example") is None


async def test_a_slack_outage_is_an_error_not_a_nobody(
    slack: SlackChat, fake_slack: FakeSlack
) -> None:
    fake_slack.rate_limit("users.lookupByEmail", retry_after=1, times=5)
    with pytest.raises(DeliveryError):
        await slack.user_by_email(email="u0bob@example.com")


async def test_the_router_asks_each_platform_default_first() -> None:
    slack_side, teams_side = FakeChat(), FakeChat()
    slack_side.emails["a@example.com"] = "U0A"
    teams_side.emails["a@example.com"] = "00000000-0000-0000-0000-00000000000a"
    teams_side.emails["b@example.com"] = "00000000-0000-0000-0000-00000000000b"
    routed = RoutingChat({"slack": slack_side, "teams": teams_side}, default="slack")
    assert await routed.user_by_email(email="a@example.com") == "U0A"
    assert await routed.user_by_email(email="b@example.com") == teams_side.emails["b@example.com"]
    assert await routed.user_by_email(email="c@example.com") is None
    assert await UnconfiguredChat().user_by_email(email="a@example.com") is None


@pytest.mark.parametrize(
    ("header", "email"),
    [
        ("Bob@Example.COM", "bob@example.com"),
        ("  bob@example.com ", "bob@example.com"),
        ("bob", None),
        ("bob@localhost", None),
        ("@example.com", None),
        ("a b@example.com", None),
        ("bob@example.com, eve@example.com", None),
        ("<bob@example.com>", None),
        ("x" * 250 + "@example.com", None),
    ],
)
def test_what_counts_as_an_email(header: str, email: str | None) -> None:
    assert normalized_email(header) == email


async def test_answers_are_kept_then_asked_again(clock: SteppingClock) -> None:
    chat = FakeChat()
    chat.emails["bob@example.com"] = "U0BOB"
    people = PeopleByEmail(chat=chat, clock=clock)
    assert await people.user_of("bob@example.com") == "U0BOB"
    assert await people.user_of("eve@example.com") is None
    assert await people.user_of("bob@example.com") == "U0BOB"
    assert await people.user_of("eve@example.com") is None  # a "nobody" is kept as well
    assert chat.calls.count("user_by_email") == 2
    chat.emails["eve@example.com"] = "U0EVE"
    clock.advance(seconds=LOOKUP_TTL.total_seconds())
    assert await people.user_of("eve@example.com") == "U0EVE"
    assert chat.calls.count("user_by_email") == 3


async def test_a_lookup_that_hangs_costs_its_timeout_not_the_page(
    clock: SteppingClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    class Hanging(FakeChat):
        async def user_by_email(self, *, email: str) -> str | None:
            await release.wait()
            return "U0LATE"

    monkeypatch.setattr("bot.web.people.LOOKUP_TIMEOUT_SECONDS", 0.01)
    people = PeopleByEmail(chat=Hanging(), clock=clock)
    assert await people.user_of("bob@example.com") is None
    release.set()
