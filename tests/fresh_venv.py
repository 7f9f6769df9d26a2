"""A fresh virtualenv for tests that install TraceKD as a user would (a wheel, an editable
checkout), without downloading anything: its own site-packages first, then this environment's
third-party packages through a `.pth` line (whose own `.pth` files, this checkout's editable
install among them, are not run)."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path


def fresh_venv(path: Path) -> tuple[Path, Path]:
    """(its python, its site-packages)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True)
    site_packages = Path(purelib.stdout.strip())
    (site_packages / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python, site_packages


def pip_install(python: Path, *arguments: str) -> None:
    """`pip install --no-deps` into the virtualenv of `python`, with this environment's pip."""
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", *arguments],
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
