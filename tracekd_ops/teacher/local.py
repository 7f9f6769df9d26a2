"""A local teacher: `transformers serve` running a model on loopback, an OpenAI-compatible endpoint
with no network and no API key, for `tracekd demo --teacher local` and the tests. The server
process runs in its own session and is stopped (with whatever it started) on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tracekd_ops.core.lifetime import stop_process_group


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    log: Path

    def requests_served(self) -> int:
        """Chat requests the server answered, counted from uvicorn's access log."""
        return self.log.read_text().count('"POST /v1/chat/completions HTTP/1.1"')


@contextmanager
def serve(model_dir: Path, log: Path, timeout_s: float = 180.0) -> Iterator[Server]:
    """`transformers serve` for `model_dir` on a free loopback port, offline; stopped on exit.
    Its log (and the access log, which counts requests) goes to `log`."""
    port = free_port()
    (log.parent / "hf_cache").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_CACHE": str(log.parent / "hf_cache"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(model_dir),
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"transformers serve did not come up in {timeout_s} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(base + "/v1", log)
    finally:
        stop_process_group(process.pid, [process], grace_s=20.0)
