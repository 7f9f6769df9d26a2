"""Benchmark: load + decompose throughput (questions/s) and peak memory of the dataset loaders.

- bAbI: all 40 files of ../shared/data (40,000 questions);
- MS MARCO: a generated v2.1-shaped columnar JSON file and the same rows as v1.1 JSON Lines
  (default 200,000 queries, ~10 passages each), to show the columnar reader's memory stays flat.

Each measurement runs in a fresh process, so its peak RSS is its own. Numbers only.

    .venv/bin/python bench/bench_loaders.py [--msmarco-queries 200000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BABI = ROOT.parent / "shared" / "data" / "babi" / "tasks_1-20_v1-2" / "en"
TYPES = ("DESCRIPTION", "NUMERIC", "ENTITY", "LOCATION", "PERSON")


def _row(i: int, rng: random.Random) -> dict:
    passages = [
        {"is_selected": int(j == 0), "url": f"http://example.org/{i}/{j}",
         "passage_text": " ".join(rng.choice(("alpha", "beta", "gamma", "delta", "the", "of")) for _ in range(60))}
        for j in range(10)
    ]  # fmt: skip
    return {"query_id": i, "query": f"what is item {i}", "query_type": TYPES[i % 5], "answers": [f"item {i}"],
            "passages": passages}  # fmt: skip


def write_msmarco(folder: Path, queries: int) -> tuple[Path, Path]:
    """Columnar v2.1 (written field by field, never whole in memory) and JSON Lines copies."""
    columnar, lines = folder / "train_v2.1.json", folder / "train_v1.1.jsonl"
    with open(columnar, "w") as out:
        out.write("{")
        for k, field in enumerate(("answers", "passages", "query", "query_id", "query_type")):
            rng = random.Random(0)
            out.write(("," if k else "") + json.dumps(field) + ":{")
            for i in range(queries):
                out.write(("," if i else "") + f'"{i}":' + json.dumps(_row(i, rng)[field]))
            out.write("}")
        out.write("}")
    rng = random.Random(0)
    with open(lines, "w") as out:
        for i in range(queries):
            out.write(json.dumps(_row(i, rng)) + "\n")
    return columnar, lines


def _measure(dataset: str, path: str, queue: multiprocessing.Queue) -> None:
    from tracekd_ops.datasets import dataset_spec

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    count = sum(1 for _ in dataset_spec(dataset).load(Path(path)))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((count, seconds, before / 1024, peak / 1024))


def measure(label: str, dataset: str, path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(dataset, str(path), queue))
    process.start()
    count, seconds, base_mb, peak_mb = queue.get()
    process.join()
    size_mb = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*"))) / 2**20
    print(f"{label:<28} {count:>9,} {seconds:>8.1f} {count / seconds:>12,.0f} {size_mb:>9.0f} {peak_mb:>9.0f} {peak_mb - base_mb:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--msmarco-queries", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{'loader':<28} {'questions':>9} {'seconds':>8} {'questions/s':>12} {'input MB':>9} {'peak MB':>9} {'+MB':>9}")
    measure("babi (40 files)", "babi", BABI)
    with tempfile.TemporaryDirectory() as folder:
        columnar, lines = write_msmarco(Path(folder), args.msmarco_queries)
        measure("msmarco v2.1 columnar", "msmarco", columnar)
        measure("msmarco v1.1 json lines", "msmarco", lines)


if __name__ == "__main__":
    main()
