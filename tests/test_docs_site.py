"""The documentation site builds strict (a broken link, anchor or nav entry fails it), its generated
pages say what the code says (every CLI command; one arrow per allowed import), and the README stays
short with its asset-graph picture equal to the generator's output."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracekd_assets.cli import build_parser
from tracekd_ops import ALLOWED_IMPORTS

ROOT = Path(__file__).resolve().parents[1]
README_LIMIT = 12_288


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` as CI runs it, in a child process (the hooks import the code)."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
                          cwd=config.parent, capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    done = build(ROOT / "mkdocs.yml", folder)
    assert done.returncode == 0, done.stderr[-4000:]
    return folder


def page_text(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text()


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser, nested subcommands included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(*path, name), *commands(sub, (*path, name))]
    return found


def test_the_cli_reference_lists_every_command_and_flag(site: Path):
    html = page_text(site, "reference/cli")
    paths = commands(build_parser())
    assert len(paths) >= 15
    for path in paths:
        anchor = "-".join(("tracekd", *path))
        assert f'id="{anchor}"' in html, f"tracekd {' '.join(path)} is missing from the CLI reference"
    assert "--completion-url" in html and "--max-seconds" in html and "8765" in html


def test_the_architecture_diagram_has_one_arrow_per_allowed_import(site: Path):
    html = page_text(site, "architecture")
    diagrams = re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', html, re.S)
    assert len(diagrams) == 1
    arrows = re.findall(r"^\s*(\w+) --&gt; (\w+)\s*$", diagrams[0], re.M)
    expected = [(wing, target) for wing, targets in ALLOWED_IMPORTS.items() for target in targets]
    assert sorted(arrows) == sorted(expected)
    assert len(arrows) == len(set(arrows))


def test_the_api_reference_documents_the_public_wings(site: Path):
    for wing in ("core", "datasets", "traces", "store", "steps", "report", "registry", "evaluate"):
        assert f'id="tracekd_ops.{wing}"' in page_text(site, f"reference/api/{wing}")


def asset_graph_script():  # noqa: ANN201 - a module loaded by path
    spec = importlib.util.spec_from_file_location("asset_graph_mermaid", ROOT / "scripts" / "asset_graph_mermaid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_short_and_its_asset_graph_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= README_LIMIT
    script = asset_graph_script()
    assert script.readme_block(readme) == script.mermaid(script.asset_graph()), "run scripts/asset_graph_mermaid.py --write"


def test_the_readme_links_resolve_in_the_site(site: Path):
    """The README is not a site page, so strict mode does not see its links: check them here."""
    for target, anchor in re.findall(r"\]\((docs/[^)#]+\.md)(?:#([^)]+))?\)", (ROOT / "README.md").read_text()):
        assert (ROOT / target).is_file(), target
        if anchor:
            page = Path(target).relative_to("docs").with_suffix("")
            page = page.parent if page.name == "index" else page
            assert f'id="{anchor}"' in page_text(site, str(page)), f"{target}#{anchor}"


def test_a_broken_link_fails_the_strict_build(tmp_path: Path):
    for name in ("docs", "scripts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "results.md"
    page.write_text(page.read_text() + "\nSee [a page that is not there](no-such-page.md).\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr
