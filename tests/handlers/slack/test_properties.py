"""Whatever Slack (or someone holding the signing secret) sends: no exception escapes,
an answer always comes, and nothing the bot says can ping a whole channel."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.inbound.commands import SUBCOMMANDS
from tests.handlers.slack.conftest import Glue
from tests.support.slack_requests import form_body

BROADCASTS = ("<!channel>", "<!here>", "<!everyone>")
EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
words = st.sampled_from(
    ["INC-1", "INC-99999999999999999999", "--private", "--next", "0m", "99999999d", "sev2",
     "<!channel>", "<@U0ALEX|alex>", "&lt;", "resolved", "commander", "\n", "*bold*"]
)  # fmt: skip
command_texts = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda sub, rest: f"{sub} {' '.join(rest)}",
        st.sampled_from([sub.name for sub in SUBCOMMANDS]),
        st.lists(st.one_of(words, st.text(max_size=20)), max_size=6),
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
interaction_payloads = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["block_actions", "view_submission", "message_action"])},
        optional={
            "user": st.one_of(json_values, st.fixed_dictionaries({"id": st.text(max_size=12)})),
            "actions": st.lists(
                st.fixed_dictionaries(
                    {"action_id": st.sampled_from(["incident.acknowledge", "incident.resolve"])},
                    optional={"value": st.one_of(st.text(max_size=40), st.integers())},
                ),
                max_size=2,
            ),
            "view": json_values,
            "channel": json_values,
            "message": json_values,
            "trigger_id": st.text(max_size=10),
            "callback_id": st.sampled_from(["incident.add_to_timeline", "x"]),
        },
    ),
)


def pings_everyone(answer: Any) -> bool:
    text = json.dumps(answer)
    return any(broadcast in text for broadcast in BROADCASTS)


@EXAMPLES
@given(text=command_texts)
async def test_every_command_text_gets_a_safe_answer(glue: Glue, text: str) -> None:
    reply, url = await glue.command(text)
    assert reply.status == 200
    assert reply.text or reply.body.get("blocks") or reply.body == {}  # {} : a form opened
    await glue.settled()
    assert not pings_everyone(reply.body)
    assert not pings_everyone(glue.slack.responses_to(url))


@EXAMPLES
@given(payload=interaction_payloads)
async def test_any_interaction_payload_is_answered_without_a_server_error(
    glue: Glue, payload: Any
) -> None:
    body = form_body({"payload": json.dumps(payload)})
    app_reply = await glue.send_checked(body)
    assert app_reply < 500
    await glue.settled()
