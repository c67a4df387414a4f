"""The example Alertmanager of compose.yml, run for real: its entrypoint writes the token
from its env file, Debian's Alertmanager accepts deploy/compose/alertmanager.yml, and an
alert it fires becomes an incident in a real `warroom serve` reading the compose policy.

Only what Docker would change is changed: container paths become temporary ones, the
`warroom:3000` address becomes the test server's, and the route's waits are cut to a
second so that the test does not wait out group_wait.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import postgres_admin_url
from tests.deploy.files import COMPOSE_DIR, compose_services
from tests.e2e.conftest import WarroomServer, free_port, wait_until
from tests.support.alertmanager import require_binary
from tests.support.fake_slack import FakeSlack

CONFIG = COMPOSE_DIR / "alertmanager.yml"
TOKEN_DIR = "/run/warroom"  # the entrypoint's tmpfs
ALERT_TIMEOUT = 45.0


def entrypoint_argv(
    *, token_dir: Path, binary: str, config: Path | None = None, storage: Path | None = None
) -> list[str]:
    """compose.yml's entrypoint and command for Alertmanager, as Docker would run them,
    with its container paths moved to the ones given."""
    service = compose_services()["alertmanager"]
    shell, dash_c, script, name = service["entrypoint"]
    script = script.replace("$$", "$").replace(TOKEN_DIR, str(token_dir))
    script = script.replace("/bin/alertmanager", binary)
    command: list[str] = []
    for argument in service["command"]:
        if argument.startswith("--config.file=") and config is not None:
            argument = f"--config.file={config}"
        elif argument.startswith("--storage.path=") and storage is not None:
            argument = f"--storage.path={storage}"
        command.append(argument)
    return [shell, dash_c, script, name, *command]


def clean_env(**values: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **values}


def test_the_entrypoint_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    argv = entrypoint_argv(token_dir=tmp_path, binary="/bin/true")
    done = subprocess.run(
        argv, env=clean_env(WARROOM_AM_TOKEN=""), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "set WARROOM_AM_TOKEN in deploy/compose/alertmanager.env" in done.stderr
    assert not (tmp_path / "token").exists()


def test_the_entrypoint_writes_the_token_for_alertmanager_alone(tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    argv = entrypoint_argv(token_dir=tmp_path, binary="/bin/echo")
    done = subprocess.run(
        argv, env=clean_env(WARROOM_AM_TOKEN=token), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    written = tmp_path / "token"
    assert written.read_text() == token  # no newline: the bearer is the token exactly
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    # The command's flags reach Alertmanager unchanged.
    assert done.stdout.split() == compose_services()["alertmanager"]["command"]


@pytest.fixture
def alertmanager_binary() -> Path:
    return require_binary()


def amtool(binary: Path) -> Path:
    beside = binary.parent / "amtool"
    if not beside.is_file():
        pytest.skip(f"amtool is not installed beside {binary}")
    return beside


def test_alertmanager_accepts_the_compose_config(alertmanager_binary: Path) -> None:
    done = subprocess.run(
        [str(amtool(alertmanager_binary)), "check-config", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_config_check_refuses_a_broken_config(
    alertmanager_binary: Path, tmp_path: Path
) -> None:
    broken = yaml.safe_load(CONFIG.read_text())
    broken["receivers"][0]["webhook_configs"][0]["http_config"]["authorization"]["typ"] = "x"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(broken))
    done = subprocess.run(
        [str(amtool(alertmanager_binary)), "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0


def local_config(*, warroom_url: str, token_dir: Path) -> dict[str, Any]:
    """The compose config with warroom's address and the token's path of this machine."""
    config = yaml.safe_load(CONFIG.read_text())
    assert isinstance(config, dict)
    (webhook,) = config["receivers"][0]["webhook_configs"]
    assert webhook["url"].startswith("http://warroom:3000/")
    webhook["url"] = webhook["url"].replace("http://warroom:3000", warroom_url)
    authorization = webhook["http_config"]["authorization"]
    authorization["credentials_file"] = authorization["credentials_file"].replace(
        TOKEN_DIR, str(token_dir)
    )
    config["route"].update(group_wait="1s", group_interval="1s")
    return config


@pytest.fixture
def running_alertmanager(
    alertmanager_binary: Path, tmp_path: Path
) -> Iterator[Callable[[str, str], str]]:
    """Starts Alertmanager through compose's entrypoint; returns its URL."""
    processes: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "alertmanager.log"

    def start(warroom_url: str, token: str) -> str:
        token_dir = tmp_path / "run"
        token_dir.mkdir()
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            yaml.safe_dump(local_config(warroom_url=warroom_url, token_dir=token_dir))
        )
        storage = tmp_path / "data"
        storage.mkdir()
        port = free_port()
        argv = entrypoint_argv(
            token_dir=token_dir, binary=str(alertmanager_binary), config=config, storage=storage
        )
        argv.append(f"--web.listen-address=127.0.0.1:{port}")
        with log.open("ab") as output:
            processes.append(
                subprocess.Popen(
                    argv,
                    env=clean_env(WARROOM_AM_TOKEN=token),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if processes[-1].poll() is not None:
                raise AssertionError(f"Alertmanager exited: {log.read_text(errors='replace')}")
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=30, what="Alertmanager to be ready")
        return url

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.skipif(
    postgres_admin_url() is not None,
    reason="the wiring does not depend on the database: checked once, on the SQLite run",
)
def test_an_alert_from_the_composed_alertmanager_opens_an_incident(
    running_alertmanager: Callable[[str, str], str],
    make_server: Callable[..., WarroomServer],
    slack: FakeSlack,
) -> None:
    token = secrets.token_hex(16)
    # As compose gives it: the policy names the token's variable; no fallback token.
    warroom = make_server(
        WARROOM_CONFIG=str(COMPOSE_DIR / "policy.yml"),
        WARROOM_AM_TOKEN=token,
        WARROOM_ALERT_TOKEN=None,
    )
    warroom.start()
    alertmanager = running_alertmanager(warroom.url, token)
    labels = {"alertname": "ServiceDown", "service": "checkout", "severity": "critical"}
    posted = httpx.post(f"{alertmanager}/api/v2/alerts", json=[{"labels": labels}], timeout=10)
    assert posted.status_code == 200, posted.text

    def opened() -> Any:
        channel = slack.channel_named("inc-1-servicedown-on-checkout")
        return channel if channel is not None and channel.pins else None

    wait_until(opened, timeout=ALERT_TIMEOUT, what="the incident's channel and pinned card")
    # Every notification Alertmanager sent was accepted (the access log, text or JSON).
    answers = re.findall(r'POST /alerts/alertmanager HTTP/1\.1\\?" (\d{3})', warroom.log())
    assert answers and set(answers) == {"200"}, answers
