"""MkDocs hook: the Architecture page's import diagram and table, written at build time from
`tracekd_ops.ALLOWED_IMPORTS`, the table tests/test_architecture.py enforces, so the picture can
never disagree with the rule."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
PAGE = "architecture.md"
DIAGRAM = "<!-- generated: allowed-imports-diagram -->"
TABLE = "<!-- generated: allowed-imports-table -->"


def allowed_imports() -> dict[str, frozenset[str]]:
    """The enforced table, imported from the checkout this site documents."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tracekd_ops import ALLOWED_IMPORTS

    return ALLOWED_IMPORTS


def arrows(table: dict[str, frozenset[str]]) -> list[tuple[str, str]]:
    """One (importer, imported) pair per entry, importers in the table's order."""
    return [(wing, target) for wing, targets in table.items() for target in sorted(targets, key=list(table).index)]


def diagram(table: dict[str, frozenset[str]]) -> str:
    """A Mermaid graph: an arrow `A --> B` says wing A may import wing B."""
    lines = ["```mermaid", "graph TD"]
    lines.extend(f"  {wing}" for wing in table if not table[wing] and not any(wing in t for t in table.values()))
    lines.extend(f"  {wing} --> {target}" for wing, target in arrows(table))
    lines.append("```")
    return "\n".join(lines)


def markdown_table(table: dict[str, frozenset[str]]) -> str:
    """The same rule as a table: each wing and the wings it may import."""
    rows = ["| wing | may import |", "|---|---|"]
    rows.extend(f"| `{wing}` | {', '.join(f'`{t}`' for t in sorted(targets, key=list(table).index)) or 'nothing'} |"
                for wing, targets in table.items())  # fmt: skip
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Fill the Architecture page's placeholders; fail the build if one went missing."""
    if page.file.src_uri != PAGE:
        return markdown
    for marker in (DIAGRAM, TABLE):
        if marker not in markdown:
            raise PluginError(f"{PAGE} lost its placeholder {marker}")
    table = allowed_imports()
    return markdown.replace(DIAGRAM, diagram(table)).replace(TABLE, markdown_table(table))
