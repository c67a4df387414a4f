"""deploy/kubernetes/: plain manifests without a namespace, listed by the kustomization,
whose probes, ports, user, Secret and policy agree with the image and the app."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.policy.schema import load_policy
from tests.deploy.conftest import ServedApp
from tests.deploy.files import (
    KUSTOMIZATION,
    exposed_port,
    final_stage,
    manifest,
    manifest_files,
    manifests,
)

KINDS = {"Deployment", "Service", "Job", "Secret", "ConfigMap", "PodDisruptionBudget"}
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "Job": "batch/v1",
    "Secret": "v1",
    "ConfigMap": "v1",
    "PodDisruptionBudget": "policy/v1",
}


def pod_spec(kind: str) -> dict[str, Any]:
    spec = manifest(kind)["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def only_container(kind: str) -> dict[str, Any]:
    (container,) = pod_spec(kind)["containers"]
    assert isinstance(container, dict)
    return container


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(number)


def image_user() -> tuple[int, int]:
    user, _, group = final_stage().last("USER").arguments.partition(":")
    return int(user), int(group or user)


def test_each_manifest_is_a_known_kind_without_a_namespace() -> None:
    found = manifests()
    assert {m["kind"] for m in found} == KINDS
    assert len(found) == len(KINDS)  # one of each
    for document in found:
        assert document["apiVersion"] == API_VERSIONS[document["kind"]], document["kind"]
        assert document["metadata"]["name"]
        assert "namespace" not in document["metadata"], document["metadata"]


def test_the_kustomization_lists_every_manifest_and_sets_the_image() -> None:
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == [p.name for p in manifest_files()]
    (image,) = kustomization["images"]
    for kind in ("Deployment", "Job"):
        name = only_container(kind)["image"].partition(":")[0]
        assert name == image["name"], kind


def test_two_replicas_probed_on_healthz_and_readyz_at_the_image_s_port() -> None:
    deployment = manifest("Deployment")
    assert deployment["spec"]["replicas"] == 2
    container = only_container("Deployment")
    assert [p["containerPort"] for p in container["ports"]] == [exposed_port()]
    probes = {
        name: container[name]["httpGet"]
        for name in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert {name: probe["path"] for name, probe in probes.items()} == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe in probes.values():
        assert port_number(container, probe["port"]) == exposed_port()
    args = container["args"]
    assert args[:2] == ["warroom", "serve"]
    assert int(args[args.index("--port") + 1]) == exposed_port()
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0


async def test_the_probe_paths_answer_on_the_real_app(served_app: ServedApp) -> None:
    container = only_container("Deployment")
    for name in ("livenessProbe", "readinessProbe"):
        path = container[name]["httpGet"]["path"]
        assert path in served_app.paths
        assert (await served_app.client.get(path)).status_code == 200, path


def test_the_service_reaches_the_deployment_s_pods_on_their_port() -> None:
    service = manifest("Service")["spec"]
    labels = manifest("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert manifest("Deployment")["spec"]["selector"]["matchLabels"] == service["selector"]
    (port,) = service["ports"]
    assert port_number(only_container("Deployment"), port["targetPort"]) == exposed_port()
    budget = manifest("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"] == service["selector"]
    assert budget["minAvailable"] < manifest("Deployment")["spec"]["replicas"]


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_run_as_the_image_s_user_on_a_read_only_root(kind: str) -> None:
    pod = pod_spec(kind)
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == image_user()
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    container = only_container(kind)["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_every_container_asks_for_resources_and_caps_its_memory(kind: str) -> None:
    resources = only_container(kind)["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_the_job_migrates_with_the_server_s_image_and_secret() -> None:
    job = manifest("Job")
    migrate, serve = only_container("Job"), only_container("Deployment")
    assert migrate["command"] == ["warroom", "db", "upgrade"]
    assert migrate["image"] == serve["image"]
    assert migrate["envFrom"] == serve["envFrom"]
    assert pod_spec("Job")["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1


def test_the_secret_names_the_database_and_holds_placeholders_only() -> None:
    secret = manifest("Secret")
    (source,) = only_container("Deployment")["envFrom"]
    assert source["secretRef"]["name"] == secret["metadata"]["name"]
    values = secret["stringData"]
    url = make_url(values["WARROOM_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg"  # SQLite belongs to one process
    assert url.password == "REPLACE-ME"
    others = {name: value for name, value in values.items() if name != "WARROOM_DATABASE_URL"}
    assert others and all(value == "" for value in others.values()), others
    assert "data" not in secret  # nothing base64-encoded hides a value


def test_the_policy_config_map_is_mounted_where_warroom_config_points(tmp_path: Any) -> None:
    config_map = manifest("ConfigMap")
    pod, container = pod_spec("Deployment"), only_container("Deployment")
    env = {item["name"]: item["value"] for item in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    directory, _, key = env["WARROOM_CONFIG"].rpartition("/")
    mount = mounts[directory]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
    policy = tmp_path / key
    policy.write_text(config_map["data"][key], encoding="utf-8")
    load_policy(policy)  # a valid policy, or this raises naming the field
    # A writable /tmp beside the read-only root: diagnostics commands may want one.
    assert volumes[mounts["/tmp"]["name"]]["emptyDir"] is not None


def test_kustomize_builds_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` not checked")
    done = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZATION.parent)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    built = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert {d["kind"] for d in built} == KINDS
    images = {
        c["image"]
        for d in built
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1, images
