"""Benchmark: load + decompose throughput (questions/s) and peak memory of the dataset loaders.

- bAbI: all 40 files of ../shared/data (40,000 questions);
- MS MARCO: a generated v2.1-shaped columnar JSON file and the same rows as v1.1 JSON Lines
  (default 200,000 queries, ~10 passages each), to show the columnar reader's memory stays flat;
- hostile files (a field nested 200,000 deep; a bAbI story of 16,000 lines): how fast, and with
  how little memory, they are refused.

Each measurement runs in a fresh process, so its peak RSS is its own. Numbers only; saved to
bench/results/loaders-<time>-<host>.json.

    .venv/bin/python bench/bench_loaders.py [--msmarco-queries 200000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import save_result  # noqa: E402
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


def write_parquet(folder: Path, queries: int) -> None:
    """The same rows in the Hub's layout (`passages` a struct of lists), written 10,000 rows at a
    time: one Parquet file, and a downloaded Hub folder (README.md configs, train/validation files)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    hub = folder / "ms_marco"
    (hub / "v1.1").mkdir(parents=True)
    (hub / "README.md").write_text("---\nconfigs:\n- config_name: v1.1\n  data_files:\n  - split: train\n    path: v1.1/train-*\n"
                                   "  - split: validation\n    path: v1.1/validation-*\n---\n")  # fmt: skip
    single = hub / "v1.1" / "train-00000-of-00001.parquet"
    rng, writer = random.Random(0), None
    for start in range(0, queries, 10_000):
        rows = [_row(i, rng) for i in range(start, min(start + 10_000, queries))]
        for row in rows:
            row["passages"] = {key: [p[key] for p in row["passages"]] for key in ("is_selected", "passage_text", "url")}
        table = pa.Table.from_pylist(rows)
        writer = writer or pq.ParquetWriter(single, table.schema)
        writer.write_table(table)
    writer.close()
    first = next(pq.ParquetFile(single).iter_batches(batch_size=1000))
    pq.write_table(pa.Table.from_batches([first]), hub / "v1.1" / "validation-00000-of-00001.parquet")


def write_msmarco(folder: Path, queries: int) -> tuple[Path, Path, Path]:
    """Columnar v2.1 (written field by field, never whole in memory), JSON Lines and JSON array copies."""
    columnar, lines, array = folder / "train_v2.1.json", folder / "train_v1.1.jsonl", folder / "train_rows.json"
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
    rng = random.Random(0)
    with open(array, "w") as out:
        out.write("[")
        for i in range(queries):
            out.write((",\n" if i else "") + json.dumps(_row(i, rng)))
        out.write("]")
    return columnar, lines, array


def _measure(dataset: str, path: str, queue: multiprocessing.Queue) -> None:
    from tracekd_ops.datasets import dataset_spec

    from tracekd_ops.datasets.errors import DatasetFormatError

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        count = sum(1 for _ in dataset_spec(dataset).load(Path(path)))
    except DatasetFormatError:
        count = 0  # a hostile file, refused: what is timed is how fast
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((count, seconds, before / 1024, peak / 1024))


def measure(label: str, dataset: str, path: Path) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(dataset, str(path), queue))
    process.start()
    count, seconds, base_mb, peak_mb = queue.get()
    process.join()
    size_mb = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*"))) / 2**20
    rate = f"{count / seconds:>12,.0f}" if count else "     refused"
    print(f"{label:<28} {count:>9,} {seconds:>8.2f} {rate} {size_mb:>9.1f} {peak_mb:>9.0f} {peak_mb - base_mb:>9.0f}")
    return {"loader": label, "questions": count, "seconds": seconds, "input_mb": size_mb, "peak_mb": peak_mb, "extra_mb": peak_mb - base_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--msmarco-queries", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{'loader':<28} {'questions':>9} {'seconds':>8} {'questions/s':>12} {'input MB':>9} {'peak MB':>9} {'+MB':>9}")
    rows = [measure("babi (40 files)", "babi", BABI)]
    with tempfile.TemporaryDirectory() as folder:
        columnar, lines, array = write_msmarco(Path(folder), args.msmarco_queries)
        rows.append(measure("msmarco v2.1 columnar", "msmarco", columnar))
        rows.append(measure("msmarco v1.1 json lines", "msmarco", lines))
        rows.append(measure("msmarco rows, json array", "msmarco", array))
        writer = multiprocessing.get_context("spawn").Process(target=write_parquet, args=(Path(folder), args.msmarco_queries))
        writer.start()  # in a process of its own: pyarrow and the batches would raise this one's peak, which children inherit
        writer.join()
        single, hub = Path(folder) / "ms_marco" / "v1.1" / "train-00000-of-00001.parquet", Path(folder) / "ms_marco"
        rows.append(measure("msmarco parquet (Hub schema)", "msmarco", single))
        rows.append(measure("msmarco Hub folder", "msmarco", hub))
        rows += [measure(label, dataset, path) for label, dataset, path in write_hostile(Path(folder))]
    print(f"saved {save_result('loaders', rows, {'msmarco_queries': args.msmarco_queries})}")


def write_hostile(folder: Path) -> list[tuple[str, str, Path]]:
    """Files made to exhaust a loader: a CoTempQA record with a field nested 200,000 deep (400 KB,
    as JSON Lines and as a JSON array), one with a 200 MB fact in a JSON array, and one bAbI story
    of 16,000 lines (1.1 MB)."""
    nested = '{"index": 1, "question": "Q?", "facts": ["A."], "answer": ["A"], "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    (folder / "lines").mkdir()
    (folder / "array").mkdir()
    (folder / "lines" / "equal.json").write_text(nested + "\n")
    (folder / "array" / "equal.json").write_text(f"[{nested}]")
    (folder / "long").mkdir()
    with open(folder / "long" / "equal.json", "w") as out:
        out.write('[{"index": 1, "question": "Q?", "answer": ["A"], "facts": ["')
        for _ in range(200):
            out.write("A" * (1 << 20))
        out.write('"]}]')
    story, n = [], 1
    for k in range(8000):
        story += [f"{n} Mary went to the room{k}.", f"{n + 1} Where is Mary?\troom{k}\t{n}"]
        n += 2
    (folder / "qa1_single-supporting-fact_train.txt").write_text("\n".join(story) + "\n")
    return [("hostile: nested 200k, lines", "cotempqa", folder / "lines" / "equal.json"),
            ("hostile: nested 200k, array", "cotempqa", folder / "array" / "equal.json"),
            ("hostile: 200 MB fact, array", "cotempqa", folder / "long" / "equal.json"),
            ("hostile: bAbI 16k-line story", "babi", folder / "qa1_single-supporting-fact_train.txt")]  # fmt: skip


if __name__ == "__main__":
    main()
