"""compose.yml: valid against the Compose Specification, its services started in order
(Postgres healthy, then the migrations, then warroom), and its parts agreeing with each
other: the database URL with Postgres, the policy with its mount, Alertmanager's webhook
with warroom's route, port and token."""

from __future__ import annotations

import json
import re
import shlex
from graphlib import TopologicalSorter
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from dotenv import dotenv_values
from sqlalchemy.engine import make_url

from bot.policy.schema import load_policy
from handlers.alerts.auth import FALLBACK_TOKEN_NAME
from tests.conftest import PROJECT_ROOT
from tests.deploy.files import (
    COMPOSE_DIR,
    compose,
    compose_services,
    env_example,
    exposed_port,
)

SPEC = Path(__file__).parent / "specs" / "compose-spec.json"
SERVICES = {"postgres", "migrate", "warroom", "alertmanager"}
ALERTMANAGER_PORT = 9093  # Alertmanager's default --web.listen-address


def container_path_of(service: dict[str, Any], host_file: Path) -> str:
    """Where a bind mount puts `host_file` in the service's container."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if source.startswith(".") and (PROJECT_ROOT / source).resolve() == host_file.resolve():
            return target
    raise AssertionError(f"{host_file} is not mounted in {service}")


def env_files(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file", [])
    return [files] if isinstance(files, str) else list(files)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """What the container's environment holds: its env files, then `environment`, which
    wins (as Compose does)."""
    merged: dict[str, str] = {}
    for path in env_files(service):
        merged.update(env_example(path))
    merged.update({k: str(v) for k, v in service.get("environment", {}).items()})
    return merged


def unescaped(text: str) -> str:
    """A value as the container gets it: Compose turns `$$` into `$`."""
    return text.replace("$$", "$")


def alertmanager_config() -> dict[str, Any]:
    loaded = yaml.safe_load((COMPOSE_DIR / "alertmanager.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def warroom_webhook() -> dict[str, Any]:
    config = alertmanager_config()
    receivers = {r["name"]: r for r in config["receivers"]}
    (webhook,) = receivers[config["route"]["receiver"]]["webhook_configs"]
    assert isinstance(webhook, dict)
    return webhook


def flag(argv: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    return value


def test_compose_is_valid_against_the_compose_specification() -> None:
    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose())
    ]
    assert errors == []


def test_the_schema_check_catches_a_misspelt_dependency() -> None:
    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["warroom"]["depends_on"] = {"migrate": {"condtion": "service_healthy"}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_postgres_then_the_migrations_then_warroom_then_alertmanager() -> None:
    services = compose_services()
    assert set(services) == SERVICES
    conditions = {
        name: {dep: spec["condition"] for dep, spec in service.get("depends_on", {}).items()}
        for name, service in services.items()
    }
    assert conditions == {
        "postgres": {},
        "migrate": {"postgres": "service_healthy"},
        "warroom": {
            "postgres": "service_healthy",
            "migrate": "service_completed_successfully",
        },
        "alertmanager": {"warroom": "service_healthy"},
    }
    order = list(TopologicalSorter({n: set(c) for n, c in conditions.items()}).static_order())
    assert order == ["postgres", "migrate", "warroom", "alertmanager"]
    test = services["postgres"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "pg_isready", test


def test_the_migrations_and_the_server_run_the_image_built_from_this_tree() -> None:
    services = compose_services()
    migrate, warroom = services["migrate"], services["warroom"]
    assert migrate["build"] == warroom["build"] == "."
    assert (PROJECT_ROOT / "Dockerfile").is_file()
    assert migrate["image"] == warroom["image"]
    assert migrate["command"] == ["warroom", "db", "upgrade"]
    assert migrate["restart"] == "no"  # a one-shot: done once it has succeeded
    argv = warroom["command"]
    assert argv[:2] == ["warroom", "serve"] and argv[argv.index("--host") + 1] == "0.0.0.0"
    port = int(argv[argv.index("--port") + 1])
    assert port == exposed_port()
    assert warroom["ports"] == [f"{port}:{port}"]
    # The only published port: Postgres and Alertmanager stay on the compose network.
    assert [name for name, s in services.items() if s.get("ports")] == ["warroom"]


def test_warroom_reads_the_postgres_service_with_its_credentials() -> None:
    services = compose_services()
    postgres = services["postgres"]["environment"]
    for name in ("migrate", "warroom"):
        url = make_url(environment(services[name])["WARROOM_DATABASE_URL"])
        assert url.drivername == "postgresql+psycopg"
        assert (url.host, url.port or 5432) == ("postgres", 5432)
        assert url.username == postgres["POSTGRES_USER"]
        assert url.password == postgres["POSTGRES_PASSWORD"]
        assert url.database == postgres["POSTGRES_DB"]


def test_the_env_files_are_examples_in_git_and_real_files_out_of_it() -> None:
    ignore = (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    patterns = [line for line in ignore if line.strip() and not line.startswith("#")]
    named = {path for service in compose_services().values() for path in env_files(service)}
    assert named == {"deploy/compose/warroom.env", "deploy/compose/alertmanager.env"}
    for path in named:
        env_example(path)  # the example exists
        assert any(PurePosixPath(path).match(p) for p in patterns), f"{path} is not ignored"


def test_the_examples_hold_no_secret() -> None:
    secret = re.compile(r"(TOKEN|SECRET|PASSWORD)$")
    examples = sorted(COMPOSE_DIR.glob("*.env.example"))
    assert len(examples) == 2
    for example in examples:
        values = dotenv_values(example)
        assert values, example
        for name, value in values.items():
            if secret.search(name):
                assert not value, f"{example.name}: {name} has a value"


def test_the_mounted_policy_is_the_one_warroom_reads_and_it_is_valid() -> None:
    services = compose_services()
    policy_file = COMPOSE_DIR / "policy.yml"
    warroom = services["warroom"]
    assert environment(warroom)["WARROOM_CONFIG"] == container_path_of(warroom, policy_file)
    assert all(str(v).endswith(":ro") for v in warroom["volumes"])
    policy = load_policy(policy_file)
    assert policy.alerts.sources.alertmanager is not None
    url = urlsplit(policy.alerts.sources.alertmanager.alertmanager_url or "")
    assert (url.hostname, url.port) == ("alertmanager", ALERTMANAGER_PORT)


def test_alertmanager_posts_to_warroom_s_alertmanager_route_on_its_port() -> None:
    webhook = warroom_webhook()
    url = urlsplit(webhook["url"])
    assert url.scheme == "http" and url.hostname == "warroom"
    assert url.port == exposed_port()
    assert url.path == "/alerts/alertmanager"
    assert webhook["send_resolved"] is True  # warroom resolves what Alertmanager resolves
    services = compose_services()
    argv = services["alertmanager"]["command"]
    assert flag(argv, "--config.file") == container_path_of(
        services["alertmanager"], COMPOSE_DIR / "alertmanager.yml"
    )


def test_alertmanager_sends_the_token_the_policy_tells_warroom_to_expect() -> None:
    services = compose_services()
    alertmanager, warroom = services["alertmanager"], services["warroom"]
    source = load_policy(COMPOSE_DIR / "policy.yml").alerts.sources.alertmanager
    assert source is not None
    token_name = source.token_env or FALLBACK_TOKEN_NAME
    # Both containers get the variable from one file; Alertmanager gets nothing else.
    (shared,) = env_files(alertmanager)
    assert shared in env_files(warroom)
    assert set(env_example(shared)) == {token_name}
    # The entrypoint writes it where the webhook's credentials_file reads it, in memory.
    authorization = warroom_webhook()["http_config"]["authorization"]
    assert authorization["type"] == "Bearer"
    credentials = authorization["credentials_file"]
    assert Path(credentials).parent.as_posix() in alertmanager["tmpfs"]
    shell, dash_c, script, _name = alertmanager["entrypoint"]
    assert (shell, dash_c) == ("/bin/sh", "-c")
    written = [line for line in unescaped(script).splitlines() if f"> {credentials}" in line]
    assert [shlex.split(line.split(">")[0]) for line in written] == [
        ["printf", "%s", f"${token_name}"]
    ]
    assert unescaped(script).rstrip().endswith('exec /bin/alertmanager "$@"')
