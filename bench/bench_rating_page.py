"""Benchmark: the rating page's latency with many participants at once, alone and beside a slow
query (a `tracekd query` that runs for seconds, started again as soon as it ends).

`tracekd ratings serve` runs in its own process on loopback; each participant is an HTTP client
that goes through the whole session (consent page, start, instructions, then each item: the item
page and the rating), pausing `--think` seconds (uniform 0.5x-1.5x) between requests as a person
reading would. Every request's latency is recorded; p50/p95/p99/max are printed for each scenario
with the ratio of the slow-query run to the baseline run in the same process. Saved to
bench/results/rating_page-<time>-<host>.json.

    .venv/bin/python bench/bench_rating_page.py [--participants 50] [--think 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import save_result  # noqa: E402
from tests.conftest import store_traces  # noqa: E402
from tracekd_ops.steps.catalog import CATALOG  # noqa: E402
from tracekd_ops.steps.ratings import build_item_set  # noqa: E402
from tracekd_ops.store.store import Store  # noqa: E402

TRACEKD = Path(sys.executable).parent / "tracekd"
SLOW_QUERY = "SELECT levenshtein(repeat('a', 40000), repeat('b', 40000)) AS distance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([str(TRACEKD), "ratings", "serve", "--home", str(home), "--port", str(port)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the rating page did not start: {log.read_text()[-2000:]}")


async def participant(base: str, name: str, think: float, rng: random.Random, latencies: list[tuple[str, float]]) -> int:
    """One whole session; returns the number of ratings it made."""

    async def timed(method: str, path: str, **kwargs: object) -> httpx.Response:
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        started = time.perf_counter()
        response = await client.request(method, f"{base}{path}", **kwargs)
        latencies.append((f"{method} {path.split('?')[0]}", time.perf_counter() - started))
        if response.status_code >= 400:
            raise RuntimeError(f"{name}: {method} {path} -> {response.status_code}: {response.text[-200:]}")
        return response

    rated = 0
    async with httpx.AsyncClient(timeout=120) as client:
        await timed("GET", f"/?participant_id={name}")
        await timed("POST", "/start", data={"consent": "yes", "participant_id": name})
        await timed("GET", "/instructions")
        while True:
            page = (await timed("GET", "/item", follow_redirects=True)).text
            if 'name="item_id" value="' not in page:
                return rated
            item_id = page.split('name="item_id" value="')[1].split('"')[0]
            await timed("POST", "/rate", data={"item_id": item_id, "interpretability": str(rng.randint(1, 5)), "cognitive_load": str(rng.randint(1, 5))})
            rated += 1


def slow_queries(home: Path, stop: threading.Event, durations: list[float]) -> None:
    """`tracekd query` with SLOW_QUERY, again and again until stopped."""
    while not stop.is_set():
        started = time.perf_counter()
        done = subprocess.run([str(TRACEKD), "query", SLOW_QUERY, "--home", str(home), "--timeout", "120"], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the slow query failed: {done.stderr}")
        durations.append(time.perf_counter() - started)


def scenario(name: str, base: str, home: Path, participants: int, think: float, with_query: bool, seed: int) -> dict:
    latencies: list[tuple[str, float]] = []
    stop, query_durations = threading.Event(), []
    querying = threading.Thread(target=slow_queries, args=(home, stop, query_durations)) if with_query else None
    if querying:
        querying.start()
        time.sleep(1.0)  # the query is running when the participants arrive

    async def everyone() -> list[int]:
        return await asyncio.gather(*(participant(base, f"{name}-{i:03d}", think, random.Random(seed + i), latencies) for i in range(participants)))

    started = time.perf_counter()
    rated = asyncio.run(everyone())
    wall = time.perf_counter() - started
    if querying:
        stop.set()
        querying.join()
    ordered = sorted(seconds for _, seconds in latencies)

    def quantile(q: float, values: list[float] = ordered) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    routes = {route: sorted(s for r, s in latencies if r == route) for route in sorted({r for r, _ in latencies})}

    return {"scenario": name, "participants": participants, "requests": len(ordered), "ratings": sum(rated), "wall_s": round(wall, 1),
            "p50_s": round(quantile(0.50), 4), "p95_s": round(quantile(0.95), 4), "p99_s": round(quantile(0.99), 4),
            "max_s": round(ordered[-1], 4), "mean_s": round(statistics.fmean(ordered), 4),
            "p99_by_route_s": {route: round(quantile(0.99, values), 4) for route, values in routes.items()},
            "slow_queries_completed": len(query_durations),
            "slow_query_s": round(statistics.fmean(query_durations), 2) if query_durations else None}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between a participant's requests")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        store = Store(home / "tracekd.duckdb", tables=CATALOG)
        store_traces(store)
        version = build_item_set(store, "synthetic", per_condition=4, seed=0, attention_checks=2)["item_set_version"]
        server, base = serve(home, Path(scratch) / "serve.log")
        try:
            rows = [scenario("baseline", base, home, args.participants, args.think, False, args.seed),
                    scenario("slow_query", base, home, args.participants, args.think, True, args.seed)]  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=20)
        stored = store.rows("SELECT count(*) AS n, count(DISTINCT (participant_id, item_id)) AS distinct_n FROM ratings WHERE item_set_version = ?", [version])[0]
    baseline, loaded = rows
    for row in rows:
        print(f"{row['scenario']:>10}: {row['participants']} participants, {row['requests']} requests, {row['ratings']} ratings in {row['wall_s']} s; "
              f"p50 {row['p50_s']:.3f} s  p95 {row['p95_s']:.3f} s  p99 {row['p99_s']:.3f} s  max {row['max_s']:.3f} s"
              + (f"; {row['slow_queries_completed']} slow queries of {row['slow_query_s']} s ran beside" if row["slow_query_s"] else ""))  # fmt: skip
        print(f"{'':>12}p99 by route: " + ", ".join(f"{route} {value:.3f} s" for route, value in row["p99_by_route_s"].items()))
    ratio = loaded["p99_s"] / baseline["p99_s"]
    print(f"p99 beside the slow query / baseline: {ratio:.2f}x; ratings stored {stored['n']} ({stored['distinct_n']} distinct)")
    path = save_result("rating_page", rows, {"think_s": args.think, "p99_ratio": round(ratio, 2), "ratings_stored": stored["n"],
                                             "ratings_distinct": stored["distinct_n"], "slow_query": SLOW_QUERY})  # fmt: skip
    print(f"saved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
