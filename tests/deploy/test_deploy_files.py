"""The Dockerfile and .dockerignore, read as Docker reads them, and every deployment file
parsed: what an image built from them would be, checked without Docker."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.conftest import PROJECT_ROOT
from tests.deploy.conftest import ServedApp
from tests.deploy.files import (
    COMPOSE,
    COMPOSE_DIR,
    DOCKERFILE,
    DOCKERIGNORE,
    KUBERNETES_DIR,
    Instruction,
    dockerfile_instructions,
    dockerfile_stages,
    exposed_port,
    final_stage,
)
from tests.e2e.conftest import WarroomServer, free_port

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
ROOT_NAMES = {"root", "0"}
# What the wheel is built from: the build context must keep every one of them.
BUILD_INPUTS = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "manifest.yml",
    "bot",
    "handlers",
    "templates",
)


def test_every_deployment_file_parses_as_yaml() -> None:
    files = [COMPOSE, *COMPOSE_DIR.glob("*.yml"), *KUBERNETES_DIR.glob("*.yaml")]
    assert len(files) >= 9, files
    for path in files:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        assert documents and all(isinstance(d, dict) for d in documents), path


def test_the_dockerfile_reader_joins_continuations_and_fills_in_build_arguments() -> None:
    text = (
        "# a comment\nARG V=3.12\nFROM python:${V}-slim AS build\nRUN a \\\n"
        '    # inside\n    && b\nFROM python:$V-slim\nUSER 1:1\nCMD ["x", "y"]\n'
    )
    build, final = dockerfile_stages(text)
    assert (build.base, build.name, final.base) == ("python:3.12-slim", "build", "python:3.12-slim")
    assert build.last("RUN").arguments == "a && b"
    assert final.last("CMD").exec_form() == ["x", "y"]
    assert [i.line for i in dockerfile_instructions(text)] == [2, 3, 4, 7, 8, 9]


def test_every_stage_is_a_slim_python_that_requires_python_allows() -> None:
    allowed = SpecifierSet(PYPROJECT["project"]["requires-python"])
    for stage in dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8")):
        repository, _, tag = stage.base.partition(":")
        assert repository in ("python", "docker.io/library/python"), stage.base
        version, _, variant = tag.partition("-")
        assert variant.startswith("slim"), f"{stage.base}: not a slim image"
        assert Version(version) in allowed, f"{stage.base}: requires-python is {allowed}"


def test_the_image_runs_as_a_numeric_non_root_user_set_before_the_command() -> None:
    stage = final_stage()
    user = stage.last("USER")
    name, _, group = user.arguments.partition(":")
    assert name not in ROOT_NAMES and group not in ROOT_NAMES, user
    # Numeric: Kubernetes' runAsNonRoot cannot check a user name.
    assert name.isdigit() and int(name) > 0, user
    assert user.line < stage.last("CMD").line
    # Nothing after it runs as someone else.
    assert all(i.keyword != "USER" or i is user for i in stage.instructions if i.line > user.line)


def test_the_default_command_serves_on_every_interface_on_the_exposed_port() -> None:
    stage = final_stage()
    assert not stage.all("ENTRYPOINT")
    argv = stage.last("CMD").exec_form()
    assert argv[:2] == ["warroom", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 3000
    assert port == exposed_port() == 3000


def healthcheck_argv() -> list[str]:
    arguments = final_stage().last("HEALTHCHECK").arguments
    options, marker, command = arguments.partition("CMD ")
    assert marker, f"HEALTHCHECK without CMD: {arguments}"
    assert all(word.startswith("--") for word in options.split()), options
    return Instruction("CMD", command, 0).exec_form()


def test_the_healthcheck_asks_healthz_with_pythons_stdlib() -> None:
    argv = healthcheck_argv()
    assert argv[0] in ("python", "python3"), argv
    assert not {"curl", "wget"} & {Path(word).name for word in argv}
    (code,) = [argv[i + 1] for i, word in enumerate(argv) if word == "-c"]
    assert f"http://127.0.0.1:{exposed_port()}/healthz" in code
    assert "import urllib.request" in code


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    """The image's health check, run here against `port` instead of the image's."""
    here = {"python": sys.executable, "python3": sys.executable}
    argv = [here.get(word, word) for word in healthcheck_argv()]
    argv = [word.replace(f":{exposed_port()}/", f":{port}/") for word in argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def test_the_healthcheck_passes_on_a_serving_warroom_and_fails_without_one(
    make_server: Callable[..., WarroomServer],
) -> None:
    assert run_healthcheck(free_port()).returncode != 0  # nothing listens there
    server = make_server()
    server.start()
    done = run_healthcheck(server.port)
    assert done.returncode == 0, done.stderr
    server.stop()
    assert run_healthcheck(server.port).returncode != 0


async def test_the_health_routes_the_image_and_the_probes_use_are_served(
    served_app: ServedApp,
) -> None:
    assert {"/healthz", "/readyz", "/alerts/alertmanager"} <= served_app.paths
    assert (await served_app.client.get("/healthz")).status_code == 200
    ready = await served_app.client.get("/readyz")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")


def test_the_image_installs_the_wheel_built_from_the_tree_not_an_editable_install() -> None:
    build = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[0]
    commands = " && ".join(i.arguments for i in build.all("RUN"))
    assert "pip wheel" in commands and "warroom-*.whl" in commands, commands
    assert " -e " not in f" {commands} " and "--editable" not in commands
    assert any(i.arguments.split()[:2] == [".", "."] for i in build.all("COPY"))
    final = final_stage()
    assert not any(i.arguments.split()[-1] in (".", "/src") for i in final.all("COPY"))
    (copied,) = final.all("COPY")
    assert copied.arguments.startswith(f"--from={build.name} "), copied


def test_templates_and_migrations_ship_in_the_wheel_the_image_installs() -> None:
    """The image has no source tree: what the app reads at run time is package data."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    packages = set(setuptools["packages"])
    shipped = {"bot.templates", "bot.storage.migrations", "bot.storage.migrations.versions"}
    assert shipped <= packages
    assert setuptools["package-dir"]["bot.templates"] == "templates"
    assert "*.j2" in setuptools["package-data"]["bot.templates"]
    assert "storage/migrations/script.py.mako" in setuptools["package-data"]["bot"]


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `*` and `?` stop at a slash, `**` crosses any depth."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` out of the build context: a pattern matches the path or
    a directory above it; the last matching pattern decides (`!` takes a path back)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _pattern_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            verdict = not negated
    return verdict


@pytest.mark.parametrize(
    "path",
    [".git/HEAD", ".venv/bin/python", "warroom.db", "data/warroom.db-wal", ".env", "deploy/.env",
     "deploy/compose/warroom.env", "bot/__pycache__/app.cpython-311.pyc", ".mypy_cache/x",
     ".pytest_cache/v", ".ruff_cache/x", "build/lib/bot/app.py", "dist/warroom.whl",
     "warroom.egg-info/PKG-INFO", "tests/conftest.py"],
)  # fmt: skip
def test_the_build_context_leaves_out_environments_caches_databases_and_secrets(
    path: str,
) -> None:
    assert ignored(path, dockerignore_patterns()), f"{path} would be sent to the build"


def test_the_build_context_keeps_everything_the_wheel_is_built_from() -> None:
    patterns = dockerignore_patterns()
    for name in BUILD_INPUTS:
        assert (PROJECT_ROOT / name).exists(), name
        assert not ignored(name, patterns), f".dockerignore leaves out {name}"
    for path in (PROJECT_ROOT / "bot").rglob("*"):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if "__pycache__" not in relative and path.is_file():
            assert not ignored(relative, patterns), f".dockerignore leaves out {relative}"


def test_the_dockerignore_reader_follows_dockers_rules() -> None:
    assert ignored("a/b/c.db", ["**/*.db"]) and ignored("c.db", ["**/*.db"])
    assert not ignored("a/c.db", ["*.db"]) and ignored("a/c.db", ["a/*.db"])
    assert ignored("tests/x.py", ["tests"]) and not ignored("bot/tests.py", ["tests"])
    assert not ignored("keep.db", ["*.db", "!keep.db"])
