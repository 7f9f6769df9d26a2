"""A snapshot of the code location: every asset (group, partitions, code version, pools, deps,
checks), job, sensor, schedule and resource. A change to any of them shows up here as a diff to
review; after a deliberate change, rewrite the snapshot with `TRACEKD_UPDATE_SNAPSHOTS=1 pytest
tests/assets/test_definitions_snapshot.py` and commit it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tracekd_assets.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def _partitions(partitions_def: Any) -> Any:
    if partitions_def is None:
        return None
    dimensions = getattr(partitions_def, "partitions_defs", None)
    if dimensions:
        return {d.name: d.partitions_def.get_partition_keys() for d in dimensions}
    return partitions_def.get_partition_keys()


def describe() -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "code_version": node.code_version,
            "partitions": _partitions(node.partitions_def),
            "pools": sorted(node.pools or []),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(k.name for k in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.jobs or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "resources": sorted(defs.resources or {}),
    }


def test_definitions_match_the_snapshot():
    current = json.dumps(describe(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("TRACEKD_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text(), "definitions changed: review the diff, then update the snapshot (see module docstring)"
