import re

from hypothesis import given
from hypothesis import strategies as st

from bot.chat.slack.channel_names import MAX_LENGTH, alternative_name, build_channel_name, slugify

VALID = re.compile(r"^[a-z0-9_-]{1,80}$")
templates = st.sampled_from(
    ["inc-{number}-{slug}", "{number}", "INC {severity} {number} {slug}", "Ärger_{number}_{slug}!"]
)


@given(title=st.text(max_size=400), number=st.integers(1, 10**9), template=templates)
def test_any_title_gives_a_valid_slack_name_keeping_the_number(
    title: str, number: int, template: str
) -> None:
    name = build_channel_name(template, number=number, title=title, severity="SEV2")
    assert VALID.match(name), name
    assert str(number) in name


@given(name=st.from_regex(VALID, fullmatch=True), attempt=st.integers(1, 50))
def test_alternatives_stay_valid_and_differ(name: str, attempt: int) -> None:
    other = alternative_name(name, attempt)
    assert VALID.match(other) and len(other) <= MAX_LENGTH
    assert other != name


def test_default_template_reads_like_the_runbook() -> None:
    name = build_channel_name(
        "inc-{number}-{slug}", number=7, title="Checkout errors", severity="SEV2"
    )
    assert name == "inc-7-checkout-errors"


def test_accents_are_transliterated_and_symbols_dropped() -> None:
    assert slugify("Paiement refusé (EU) — 50% 💥") == "paiement-refuse-eu-50"
    assert (
        build_channel_name("inc-{number}-{slug}", number=3, title="日本語", severity="SEV1")
        == "inc-3"
    )


def test_long_titles_are_cut_not_the_number() -> None:
    name = build_channel_name(
        "inc-{number}-{slug}", number=123456, title="word " * 100, severity="X"
    )
    assert name.startswith("inc-123456-word-word") and len(name) <= MAX_LENGTH
    assert not name.endswith("-")


def test_alternative_names_count_up_then_randomise() -> None:
    assert alternative_name("inc-7-checkout-errors", 1) == "inc-7-checkout-errors-2"
    assert alternative_name("inc-7-checkout-errors", 2) == "inc-7-checkout-errors-3"
    assert alternative_name("inc-7", 9) != alternative_name("inc-7", 9)
