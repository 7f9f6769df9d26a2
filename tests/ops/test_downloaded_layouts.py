"""Data as people download it in 2026: Parquet files and downloaded Hub folders (a README.md that
names configs, split files named as the Hub names them), read with pyarrow and `datasets`, offline,
without `hf:`. The files are written here from the real files in ../shared/data, in the exact Hub
schemas (bAbI's `story` struct of lists; MS MARCO's `passages` struct of lists), and must give
the same records as the published layouts they came from."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracekd_ops.datasets import inspect_dataset, load_source
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.files import json_records

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BABI = DATA / "babi" / "tasks_1-20_v1-2" / "en"
COTEMPQA = DATA / "cotempqa"
BABI_STORY = pa.struct([("id", pa.list_(pa.string())), ("type", pa.list_(pa.int64())), ("text", pa.list_(pa.string())),
                        ("supporting_ids", pa.list_(pa.list_(pa.string()))), ("answer", pa.list_(pa.string()))])  # fmt: skip
"""`facebook/babi_qa`'s features: one row per story, its lines as parallel lists (type 0 a fact, 1 a question)."""
MSMARCO_SCHEMA = pa.schema([("answers", pa.list_(pa.string())),
                            ("passages", pa.struct([("is_selected", pa.list_(pa.int32())), ("passage_text", pa.list_(pa.string())),
                                                    ("url", pa.list_(pa.string()))])),
                            ("query", pa.string()), ("query_id", pa.int32()), ("query_type", pa.string()),
                            ("wellFormedAnswers", pa.list_(pa.string()))])  # fmt: skip
"""`microsoft/ms_marco`'s features, as its Parquet files hold them."""


def babi_hub_rows(path: Path) -> list[dict]:
    """A bAbI task file as the Hub's rows."""
    stories: list[dict] = []
    for line in path.read_text().splitlines():
        number, _, rest = line.partition(" ")
        if number == "1":
            story = {"id": [], "type": [], "text": [], "supporting_ids": [], "answer": []}
            stories.append({"story": story})
        question, _, tail = rest.partition("\t")
        answer, _, supporting = tail.partition("\t")
        story["id"].append(number)
        story["type"].append(1 if tail else 0)
        story["text"].append(question.strip() if tail else rest)
        story["supporting_ids"].append(supporting.split())
        story["answer"].append(answer)
    return stories


def write_readme(folder: Path, configs: dict[str, dict[str, str]]) -> None:
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"] + [f"  - split: {s}\n    path: {p}" for s, p in splits.items()]
    (folder / "README.md").write_text("\n".join(lines + ["---", "# a dataset card", ""]))


@pytest.fixture(scope="module")
def babi_hub(tmp_path_factory) -> Path:
    """`facebook/babi_qa` as downloaded: configs en-qa1 and en-qa2, Parquet per split."""
    root = tmp_path_factory.mktemp("babi_qa")
    for task, name in ((1, "single-supporting-fact"), (2, "two-supporting-facts")):
        (root / f"en-qa{task}").mkdir()
        for split in ("train", "test"):
            rows = babi_hub_rows(BABI / f"qa{task}_{name}_{split}.txt")
            pq.write_table(pa.Table.from_pylist(rows, pa.schema([("story", BABI_STORY)])), root / f"en-qa{task}" / f"{split}-00000-of-00001.parquet")
    write_readme(root, {f"en-qa{t}": {s: f"en-qa{t}/{s}-*" for s in ("train", "test")} for t in (1, 2)})
    return root


def content(records) -> list[tuple]:
    return sorted((r.split, r.example_id, r.category, r.question, tuple((f.id, f.text) for f in r.facts), r.answers, r.gold_fact_ids)
                  for r in records)  # fmt: skip


def test_babi_from_parquet_a_config_folder_and_a_hub_folder_gives_the_published_records(babi_hub):
    published = content(load_source("babi", BABI / "qa1_single-supporting-fact_train.txt")) + content(
        load_source("babi", BABI / "qa1_single-supporting-fact_test.txt"))
    assert len(published) == 2000
    assert content(load_source("babi", babi_hub / "en-qa1" / "train-00000-of-00001.parquet")) == [r for r in published if r[0] == "train"]
    assert content(load_source("babi", babi_hub / "en-qa1")) == sorted(published)  # the config from the folder's name
    assert content(load_source("babi", babi_hub, config="en-qa1")) == sorted(published)
    assert inspect_dataset("babi", babi_hub, config="en-qa2")["by_category"] == {"two-supporting-facts": 2000}


def test_a_hub_folder_with_several_configs_asks_for_one(babi_hub, tmp_path):
    with pytest.raises(ValueError, match="a bAbI Hub source names its task config, e.g. en-qa1"):
        list(load_source("babi", babi_hub))
    msmarco = write_msmarco_hub(tmp_path / "ms_marco")
    with pytest.raises(ValueError, match=r"holds several configs \(v1.1, v2.1\): choose one with --option config=NAME"):
        inspect_dataset("msmarco", msmarco)


def msmarco_rows() -> list[dict]:
    """Rows in MS MARCO's Hub shape, with the cases its loader must keep apart."""
    base = {"query_type": "LOCATION", "wellFormedAnswers": [],
            "passages": {"is_selected": [0, 1, 0], "passage_text": ["Lyon is a city.", "Paris is the capital of France.", "Nice."],
                         "url": ["a", "b", "c"]}}  # fmt: skip
    return [{**base, "query_id": i, "query": f"what is the capital of france {i}", "answers": ["Paris"] if i % 3 else []} for i in range(12)]


def write_msmarco_hub(root: Path) -> Path:
    for config in ("v1.1", "v2.1"):
        (root / config).mkdir(parents=True)
        table = pa.Table.from_pylist(msmarco_rows(), MSMARCO_SCHEMA)
        pq.write_table(table, root / config / "train-00000-of-00001.parquet")
        pq.write_table(table.slice(0, 4), root / config / "validation-00000-of-00001.parquet")
        pq.write_table(table.slice(0, 2).set_column(0, "answers", pa.array([[], []], pa.list_(pa.string()))),
                       root / config / "test-00000-of-00001.parquet")  # fmt: skip
    write_readme(root, {c: {s: f"{c}/{s}-*" for s in ("train", "validation", "test")} for c in ("v1.1", "v2.1")})
    return root


def test_msmarco_from_parquet_and_a_hub_folder_matches_its_json_lines(tmp_path):
    root = write_msmarco_hub(tmp_path / "ms_marco")
    lines = tmp_path / "train_v1.1.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in msmarco_rows()))
    expected = content(load_source("msmarco", lines))
    assert content(load_source("msmarco", root / "v1.1" / "train-00000-of-00001.parquet")) == expected
    summary = inspect_dataset("msmarco", root / "v2.1")
    # validation is the evaluation split; the Hub's test split (no answers) is left out, as for hf: ids
    assert summary["by_split"] == {"test": 4, "train": 12} and summary["gold_facts"]["one"] == 16
    assert inspect_dataset("msmarco", root, config="v1.1")["by_split"] == summary["by_split"]


def test_cotempqa_from_parquet_matches_the_release(tmp_path):
    release = COTEMPQA / "equal.json"
    rows = [row for _, row in json_records(release)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "equal.parquet")
    assert content(load_source("cotempqa", tmp_path / "equal.parquet")) == content(load_source("cotempqa", release))


@pytest.mark.parametrize(
    "name, data, holds",
    [("train.json", "parquet", r"holds Parquet, but its name \(.json\) says JSON text"),
     ("train-00000-of-00001.parquet", '{"query": "q"}\n', r"holds JSON text, but its name \(.parquet\) says Parquet"),
     ("dev.jsonl", "\x00\x01binary", r"holds binary data \(not text\), but its name \(.jsonl\) says JSON text"),
     ("train-00000-of-00001.parquet", "", r"holds no data, but its name \(.parquet\) says Parquet")],
)  # fmt: skip
def test_a_file_that_is_not_what_its_name_says_is_named_with_what_it_holds(tmp_path, name, data, holds, faults):
    path = tmp_path / name
    if data == "parquet":
        pq.write_table(pa.Table.from_pylist(msmarco_rows(), MSMARCO_SCHEMA), path)
    else:
        path.write_text(data)
    with pytest.raises(DatasetFormatError, match=rf"{path} .*{holds}"):
        list(load_source("msmarco", path))
    faults.held("bad_input")


def test_a_bad_parquet_row_names_the_file_row_and_field(tmp_path, faults):
    rows = msmarco_rows()
    rows[5]["passages"] = {"is_selected": [1], "passage_text": [], "url": []}
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows, MSMARCO_SCHEMA), path)
    with pytest.raises(DatasetFormatError, match=rf"{path} row 6 \(passages\)"):
        list(load_source("msmarco", path))
    faults.held("bad_input")
