"""warroom as users install it: the wheel built from this tree, installed into a fresh
virtual environment, serving from an empty directory.

An editable install finds the checkout's files wherever they are; a wheel has only what
pyproject.toml ships. This test once would have caught a first declaration whose card was
never posted (its template not installed) while /readyz said ready.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT_ROOT, SPECS_DIR, postgres_admin_url
from tests.e2e.conftest import free_port, wait_until
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import command_fields, form_body, signed_headers

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(
        postgres_admin_url() is not None,
        reason="packaging does not depend on the database: checked once, on the SQLite run",
    ),
]

SECRET = "wheel-signing-secret"
BOT_TOKEN = "xoxb-wheel-token"
# Not part of what a user's `pip install` would see.
LEFT_OUT = {".git", ".venv", "build", "dist", "tests", "bench", ".ci", "__pycache__"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def warroom(self) -> Path:
        return self.venv / "bin" / "warroom"


def _left_out(directory: str, names: list[str]) -> set[str]:
    return {
        name
        for name in names
        if name in LEFT_OUT
        or name.endswith((".egg-info", "_cache", ".db"))
        or name.startswith((".env", ".hypothesis"))
    }


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: the build writes build/ and *.egg-info next to its sources.
    source = root / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=_left_out, symlinks=True)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", source)
    (wheel,) = (root / "dist").glob("warroom-*.whl")
    # A fresh environment holding only the wheel; its dependencies are this one's (a .pth
    # line), so that the test needs no index and takes seconds.
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    (site,) = (venv / "lib").glob("python*/site-packages")
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
        "--no-deps", "--no-index", "--quiet", wheel,
    )  # fmt: skip
    return Installed(wheel=wheel, venv=venv)


def test_the_wheel_ships_every_module_template_and_data_file(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = set(wheel.namelist())
        manifest = wheel.read("bot/manifest.yml").decode()
        metadata = wheel.read(f"{installed.wheel.name.split('-py3')[0]}.dist-info/METADATA")
    modules = {
        str(path.relative_to(PROJECT_ROOT))
        for package in ("bot", "handlers")
        for path in (PROJECT_ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    missing = sorted(modules - shipped)
    assert not missing, f"not in the wheel (a package missing from pyproject.toml?): {missing}"
    templates = {f"bot/templates/{p.name}" for p in (PROJECT_ROOT / "templates").glob("*.j2")}
    assert templates and templates <= shipped
    assert {"bot/storage/migrations/script.py.mako", "bot/py.typed"} <= shipped
    assert manifest == (PROJECT_ROOT / "manifest.yml").read_text(encoding="utf-8")
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in shipped)
    assert b"License-Expression: Apache-2.0" in metadata


@pytest.fixture
def empty_directory(tmp_path: Path) -> Path:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    return cwd


def test_the_installed_command(installed: Installed, empty_directory: Path) -> None:
    assert _run(installed.warroom, "--version", cwd=empty_directory).startswith("warroom ")
    where = _run(
        installed.venv / "bin" / "python", "-c", "import bot; print(bot.__file__)",
        cwd=empty_directory,
    )  # fmt: skip
    assert where.startswith(str(installed.venv)), "warroom imported from outside the venv"
    assert "url: https://warroom.example.com/slack/events" in _run(installed.warroom, "manifest")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        fake.add_channel("general", channel_id="C0GENERAL")
        yield fake
        assert fake.violations == [], "the app made calls Slack would reject"


def test_a_declaration_gets_its_pinned_card(
    installed: Installed, empty_directory: Path, fake_slack: FakeSlack
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "WARROOM_", "PYTHON"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        WARROOM_SLACK_API_URL=fake_slack.api_url,
        WARROOM_TICK_SECONDS="0.2",
    )  # and the default database: ./warroom.db, created and migrated by serve
    port = free_port()
    log_path = empty_directory.parent / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [installed.warroom, "serve", "--port", str(port)],
            cwd=empty_directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_until(lambda: _ready(server, url, log_path), timeout=30, what="readyz")
        assert ready["templates"] == "ok" and ready["slack"] == "configured"
        body = form_body(
            command_fields(
                "declare sev2 Checkout errors",
                user="U0DECLARER",
                channel="C0GENERAL",
                response_url=fake_slack.response_url(),
            )
        )
        headers = signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
        ack = httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=10)
        assert ack.status_code == 200, ack.text
        assert ack.json()["text"].startswith("Declaring INC-1 (SEV2) Checkout errors")
        channel = wait_until(
            lambda: (c := fake_slack.channel_named("inc-1-checkout-errors")) and c.pins and c,
            what=f"the pinned card (log: {log_path})",
        )
        (card,) = (channel.message(ts) for ts in channel.pins)
        assert card is not None and "INCIDENT ACTIVE" in json.dumps(card)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (empty_directory / "warroom.db").exists()
    log_text = log_path.read_text(errors="replace")
    assert "Traceback" not in log_text
    assert "token will be unused" not in log_text


def _ready(server: subprocess.Popen[bytes], url: str, log_path: Path) -> dict[str, object] | None:
    if server.poll() is not None:
        raise AssertionError(f"warroom exited: {log_path.read_text(errors='replace')}")
    try:
        answer = httpx.get(f"{url}/readyz", timeout=1)
    except httpx.HTTPError:
        return None
    ready: dict[str, object] = answer.json()
    return ready if answer.status_code == 200 else None
