"""Teacher requests per second: one at a time vs concurrent, and a fully cached re-run.

A loopback OpenAI-compatible server answers every chat request after a fixed latency (a stand-in
for a remote teacher's time to first byte plus generation), so the numbers isolate what TraceKD's
client, thread pool and DuckDB cache add. Prints numbers and ratios, saves them as JSON under
bench/results; asserts nothing.

    .venv/bin/python bench/bench_teacher.py [--questions 120] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracekd_ops.teacher.loopback import ScriptedChatServer, chat_reply  # noqa: E402
from tracekd_ops.datasets.synthetic import SyntheticConfig, generate  # noqa: E402
from tracekd_ops.steps.catalog import CATALOG  # noqa: E402
from tracekd_ops.store.store import Store  # noqa: E402
from tracekd_ops.teacher.cache import TeacherCache  # noqa: E402
from tracekd_ops.teacher.client import TeacherClient  # noqa: E402
from tracekd_ops.teacher.collect import ask_all  # noqa: E402
from tracekd_ops.teacher.config import TeacherConfig  # noqa: E402
from tracekd_ops.teacher.requests import answer_request  # noqa: E402
from bench.common import save_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per request")
    args = parser.parse_args()
    records = [r for r in generate(SyntheticConfig(train_per_task=args.questions, test_per_task=1)) if r.split == "train"]
    records = records[: args.questions]

    def script(number, prompt, headers):  # noqa: ANN001, ANN202
        time.sleep(args.latency)
        return 200, chat_reply("<answer>x</answer>", "reasoning"), {}

    print(f"{len(records)} questions, server latency {args.latency:.2f} s per request")
    print(f"{'concurrency':>11} {'sent':>5} {'seconds':>8} {'requests/s':>11} {'speed-up':>9}")
    baseline = None
    rows: list[dict[str, object]] = []
    with ScriptedChatServer(script) as server, tempfile.TemporaryDirectory() as tmp:
        for concurrency in (1, 4, 16):
            config = TeacherConfig(base_url=server.base_url, model="bench", max_concurrency=concurrency, seed=concurrency)
            client = TeacherClient(config)
            cache = TeacherCache(Store(Path(tmp) / f"c{concurrency}.duckdb", tables=CATALOG))
            requests = [answer_request(config, r) for r in records]
            started = time.perf_counter()
            stats = ask_all(client, cache, requests, log=lambda _: None)
            seconds = time.perf_counter() - started
            baseline = baseline or seconds
            print(f"{concurrency:>11} {stats.sent:>5} {seconds:>8.2f} {stats.sent / seconds:>11.1f} {baseline / seconds:>8.1f}x")
            rows.append({"concurrency": concurrency, "sent": stats.sent, "seconds": round(seconds, 4), "speed_up": round(baseline / seconds, 2)})
            if concurrency == 16:
                started = time.perf_counter()
                again = ask_all(client, cache, requests, log=lambda _: None)
                cached = time.perf_counter() - started
                print(f"{'cached':>11} {again.sent:>5} {cached:>8.2f} {len(requests) / cached:>11.1f} {baseline / cached:>8.1f}x")
                rows.append({"concurrency": "cached", "sent": again.sent, "seconds": round(cached, 4), "speed_up": round(baseline / cached, 2)})
            client.close()
    print(f"saved {save_result('teacher', rows, {'questions': len(records), 'latency_s': args.latency})}")


if __name__ == "__main__":
    main()
