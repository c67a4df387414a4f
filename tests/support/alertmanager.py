"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) for end-to-end tests.

It runs on a loopback port with a throwaway storage directory and one webhook receiver,
and is stopped by its process id. Alerts are added with `amtool` as an operator would
(or through the API when `amtool` is absent) and resolved through the API, as Prometheus
does: the same labels with `endsAt` now.

Without the binary the tests that need it skip, saying what to install; under `CI=true`
they fail instead, since CI installs it (`scripts/test`) and a skip there would hide a
broken install.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

BINARY_NAME = "prometheus-alertmanager"
DEBIAN_BINARY = Path("/usr/bin") / BINARY_NAME
INSTALL_HINT = f"{BINARY_NAME} is not installed: apt-get install {BINARY_NAME}"
EXTERNAL_URL = "http://alertmanager.test"
START_TIMEOUT = 30.0


def find_binary() -> Path | None:
    if DEBIAN_BINARY.is_file() and os.access(DEBIAN_BINARY, os.X_OK):
        return DEBIAN_BINARY
    found = shutil.which(BINARY_NAME)
    return Path(found) if found else None


def require_binary() -> Path:
    """The Alertmanager binary, or the test skips (fails in CI) saying how to get it."""
    binary = find_binary()
    if binary is not None:
        return binary
    if os.environ.get("CI") == "true":
        pytest.fail(f"{INSTALL_HINT} (CI installs it: bash scripts/test)", pytrace=False)
    pytest.skip(INSTALL_HINT)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def webhook_config(
    *, webhook_url: str, token: str, group_by: tuple[str, ...] = ("alertname", "service")
) -> dict[str, Any]:
    """One route and one webhook receiver, with timings short enough for tests."""
    return {
        "route": {
            "receiver": "warroom",
            "group_by": list(group_by),
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "warroom",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }


@dataclass
class Alertmanager:
    """One Alertmanager process sending every alert group to `webhook_url`."""

    binary: Path
    directory: Path
    webhook_url: str
    token: str
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "alertmanager.log"

    @property
    def amtool(self) -> Path | None:
        beside = self.binary.parent / "amtool"
        if beside.is_file():
            return beside
        found = shutil.which("amtool")
        return Path(found) if found else None

    def start(self) -> None:
        config = self.directory / "alertmanager.yml"
        config.write_text(
            yaml.safe_dump(webhook_config(webhook_url=self.webhook_url, token=self.token))
        )
        storage = self.directory / "data"
        storage.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={config}",
                    f"--storage.path={storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    # Empty: no gossip port, no peers; one process is the whole cluster.
                    "--cluster.listen-address=",
                    f"--web.external-url={EXTERNAL_URL}",
                ],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"Alertmanager not ready after {START_TIMEOUT}s: {self.log()}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"Alertmanager exited ({self.process.returncode}): {self.log()}")
        try:
            # /-/ready answers on the listen address; the external URL is only a name here.
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def add_alert(self, **labels: str) -> None:
        """Fire an alert with these labels, the way an operator tests a receiver."""
        amtool = self.amtool
        if amtool is None:
            self._post_alerts([{"labels": labels, "startsAt": _utc_now()}])
            return
        subprocess.run(
            [
                str(amtool),
                "alert",
                "add",
                f"--alertmanager.url={self.url}",
                *(f"{name}={value}" for name, value in labels.items()),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def resolve(self, labels: dict[str, str]) -> None:
        """Resolve the alert with exactly these labels, as Prometheus does: `endsAt` now,
        with the `startsAt` Alertmanager has for it."""
        alert: dict[str, Any] = {"labels": labels, "endsAt": _utc_now()}
        known = self.alert(labels)
        if known is not None:
            alert["startsAt"] = known["startsAt"]
        self._post_alerts([alert])

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds as active (firing, silenced or inhibited)."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def alert(self, labels: dict[str, str]) -> dict[str, Any] | None:
        return next((a for a in self.alerts() if a.get("labels") == labels), None)

    def groups(self) -> list[dict[str, Any]]:
        """Alert groups with alerts still to notify (a group's resolved alerts leave it
        once the receiver has accepted their notification)."""
        response = httpx.get(f"{self.url}/api/v2/alerts/groups", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def silences(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v2/silences", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def _post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        response.raise_for_status()
