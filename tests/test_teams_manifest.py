"""teams/: the Teams app manifest keeps schema 1.17's limits and lists our commands, and the
icons are the sizes Teams asks for and exactly what teams/make_icons.py draws."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from bot.inbound.commands import SUBCOMMANDS
from tests.conftest import PROJECT_ROOT

TEAMS_DIR = PROJECT_ROOT / "teams"
MANIFEST: dict[str, Any] = json.loads((TEAMS_DIR / "manifest.json").read_text(encoding="utf-8"))
APP_ID = "{{TEAMS_APP_ID}}"
ICONS = {"color.png": 192, "outline.png": 32}


def test_schema_version_and_placeholders() -> None:
    assert MANIFEST["$schema"] == (
        "https://developer.microsoft.com/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
    )
    assert MANIFEST["manifestVersion"] == "1.17"
    assert MANIFEST["version"] == "0.1.0"
    assert MANIFEST["id"] == APP_ID
    assert [bot["botId"] for bot in MANIFEST["bots"]] == [APP_ID]
    assert MANIFEST["validDomains"] == ["{{WARROOM_HOST}}"]


def test_required_fields_keep_their_limits() -> None:
    developer = MANIFEST["developer"]
    assert 0 < len(developer["name"]) <= 32
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        assert developer[key].startswith("https://"), key
    assert 0 < len(MANIFEST["name"]["short"]) <= 30
    assert 0 < len(MANIFEST["name"]["full"]) <= 100
    assert 0 < len(MANIFEST["description"]["short"]) <= 80
    assert 0 < len(MANIFEST["description"]["full"]) <= 4000
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", MANIFEST["accentColor"])
    assert MANIFEST["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert set(MANIFEST["permissions"]) <= {"identity", "messageTeamMembers"}
    assert len(MANIFEST["validDomains"]) <= 16
    assert all("/" not in domain for domain in MANIFEST["validDomains"])


def test_the_bot() -> None:
    (bot,) = MANIFEST["bots"]
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert bot["supportsFiles"] is False
    assert bot["isNotificationOnly"] is False


def test_command_lists_keep_the_limits() -> None:
    lists = MANIFEST["bots"][0]["commandLists"]
    assert 0 < len(lists) <= 3
    scopes = [scope for command_list in lists for scope in command_list["scopes"]]
    assert sorted(scopes) == sorted(set(scopes)), "a scope in two lists"
    assert set(scopes) <= set(MANIFEST["bots"][0]["scopes"])
    for command_list in lists:
        commands = command_list["commands"]
        assert 0 < len(commands) <= 10
        titles = [command["title"] for command in commands]
        assert len(titles) == len(set(titles)), f"duplicate titles in {command_list['scopes']}"
        for command in commands:
            assert 0 < len(command["title"]) <= 32, command
            assert 0 < len(command["description"]) <= 128, command
        assert "help" in titles


def test_command_titles_are_our_subcommands() -> None:
    known = {sub.name for sub in SUBCOMMANDS} | {"help"}
    titles = {
        command["title"]
        for command_list in MANIFEST["bots"][0]["commandLists"]
        for command in command_list["commands"]
    }
    assert {title.split()[0] for title in titles} <= known
    wanted = "declare ack update status severity role note escalate resolve diag postmortem list"
    assert set(wanted.split()) | {"help"} <= titles


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def rgba_pixels(data: bytes) -> list[tuple[int, int, int, int]]:
    """The pixels of an 8-bit RGBA PNG whose rows use filter 0 (what make_icons.py writes)."""
    chunks = png_chunks(data)
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color_type, interlace) == (8, 6, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + 4 * width
    assert len(raw) == stride * height
    pixels = []
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        assert row[0] == 0, f"row {y} uses filter {row[0]}"
        pixels += [(row[i], row[i + 1], row[i + 2], row[i + 3]) for i in range(1, stride, 4)]
    return pixels


@pytest.mark.parametrize(("name", "size"), ICONS.items())
def test_icons_have_the_sizes_teams_asks_for(name: str, size: int) -> None:
    header = png_chunks((TEAMS_DIR / name).read_bytes())[0][1]
    assert struct.unpack(">II", header[:8]) == (size, size)


def test_outline_is_white_on_transparent() -> None:
    pixels = rgba_pixels((TEAMS_DIR / "outline.png").read_bytes())
    assert all(p[:3] == (255, 255, 255) or p[3] == 0 for p in pixels)
    alphas = {p[3] for p in pixels}
    assert 0 in alphas and 255 in alphas, "no transparent background or no glyph"


def test_make_icons_reproduces_the_committed_pngs(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(TEAMS_DIR / "make_icons.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ICONS:
        assert (tmp_path / name).read_bytes() == (TEAMS_DIR / name).read_bytes(), name
