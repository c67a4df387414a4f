"""Publishing the postmortem to Confluence, against the fake Confluence: created once,
updated afterwards, a lost create adopted instead of doubled, and failures that say
whether to try again and never show the credentials."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.errors import DeliveryError, OutcomeUnknown
from bot.policy.postmortem import ConfluenceSettings
from bot.postmortem.confluence import ConfluencePublisher, PublishedPage, missing_environment
from tests.support.fake_confluence import FakeConfluence, storage_problem

BASE = "https://acme.atlassian.net/wiki"
EMAIL = "warroom@acme.example"
TOKEN = "atl-api-t0ken-5ecret"
PAT = "dc-personal-access-t0ken"
CLOUD_ENV = {"CONFLUENCE_USER": EMAIL, "CONFLUENCE_TOKEN": TOKEN}
TITLE = "INC-42 postmortem: checkout down"
BODY = "<h1>Summary</h1><p>Checkout was down for 12&nbsp;minutes.</p>"

Publisher = Callable[..., ConfluencePublisher]


def cloud_settings(**fields: Any) -> ConfluenceSettings:
    values: dict[str, Any] = {
        "base_url": BASE,
        "space": "OPS",
        "user_env": "CONFLUENCE_USER",
        "token_env": "CONFLUENCE_TOKEN",
        **fields,
    }
    return ConfluenceSettings.model_validate(values)


@pytest.fixture
def fake() -> FakeConfluence:
    return FakeConfluence(base_url=BASE, basic=(EMAIL, TOKEN), bearer=PAT, spaces=("OPS",))


@pytest.fixture
async def http(fake: FakeConfluence) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport) as client:
        yield client


@pytest.fixture
def publisher(http: httpx.AsyncClient) -> Publisher:
    def make(environ: dict[str, str] = CLOUD_ENV, **fields: Any) -> ConfluencePublisher:
        return ConfluencePublisher(http=http, settings=cloud_settings(**fields), environ=environ)

    return make


async def test_the_first_publish_creates_the_page(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    page = await publisher(timeout=timedelta(seconds=7)).publish(
        title=TITLE, body=BODY, page_id=None
    )

    [stored] = fake.pages_in("OPS")
    assert page == PublishedPage(
        stored.id, 1, f"{BASE}/spaces/OPS/pages/{stored.id}/INC-42+postmortem%3A+checkout+down"
    )
    assert (stored.title, stored.body, stored.version, stored.ancestors) == (TITLE, BODY, 1, [])
    assert [(call.method, call.path) for call in fake.calls] == [
        ("GET", "/rest/api/content"),
        ("POST", "/rest/api/content"),
    ]
    lookup, create = fake.calls
    assert lookup.params == {
        "spaceKey": "OPS",
        "title": TITLE,
        "type": "page",
        "expand": "version",
    }
    assert create.body == {
        "type": "page",
        "title": TITLE,
        "space": {"key": "OPS"},
        "body": {"storage": {"value": BODY, "representation": "storage"}},
    }
    assert {call.timeout for call in fake.calls} == {7.0}


async def test_a_publish_with_the_page_id_updates_it_to_the_next_version(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    first = await publisher().publish(title=TITLE, body=BODY, page_id=None)
    fake.calls.clear()

    second = await publisher().publish(
        title=TITLE + " (final)", body="<p>Done.</p>", page_id=first.page_id
    )

    assert (second.page_id, second.version) == (first.page_id, 2)
    [stored] = fake.pages_in("OPS")
    assert (stored.title, stored.body, stored.version) == (TITLE + " (final)", "<p>Done.</p>", 2)
    assert [(call.method, call.path) for call in fake.calls] == [
        ("GET", f"/rest/api/content/{first.page_id}"),
        ("PUT", f"/rest/api/content/{first.page_id}"),
    ]
    assert fake.calls[1].body["version"] == {"number": 2}


@pytest.mark.parametrize("as_timeout", [False, True], ids=["connection lost", "timeout"])
async def test_a_create_whose_answer_was_lost_is_found_by_title_and_updated(
    fake: FakeConfluence, publisher: Publisher, as_timeout: bool
) -> None:
    fake.lose_answer(method="POST", as_timeout=as_timeout)
    with pytest.raises(OutcomeUnknown) as lost:
        await publisher().publish(title=TITLE, body=BODY, page_id=None)
    assert lost.value.retryable and lost.value.timed_out is as_timeout
    [made] = fake.pages_in("OPS")  # the page was made all the same

    page = await publisher().publish(title=TITLE, body=BODY, page_id=None)

    assert (page.page_id, page.version) == (made.id, 2)
    assert len(fake.pages_in("OPS")) == 1
    assert len(fake.calls_of("POST")) == 1


async def test_an_update_whose_answer_was_lost_is_simply_made_again(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    first = await publisher().publish(title=TITLE, body=BODY, page_id=None)
    fake.lose_answer(method="PUT")
    with pytest.raises(OutcomeUnknown):
        await publisher().publish(title=TITLE, body="<p>v2</p>", page_id=first.page_id)

    page = await publisher().publish(title=TITLE, body="<p>v2</p>", page_id=first.page_id)

    assert (page.page_id, page.version) == (first.page_id, 3)
    assert fake.page(first.page_id).body == "<p>v2</p>"


async def test_a_page_deleted_meanwhile_is_made_again(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    first = await publisher().publish(title=TITLE, body=BODY, page_id=None)
    fake.delete(first.page_id)

    again = await publisher().publish(title=TITLE, body=BODY, page_id=first.page_id)

    assert again.page_id != first.page_id and again.version == 1
    assert [page.id for page in fake.pages_in("OPS")] == [again.page_id]


async def test_a_page_deleted_between_the_read_and_the_update_is_made_again(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    first = await publisher().publish(title=TITLE, body=BODY, page_id=None)
    fake.fail(404, method="PUT")  # as if deleted after our read

    again = await publisher().publish(title=TITLE, body=BODY, page_id=first.page_id)

    # The page is still there in the fake, so the title lookup adopts it.
    assert (again.page_id, again.version) == (first.page_id, 2)


async def test_an_edit_saved_meanwhile_is_read_again_and_written_over(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    first = await publisher().publish(title=TITLE, body=BODY, page_id=None)
    fake.edit_before(method="PUT")  # someone saves version 2 just before our update

    page = await publisher().publish(title=TITLE, body="<p>v3</p>", page_id=first.page_id)

    assert page.version == 3
    assert fake.page(first.page_id).body == "<p>v3</p>"
    assert [call.status for call in fake.calls_of("PUT")] == [409, 200]


async def test_a_page_edited_twice_meanwhile_is_tried_again_later(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    first = await publisher().publish(title=TITLE, body=BODY, page_id=None)
    fake.edit_before(method="PUT", times=2)

    with pytest.raises(DeliveryError) as conflict:
        await publisher().publish(title=TITLE, body="<p>v3</p>", page_id=first.page_id)

    assert conflict.value.code == "confluence_409" and conflict.value.retryable


async def test_refused_credentials_are_final_and_never_shown(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    fake.basic = (EMAIL, "the-token-confluence-knows")

    with pytest.raises(DeliveryError) as refused:
        await publisher().publish(title=TITLE, body=BODY, page_id=None)

    error = refused.value
    assert error.code == "confluence_401" and not error.retryable
    header = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    for text in (str(error), repr(error), error.detail):
        assert TOKEN not in text and header not in text and "Basic" not in text
    assert fake.pages_in("OPS") == []


async def test_an_answer_that_echoes_the_credentials_is_scrubbed() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": f"bad: {request.headers['Authorization']}"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as http:
        publisher = ConfluencePublisher(http=http, settings=cloud_settings(), environ=CLOUD_ENV)
        with pytest.raises(DeliveryError) as refused:
            await publisher.publish(title=TITLE, body=BODY, page_id=None)

    header = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert header not in str(refused.value) and "[redacted]" in refused.value.detail


@pytest.mark.parametrize("status", [403, 400])
async def test_a_refusal_is_final(fake: FakeConfluence, publisher: Publisher, status: int) -> None:
    fake.fail(status, method="POST")

    with pytest.raises(DeliveryError) as refused:
        await publisher().publish(title=TITLE, body=BODY, page_id=None)

    assert refused.value.code == f"confluence_{status}" and not refused.value.retryable
    assert not isinstance(refused.value, OutcomeUnknown)


async def test_a_space_that_does_not_exist_is_final(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    with pytest.raises(DeliveryError) as refused:
        await publisher(space="NOPE").publish(title=TITLE, body=BODY, page_id=None)

    assert refused.value.code == "confluence_404" and not refused.value.retryable
    assert "NOPE" in refused.value.detail


async def test_a_rate_limit_says_when_to_come_back(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    fake.rate_limit(retry_after=17)

    with pytest.raises(DeliveryError) as limited:
        await publisher().publish(title=TITLE, body=BODY, page_id=None)

    assert limited.value.code == "confluence_429"
    assert limited.value.retryable and limited.value.retry_after == 17.0
    assert fake.pages_in("OPS") == []


async def test_a_server_error_on_create_leaves_the_outcome_unknown(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    fake.fail(503, method="POST", retry_after=5)

    with pytest.raises(OutcomeUnknown) as unknown:
        await publisher().publish(title=TITLE, body=BODY, page_id=None)

    assert unknown.value.code == "confluence_503" and unknown.value.retry_after == 5.0


async def test_a_server_error_on_a_read_is_retryable_and_nothing_more(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    fake.fail(500, method="GET")

    with pytest.raises(DeliveryError) as failed:
        await publisher().publish(title=TITLE, body=BODY, page_id=None)

    assert failed.value.retryable and not isinstance(failed.value, OutcomeUnknown)
    assert fake.calls_of("POST") == []


async def test_confluence_out_of_reach_is_retryable_and_made_nothing() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        publisher = ConfluencePublisher(http=http, settings=cloud_settings(), environ=CLOUD_ENV)
        with pytest.raises(DeliveryError) as unreachable:
            await publisher.publish(title=TITLE, body=BODY, page_id=None)

    assert unreachable.value.code == "confluence_unreachable" and unreachable.value.retryable
    assert not isinstance(unreachable.value, OutcomeUnknown)


@pytest.mark.parametrize("missing", ["CONFLUENCE_USER", "CONFLUENCE_TOKEN"])
async def test_a_missing_variable_is_named_and_nothing_is_sent(
    fake: FakeConfluence, publisher: Publisher, missing: str
) -> None:
    environ = {name: value for name, value in CLOUD_ENV.items() if name != missing}

    with pytest.raises(DeliveryError) as absent:
        await publisher(environ).publish(title=TITLE, body=BODY, page_id=None)

    assert absent.value.code == "confluence_credentials_missing"
    assert absent.value.retryable and absent.value.retry_after == 300.0  # set, then restart
    assert missing in absent.value.detail
    assert TOKEN not in str(absent.value) and EMAIL not in str(absent.value)
    assert fake.calls == []


def test_missing_environment_lists_each_unset_variable() -> None:
    settings = cloud_settings()
    assert missing_environment(settings, CLOUD_ENV) == []
    assert missing_environment(settings, {"CONFLUENCE_USER": EMAIL, "CONFLUENCE_TOKEN": ""}) == [
        "postmortem.confluence: $CONFLUENCE_TOKEN is not set, so postmortems cannot be published"
    ]
    assert len(missing_environment(settings, {})) == 2


async def test_cloud_uses_basic_auth_and_data_center_a_bearer_token(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    await publisher().publish(title=TITLE, body=BODY, page_id=None)
    assert {call.auth for call in fake.calls} == {f"basic {EMAIL}"}
    fake.calls.clear()

    data_center = publisher({"CONFLUENCE_PAT": PAT}, user_env=None, token_env="CONFLUENCE_PAT")
    await data_center.publish(title="INC-43 postmortem", body=BODY, page_id=None)

    assert {call.auth for call in fake.calls} == {"bearer"}
    assert len(fake.pages_in("OPS")) == 2


async def test_the_page_is_filed_under_the_parent(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    parent = fake.add_page("Postmortems")

    page = await publisher(parent_id=parent.id).publish(title=TITLE, body=BODY, page_id=None)

    assert fake.page(page.page_id).ancestors == [parent.id]
    assert fake.calls_of("POST")[0].body["ancestors"] == [{"id": parent.id}]


async def test_a_parent_that_does_not_exist_is_final(
    fake: FakeConfluence, publisher: Publisher
) -> None:
    with pytest.raises(DeliveryError) as refused:
        await publisher(parent_id="999").publish(title=TITLE, body=BODY, page_id=None)

    assert refused.value.code == "confluence_400" and not refused.value.retryable


async def test_a_malformed_body_is_final(fake: FakeConfluence, publisher: Publisher) -> None:
    with pytest.raises(DeliveryError) as refused:
        await publisher().publish(title=TITLE, body="<p><b>unclosed</p>", page_id=None)

    assert refused.value.code == "confluence_400" and not refused.value.retryable
    assert "Error parsing xhtml" in refused.value.detail
    assert fake.pages_in("OPS") == []


def test_the_fake_takes_storage_format_as_confluence_does() -> None:
    macro = '<ac:structured-macro ac:name="toc"/><p>a&nbsp;&mdash;&amp;b</p>'
    assert storage_problem(macro) is None
    assert storage_problem("<p>&bogus;</p>") is not None
    assert storage_problem("<p>open") is not None


async def test_the_fake_serves_the_same_api_as_an_asgi_app(fake: FakeConfluence) -> None:
    transport = httpx.ASGITransport(app=fake)
    async with httpx.AsyncClient(transport=transport) as http:
        publisher = ConfluencePublisher(http=http, settings=cloud_settings(), environ=CLOUD_ENV)
        first = await publisher.publish(title=TITLE, body=BODY, page_id=None)
        second = await publisher.publish(title=TITLE, body=BODY, page_id=first.page_id)

    assert (second.page_id, second.version) == (first.page_id, 2)
    assert first.url.startswith(f"{BASE}/spaces/OPS/pages/")
