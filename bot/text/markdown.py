"""User text inside our Markdown templates is data: escaped so it can never become markup.

A title like `<!channel>` or `**urgent**` must show as typed, ping nobody, and not
change the card's layout. Adapters turn the backslash escapes back into literal text in
their platform's own format.
"""

from __future__ import annotations

import re

# Characters that start Markdown inline syntax, or platform markup such as Slack's <...>.
_INLINE_SPECIALS = re.compile(r"([\\`*_~\[\]<>&|])")
# Line starts that would turn user text into a heading, list item or quote.
_BLOCK_START = re.compile(r"^(\s*)([#>+-])", re.MULTILINE)


class Trusted(str):
    """Markup produced by the application (a mention, a link), inserted unescaped."""

    __slots__ = ()


# References to people, groups and channels in our Markdown. Each platform's adapter turns
# them into its own markup (its mention syntax, group pings, channel links). User text can never
# forge one: escaping turns its `<` into `\<`.
REFERENCE = re.compile(r"<(?P<kind>user|group|channel):(?P<id>[A-Za-z0-9._:@-]{1,120})>")


def user_ref(user_id: str) -> Trusted:
    """Names a person; the platform notifies them."""
    return Trusted(f"<user:{user_id}>")


# Who acted, when it was not a person: an alert source that opened or changed an incident.
ALERT_ACTOR_PREFIX = "alert:"
_SOURCE_NAMES = {"alertmanager": "Alertmanager", "grafana": "Grafana", "generic": "an alert"}


def alert_actor(source: str) -> str:
    """The actor recorded for what an alert source did (`alert:alertmanager`)."""
    return f"{ALERT_ACTOR_PREFIX}{source}"


def actor_ref(actor: str) -> Trusted:
    """Names whoever acted: a person (a mention), or the alert source by its name."""
    if actor.startswith(ALERT_ACTOR_PREFIX):
        source = actor.removeprefix(ALERT_ACTOR_PREFIX)
        return Trusted(escape_markdown(_SOURCE_NAMES.get(source, source)))
    return user_ref(actor)


def group_ref(group_id: str) -> Trusted:
    """Names a user group (an on-call team); the platform notifies its members."""
    return Trusted(f"<group:{group_id}>")


def channel_ref(channel_id: str) -> Trusted:
    """Links to a channel."""
    return Trusted(f"<channel:{channel_id}>")


# Characters a URL from outside (an alert's graph link) may not carry into our Markdown or
# a platform's link syntax: encoded, which leaves the link working.
_URL_UNSAFE = {c: f"%{ord(c):02X}" for c in "()<>|[]\\\"' `*_~"}


def link(label: str, url: str) -> Trusted | None:
    """A link to an outside page (http or https only), its label escaped; None if the
    address is not one."""
    url = url.strip()
    if not re.match(r"https?://[^\s]+$", url, re.IGNORECASE) or len(url) > 2000:
        return None
    safe = "".join(_URL_UNSAFE.get(c, c) for c in url)
    return Trusted(f"[{escape_markdown(label)}]({safe})")


def escape_markdown(text: str) -> str:
    """Backslash-escape everything Markdown or chat markup could interpret, except the
    references to people, groups and channels that the text carries (a note saying who
    is on it shows that person as a mention; `<!channel>` stays text)."""
    if isinstance(text, Trusted):
        return text
    pieces: list[str] = []
    last = 0
    for match in REFERENCE.finditer(text):
        pieces += [_escape_plain(text[last : match.start()]), match.group(0)]
        last = match.end()
    pieces.append(_escape_plain(text[last:]))
    return _BLOCK_START.sub(r"\1\\\2", "".join(pieces))


def _escape_plain(text: str) -> str:
    return _INLINE_SPECIALS.sub(r"\\\1", text)


def single_line(text: str) -> str:
    """Titles and similar one-line fields: collapse newlines and runs of spaces."""
    return " ".join(text.split())


# What a refusal quotes of the input: enough to recognise it, never the whole of it.
EXCERPT_LIMIT = 40


def excerpt(typed: str) -> str:
    """What someone typed, quoted and escaped for a refusal, cut to a short excerpt."""
    typed = typed.strip()
    if len(typed) > EXCERPT_LIMIT:
        typed = typed[: EXCERPT_LIMIT - 1] + "…"
    return escape_markdown(repr(typed))
