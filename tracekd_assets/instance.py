"""TraceKD's Dagster instance settings per deployment profile, from the one checked-in file
(tracekd_assets/instance.yaml): what every profile shares, and per profile only what differs. The
demo, `tracekd run` and `tracekd dev` write the local profile's into every instance they make;
`tracekd instance-config` prints any profile's, for a deployment without the Helm chart. No
Dagster import: the CLI's light commands use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

INSTANCE_FILE = Path(__file__).with_name("instance.yaml")
"""Every profile's Dagster instance settings (pools, run queue, run launcher, run monitoring,
storage), the one checked-in copy."""


def _settings() -> dict[str, Any]:
    return yaml.safe_load(INSTANCE_FILE.read_text())


def profiles() -> tuple[str, ...]:
    """The profiles the instance file has (the names `TRACEKD_DEPLOYMENT` takes)."""
    return tuple(_settings()["profiles"])


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` deep-merged over `base`, the override's mappings copied: what the file shares
    through a YAML anchor (the cluster's Postgres settings) is dumped in full, not as an alias."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merged(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def instance_config(profile: str, max_concurrent_runs: int | None = None) -> dict[str, Any]:
    """A profile's dagster.yaml as a dict, the run queue's limit set to `max_concurrent_runs`
    when given (the demo's and `tracekd run`'s `--workers`)."""
    settings = _settings()
    if profile not in settings["profiles"]:
        raise ValueError(f"no Dagster instance profile {profile!r} in {INSTANCE_FILE.name}: one of {', '.join(settings['profiles'])}")
    config = _merged(settings["shared"], settings["profiles"][profile])
    if max_concurrent_runs is not None:
        config = _merged(config, {"concurrency": {"runs": {"max_concurrent_runs": max_concurrent_runs}}})
    return config


def instance_yaml(profile: str, max_concurrent_runs: int | None = None) -> str:
    """A profile's dagster.yaml as text, naming the file that says why each setting is there."""
    header = f"# TraceKD's `{profile}` Dagster instance (`tracekd instance-config --profile {profile}`): tracekd_assets/instance.yaml says why each setting\n"
    return header + yaml.safe_dump(instance_config(profile, max_concurrent_runs), sort_keys=False)
