"""The image built for real and run: where a Docker daemon answers and the base image is
here or can be pulled. Elsewhere (no daemon, no registry: CI) it skips saying which.

Built, the image must say its version, hold the templates and migrations, run as its
non-root user, and serve /healthz and /readyz on a read-only root, its own health check
passing.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT
from tests.deploy.files import DOCKERFILE, dockerfile_stages, exposed_port, final_stage
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.docker

VERSION = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
MIGRATIONS = sorted(
    p.name for p in (PROJECT_ROOT / "bot/storage/migrations/versions").glob("[0-9]*.py")
)
TEMPLATES = sorted(p.name for p in (PROJECT_ROOT / "templates").glob("*.j2"))
BUILD_TIMEOUT = 1200
START_TIMEOUT = 60.0


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker")
    assert binary is not None
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


@functools.cache  # asked once per run: a pull that failed is not tried again
def why_no_docker() -> str | None:
    """None if images can be built here, else why not."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker daemon does not answer (docker info timed out)"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"no Docker daemon answers: {lines[-1] if lines else info.returncode}"
    for base in sorted({stage.base for stage in dockerfile_stages(DOCKERFILE.read_text())}):
        if docker("image", "inspect", base).returncode == 0:
            continue
        try:
            pulled = docker("pull", base, timeout=600)
        except subprocess.TimeoutExpired:
            return f"the base image {base} is not here and pulling it timed out"
        if pulled.returncode != 0:
            lines = pulled.stderr.strip().splitlines() or [f"exit code {pulled.returncode}"]
            return f"the base image {base} is not here and cannot be pulled: {lines[-1]}"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    reason = why_no_docker()
    if reason is not None:
        print(f"not building the image: {reason}")
        pytest.skip(reason)
    tag = f"warroom-test:{uuid.uuid4().hex[:12]}"
    built = docker("build", "--tag", tag, str(PROJECT_ROOT), timeout=BUILD_TIMEOUT)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    yield tag
    docker("image", "rm", "--force", tag)


def run(image: str, *argv: str) -> str:
    done = docker("run", "--rm", "--read-only", image, *argv)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_image_is_configured_as_the_dockerfile_says(image: str) -> None:
    (inspected,) = json.loads(docker("image", "inspect", image).stdout)
    config: dict[str, Any] = inspected["Config"]
    assert config["User"] == final_stage().last("USER").arguments
    assert config["Cmd"][:2] == ["warroom", "serve"]
    assert f"{exposed_port()}/tcp" in config["ExposedPorts"]
    assert any("/healthz" in part for part in config["Healthcheck"]["Test"])


def test_the_image_says_its_version_and_holds_templates_and_migrations(image: str) -> None:
    assert run(image, "warroom", "--version").strip() == f"warroom {VERSION}"
    listing = (
        "import importlib.resources as r, json; print(json.dumps({"
        "'templates': sorted(p.name for p in r.files('bot.templates').iterdir()"
        " if p.name.endswith('.j2')),"
        "'migrations': sorted(p.name for p in r.files('bot.storage.migrations.versions')"
        ".iterdir() if p.name[0].isdigit() and p.name.endswith('.py'))}))"
    )
    shipped = json.loads(run(image, "python", "-c", listing))
    assert shipped == {"templates": TEMPLATES, "migrations": MIGRATIONS}
    # The business hours' time zones and every template, checked from inside.
    run(image, "python", "-c", "import zoneinfo; zoneinfo.ZoneInfo('Europe/Paris')")
    assert "# templates:" in run(image, "warroom", "check-config")
    # Installed from the wheel: nothing of the source tree is in the image.
    assert run(image, "python", "-c", "import bot; print(bot.__file__)").startswith(
        "/opt/warroom/lib/"
    )


def test_the_image_serves_as_its_user_on_a_read_only_root(image: str) -> None:
    name = f"warroom-test-{uuid.uuid4().hex[:12]}"
    started = docker(
        "run", "--detach", "--name", name, "--read-only", "--tmpfs", "/tmp",
        "--env", "WARROOM_DATABASE_URL=sqlite:////tmp/warroom.db", image,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        check = json.loads(final_stage().last("HEALTHCHECK").arguments.partition("CMD ")[2])

        def healthy() -> bool:
            state = json.loads(docker("inspect", name).stdout)[0]["State"]
            assert state["Running"], docker("logs", name).stderr
            return docker("exec", name, *check).returncode == 0

        wait_until(healthy, timeout=START_TIMEOUT, what="the image's health check to pass")
        ready = docker(
            "exec", name, "python", "-c",
            "import urllib.request; print(urllib.request.urlopen("
            f"'http://127.0.0.1:{exposed_port()}/readyz', timeout=5).read().decode())",
        )  # fmt: skip
        assert ready.returncode == 0, ready.stderr
        assert json.loads(ready.stdout)["status"] == "ready"
        user = final_stage().last("USER").arguments.partition(":")[0]
        assert docker("exec", name, "id", "-u").stdout.strip() == user
    finally:
        docker("rm", "--force", name)
