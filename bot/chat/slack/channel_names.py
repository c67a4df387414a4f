"""Channel names built from the policy's template, always acceptable to Slack.

Slack takes lowercase letters, digits, `-` and `_`, at most 80 characters. Titles are
free text in any script, so the slug is transliterated where possible and cut to fit;
the incident number is never cut.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

MAX_LENGTH = 80
_INVALID = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def slugify(text: str) -> str:
    """`Checkout errors (EU)!` -> `checkout-errors-eu`; non-Latin text may give ``""``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _clean(ascii_text.lower().replace("_", "-"))


def _clean(text: str) -> str:
    text = _INVALID.sub("-", text.lower())
    return _DASHES.sub("-", text).strip("-_")


def build_channel_name(template: str, *, number: int, title: str, severity: str) -> str:
    """The channel for incident `number`, e.g. `inc-7-checkout-errors`."""
    fields = {"number": str(number), "severity": _clean(severity)}
    fixed = _clean(template.format(slug="", **fields))
    room = max(MAX_LENGTH - len(fixed) - 1, 0)
    slug = slugify(title)[:room].rstrip("-_")
    name = _clean(template.format(slug=slug, **fields))
    return name[:MAX_LENGTH].rstrip("-_") or f"inc-{number}"


def alternative_name(name: str, attempt: int) -> str:
    """Another name to try after `name_taken`: `-2`, `-3`, … then a random suffix.

    A random tail after a few tries keeps a crowded namespace from ever failing a
    declaration.
    """
    suffix = f"-{attempt + 1}" if attempt < 5 else f"-{secrets.token_hex(3)}"
    return name[: MAX_LENGTH - len(suffix)].rstrip("-_") + suffix
