"""The deployment files, read the way their tools read them: the Dockerfile's instructions
(continuations joined, build arguments filled in), compose.yml, the Kubernetes manifests
and the env examples."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from tests.conftest import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
COMPOSE = PROJECT_ROOT / "compose.yml"
COMPOSE_DIR = PROJECT_ROOT / "deploy" / "compose"
KUBERNETES_DIR = PROJECT_ROOT / "deploy" / "kubernetes"
KUSTOMIZATION = KUBERNETES_DIR / "kustomization.yaml"

_ARG_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, USER…
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The arguments as the argv Docker runs: a JSON array, or the shell form split."""
        text = self.arguments.strip()
        if text.startswith("["):
            parsed = json.loads(text)
            assert isinstance(parsed, list), f"line {self.line}: not an argv: {text}"
            return [str(part) for part in parsed]
        return shlex.split(text)


@dataclass(frozen=True)
class Stage:
    base: str  # the image, build arguments filled in
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base} has no {keyword}"
        return found[-1]


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments and blanks dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def dockerfile_stages(text: str) -> list[Stage]:
    """The build stages, each FROM's image with the global ARG defaults substituted."""
    defaults: dict[str, str] = {}
    stages: list[tuple[str, str | None, list[Instruction]]] = []
    for instruction in dockerfile_instructions(text):
        if instruction.keyword == "ARG" and not stages:
            argument, _, value = instruction.arguments.partition("=")
            defaults[argument.strip()] = value.strip().strip('"')
        elif instruction.keyword == "FROM":
            words = instruction.arguments.split()
            words = [w for w in words if not w.startswith("--platform")]
            base = _ARG_REFERENCE.sub(lambda m: defaults[m.group(1) or m.group(2)], words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append((base, name, []))
        else:
            assert stages, f"line {instruction.line}: {instruction.keyword} before any FROM"
            stages[-1][2].append(instruction)
    return [Stage(base, name, tuple(found)) for base, name, found in stages]


def final_stage() -> Stage:
    return dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[-1]


def exposed_port() -> int:
    (expose,) = final_stage().all("EXPOSE")
    (port,) = expose.arguments.split()
    return int(port.split("/")[0])


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def compose_services() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    assert isinstance(services, dict)
    return services


def env_example(path_in_compose: str) -> dict[str, str]:
    """The example beside an env_file compose.yml names (the real file is not in git)."""
    example = PROJECT_ROOT / f"{path_in_compose}.example"
    assert example.is_file(), f"{path_in_compose} has no example ({example} is missing)"
    return {name: value or "" for name, value in dotenv_values(example).items()}


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES_DIR.glob("*.yaml") if p != KUSTOMIZATION)


def manifests() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in manifest_files():
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        assert documents, f"{path.name} holds no manifest"
        found.extend(documents)
    return found


def manifest(kind: str) -> dict[str, Any]:
    (found,) = [m for m in manifests() if m["kind"] == kind]
    return found
