"""A real browser against the real app: headless Chromium from Debian (`chromium`), driven
by Playwright with `executable_path` (no browser of Playwright's own is downloaded), on
pages the app serves with uvicorn on a loopback port, in a thread of the test process.

Fixtures, for any page warroom serves:

- `make_warroom(**settings)`: a Warroom on the test's database, with FakeChat and a
  stepping clock unless given others. Seed it with the use cases (`await
  warroom.inbound.command(...)`) through `run_async`, then serve another made the same
  way: each Warroom's workers belong to the event loop that first ran them.
- `run_async(coroutine)`: runs it to the end on an event loop of its own, in a thread
  (Playwright's synchronous API keeps a loop running in the test's thread).
- `serve(warroom)`: serves it (create_app, its lifespan and all) and returns the base URL.
- `browser`: one Chromium per test module; `page`: a fresh context (no cookies) and page.
- `screenshot(page, name)`: saves a full-page PNG in the artifacts directory
  (`$WARROOM_TEST_ARTIFACTS`, default tests/artifacts/, which git ignores).

Without Chromium these tests skip saying how to install it; under CI=true they fail
instead, since CI installs it (scripts/test) and a skip there would hide a broken install.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from bot.app import Warroom, build, create_app
from bot.chat.fake import FakeChat
from bot.clock import Clock
from bot.config import Settings
from tests.conftest import PROJECT_ROOT, SteppingClock
from tests.e2e.conftest import free_port, wait_until

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "Chromium is not installed: apt-get install chromium (scripts/test does, as root)"
ARTIFACTS_ENV = "WARROOM_TEST_ARTIFACTS"
DEFAULT_ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
SERVER_START_SECONDS = 20.0
PAGE_TIMEOUT_MS = 15_000
T = TypeVar("T")


def find_chromium() -> Path | None:
    named = os.environ.get("WARROOM_TEST_CHROMIUM")
    for candidate in (named, str(DEBIAN_CHROMIUM), shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`coroutine`'s result, run on a fresh event loop in another thread."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed") as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def chromium() -> Path:
    found = find_chromium()
    if found is not None:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{INSTALL_HINT} (CI installs it: bash scripts/test)", pytrace=False)
    pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    directory = Path(os.environ.get(ARTIFACTS_ENV) or DEFAULT_ARTIFACTS)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def screenshot(artifacts: Path, request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    module = request.node.module.__name__.rsplit(".", 1)[-1]

    def take(page: Page, name: str) -> Path:
        path = artifacts / f"{module}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return take


@pytest.fixture
def make_warroom(database_url: str) -> Callable[..., Warroom]:
    """Warroom on the test's database: FakeChat and a stepping clock unless given; the
    keyword arguments beyond `chat`, `clock`, `policy` and `run_check` are settings."""

    def make(
        *,
        chat: FakeChat | None = None,
        clock: Clock | None = None,
        policy: Any = None,
        run_check: Any = None,
        **settings: Any,
    ) -> Warroom:
        if chat is None:
            chat = FakeChat()
            chat.add_channel("C0ANNOUNCE", "incidents")
        values = {
            "database_url": database_url,
            "announce_channel": "C0ANNOUNCE",
            "post_interval_seconds": 0,
            **settings,
        }
        return build(
            Settings(_env_file=None, **values),
            chat=chat,
            clock=clock or SteppingClock(),
            policy=policy,
            run_check=run_check,
        )

    return make


@pytest.fixture
def serve() -> Iterator[Callable[[Warroom], str]]:
    """serve(warroom) → its base URL, served until the test ends (its lifespan runs)."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(warroom: Warroom) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(warroom=warroom),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
            )
        )
        thread = threading.Thread(target=server.run, name=f"warroom-{port}", daemon=True)
        thread.start()
        running.append((server, thread))
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout=SERVER_START_SECONDS,
            what=f"warroom to serve on port {port}",
        )
        if not server.started:
            raise AssertionError(f"warroom stopped before serving on port {port}")
        return f"http://127.0.0.1:{port}"

    yield start
    for server, _ in running:
        server.should_exit = True
    for _, thread in running:
        thread.join(timeout=15)
