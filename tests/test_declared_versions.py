"""Declared versions are tested versions: every dependency floor in pyproject.toml is the version
pinned in scripts/constraints.txt, and that pin is what this environment runs (setup.sh installs
with the constraints), so the suite proves each floor."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    lines = (ROOT / "scripts" / "constraints.txt").read_text().splitlines()
    return {re.sub(r"[-_.]+", "-", n.lower()): v for n, v in (line.split("==") for line in lines if line and not line.startswith("#"))}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group if not r.startswith("tracekd")]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_every_floor_is_a_pinned_tested_version_and_the_one_installed():
    pinned = pins()
    for requirement in declared():
        name = re.sub(r"[-_.]+", "-", requirement.name.lower())
        floors = [s.version for s in requirement.specifier if s.operator == ">="]
        assert floors == [pinned[name]], f"{requirement}: its floor must be the tested pin {pinned.get(name)}"
        installed = version(requirement.name).split("+")[0]
        assert installed == pinned[name], f"{requirement.name} {installed} is installed, but {pinned[name]} is the tested pin"
