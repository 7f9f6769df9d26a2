"""MkDocs hook: the Concepts page's picture of the asset graph, written at build time by
scripts/asset_graph_mermaid.py (the same output the README holds) from the code location."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
PAGE = "concepts.md"
MARKER = "<!-- generated: asset-graph -->"


def asset_graph_diagram() -> str:
    """The script's diagram, loaded by path (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("asset_graph_mermaid", ROOT / "scripts" / "asset_graph_mermaid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.mermaid(module.asset_graph())


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Fill the placeholder; fail the build if it went missing."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"{PAGE} lost its placeholder {MARKER}")
    return markdown.replace(MARKER, asset_graph_diagram())
