"""Print the asset graph as a Mermaid diagram, read off the code location's Definitions.

The README's picture of the asset graph (between `<!-- asset-graph:start -->` and
`<!-- asset-graph:end -->`) is this script's output, and tests/test_docs_site.py checks that it
still is, so the picture cannot drift from the assets. `--write` refreshes the README in place.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START = "<!-- asset-graph:start -->"
END = "<!-- asset-graph:end -->"


def asset_graph() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each asset key with its group and sorted upstream keys, from the Definitions Dagster loads."""
    sys.path.insert(0, str(ROOT))
    from tracekd_assets.definitions import defs

    with warnings.catch_warnings():  # Dagster's own deprecation notes while it resolves the source asset
        warnings.simplefilter("ignore", DeprecationWarning)
        specs = defs.resolve_all_asset_specs()
    return {spec.key.to_user_string(): (spec.group_name or "default", tuple(sorted(d.asset_key.to_user_string() for d in spec.deps)))
            for spec in specs}  # fmt: skip


def depths(graph: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, int]:
    """Each asset's longest path from a source, so the diagram reads in the order the data flows."""
    found: dict[str, int] = {}

    def depth(key: str) -> int:
        if key not in found:
            found[key] = 1 + max((depth(dep) for dep in graph[key][1] if dep in graph), default=-1)
        return found[key]

    for key in graph:
        depth(key)
    return found


def mermaid(graph: dict[str, tuple[str, tuple[str, ...]]]) -> str:
    """A Mermaid flowchart: one subgraph per asset group, one line per asset with its upstreams."""
    level = depths(graph)
    order = sorted(graph, key=lambda key: (level[key], key))
    groups: dict[str, list[str]] = {}
    for key in order:
        groups.setdefault(graph[key][0], []).append(key)
    mean = {group: sum(level[key] for key in keys) / len(keys) for group, keys in groups.items()}
    lines = ["```mermaid", "graph LR"]
    for group in sorted(groups, key=lambda group: (mean[group], group)):
        lines.append(f"  subgraph group_{group} [{group}]")
        lines.extend(f"    {key}" for key in groups[group])
        lines.append("  end")
    lines.extend(f"  {' & '.join(graph[key][1])} --> {key}" for key in order if graph[key][1])
    lines.append("```")
    return "\n".join(lines)


def readme_block(text: str) -> str:
    """What the README holds between the markers (without them)."""
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the README's block with the diagram")
    args = parser.parse_args(argv)
    diagram = mermaid(asset_graph())
    if not args.write:
        print(diagram)
        return 0
    text = README.read_text()
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{diagram}\n{END}{after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
