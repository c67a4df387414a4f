"""The README's policy examples are valid policies: the README stays true."""

import re
from pathlib import Path

import pytest

from bot.policy.schema import load_policy
from tests.conftest import PROJECT_ROOT

# Every YAML block is a policy, but those that say they are another tool's configuration.
OTHER_TOOLS = ("# alertmanager.yml", "# prometheus.yml")
EXAMPLES = [
    block
    for block in re.findall(r"```yaml\n(.*?)```", (PROJECT_ROOT / "README.md").read_text(), re.S)
    if not block.startswith(OTHER_TOOLS)
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_policy_examples_load(example: str, tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(example, encoding="utf-8")
    load_policy(path)


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 2
