"""bAbI v1.2 loader (text files and the Hugging Face `facebook/babi_qa` row layout).

Format: numbered lines, numbering restarts at 1 for each story; a question line is
`ID question<TAB>answer<TAB>supporting ids` (qa19 has no space before the first tab). Facts
accumulate through a story and keep their line number as their id; earlier question lines are not
facts. Decomposition rule: the class is the task name (`qa2_two-supporting-facts` ->
`two-supporting-facts`), the gold facts are the shipped supporting ids. Comma answers stay one
answer string; `answers.babi_answer_correct` compares them as a set, except path-finding (qa19),
whose direction list is ordered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.datasets.answers import BABI_EXACT_MATCH
from tracekd_ops.datasets.errors import DatasetFormatError
from tracekd_ops.datasets.screening import LIMITS
from tracekd_ops.datasets.hub import HubSource, hub_split_of, local_source
from tracekd_ops.datasets.files import READ_LIMITS, ReadLimits, data_rows, dataset_files, decoded_lines
from tracekd_ops.datasets.specs import DatasetSpec, ProtocolRules

DATASET = "babi"
TASK_NAMES: dict[int, str] = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts",
    4: "two-arg-relations", 5: "three-arg-relations", 6: "yes-no-questions", 7: "counting",
    8: "lists-sets", 9: "simple-negation", 10: "indefinite-knowledge", 11: "basic-coreference",
    12: "conjunction", 13: "compound-coreference", 14: "time-reasoning", 15: "basic-deduction",
    16: "basic-induction", 17: "positional-reasoning", 18: "size-reasoning", 19: "path-finding",
    20: "agents-motivations",
}  # fmt: skip
LABELS: tuple[str, ...] = tuple(TASK_NAMES.values())
_FILE_RE = re.compile(r"^qa(\d+)_([a-z-]+)_(train|test|valid)\.txt$")
_HUB_CONFIG_RE = re.compile(r"en(?:-10k)?-qa(\d+)")
REFERENCE_TASKS = frozenset({1, 2, 4, 7, 8, 12, 14, 15, 16, 17, 18})
"""The reference study's bAbI tasks; it used the first question of each story."""


def babi_files(path: Path) -> list[Path]:
    """The task files under a folder (or the file itself), in task order."""
    return dataset_files(
        path, "bAbI",
        lambda folder: (p for p in folder.rglob("qa*_*.txt") if _FILE_RE.match(p.name)),
        "qaN_<task>_<split>.txt",
        order=lambda p: (int(_FILE_RE.match(p.name).group(1)), p.name),
    )  # fmt: skip


def load_babi(path: Path | str, config: str | None = None, limits: ReadLimits = READ_LIMITS) -> Iterator[QARecord]:
    """Every question of every task file under `path`; or of a file or downloaded Hub folder in the
    Hugging Face layout (Parquet, JSON Lines, a JSON array), its task named by the config (the
    option, else the folder's name: `en-qa1/train-00000-of-00001.parquet`)."""
    path = Path(path)
    hub = local_source(path, config)
    if hub is not None:
        yield from from_hub(hub)
        return
    for file in babi_files(path):
        if file.suffix == ".txt":
            yield from parse_babi_file(file, limits)
            continue
        task = _hub_task(config or file.parent.name, str(file))
        split = hub_split_of(file)
        if split is None:
            raise DatasetFormatError(file, "file name", "split", "a Hub-layout bAbI file is named by its split: train-00000-of-00001.parquet, test.jsonl")
        yield from from_hf_rows((row for _, row in data_rows(file, limits)), task, split, str(file))


def _hub_task(config: str, source: str) -> int:
    """The task number a Hub config names (`en-qa1`, `en-10k-qa2`); an error saying how to name it."""
    match = _HUB_CONFIG_RE.fullmatch(config)
    if not match:
        raise ValueError(f"{source}: a bAbI Hub source names its task config, e.g. en-qa1 (hf:facebook/babi_qa:en-qa1, "
                         "--option config=en-qa1, or a folder named en-qa1)")  # fmt: skip
    return int(match.group(1))


def _task_of(path: Path) -> tuple[int, str, str]:
    match = _FILE_RE.match(path.name)
    if not match:
        raise DatasetFormatError(path, "file name", "file name", "expected qaN_<task-name>_<train|test>.txt")
    number, name, split = int(match.group(1)), match.group(2), match.group(3)
    if TASK_NAMES.get(number) != name:
        raise DatasetFormatError(path, "file name", "task", f"qa{number} is {TASK_NAMES.get(number)!r}, not {name!r}")
    return number, name, split


def parse_babi_file(path: Path, limits: ReadLimits = READ_LIMITS) -> Iterator[QARecord]:
    """Every question of one task file. Each question carries its story so far, so a story longer
    than `LIMITS.max_facts` facts (bAbI's longest has 228) is refused at the line that passes the
    limit: records of an unbounded story would grow with the square of its length (one story of
    16,000 lines took over 300 s)."""
    number, task, split = _task_of(path)
    facts: list[Fact] = []
    known: set[int] = set()
    story, previous, asked = 0, 0, 0
    for line_no, line in decoded_lines(path, limits):
        where = f"line {line_no}"
        if not line.strip():
            continue
        head, _, rest = line.partition(" ")
        if not head.isdigit():
            raise DatasetFormatError(path, where, "line number", f"expected a number first, got {head!r}")
        n = int(head)
        if n == 1:
            facts, known, story, asked = [], set(), story + 1, 0
        elif n != previous + 1:
            raise DatasetFormatError(path, where, "line number", f"{n} follows {previous}")
        previous = n
        if "\t" not in rest:
            if "?" in rest:
                raise DatasetFormatError(path, where, "question", "question line without tab-separated answer")
            facts.append(Fact(n, rest.strip()))
            known.add(n)
            if len(facts) > LIMITS.max_facts:
                raise DatasetFormatError(path, where, "story", f"more than {LIMITS.max_facts} facts in one story (the limit)")
            continue
        parts = rest.split("\t")
        if len(parts) != 3:
            raise DatasetFormatError(path, where, "question", f"expected question<TAB>answer<TAB>ids, got {len(parts)} fields")
        question, answer, ids = (p.strip() for p in parts)
        if not answer:
            raise DatasetFormatError(path, where, "answer", "empty")
        if not all(i.isdigit() for i in ids.split()):
            raise DatasetFormatError(path, where, "supporting ids", f"not a list of numbers: {ids!r}")
        gold = tuple(int(i) for i in ids.split())
        missing = [i for i in gold if i not in known]
        if missing:
            raise DatasetFormatError(path, where, "supporting ids", f"points at no fact of the story: {missing}")
        yield QARecord(
            dataset=DATASET, split=split, example_id=f"qa{number}-{split}-{story:04d}-{n:02d}",
            category=task, question=question, facts=tuple(facts), answers=(answer,),
            gold_fact_ids=gold, source=f"{path.name}:{line_no}",
            extra={"task": number, "story": story, "question_in_story": asked},
        )  # fmt: skip
        asked += 1


def from_hf_rows(rows: Iterable[dict[str, Any]], task: int, split: str, source: str) -> Iterator[QARecord]:
    """The Hugging Face `facebook/babi_qa` layout: one row per story, `story` holding parallel
    lists `id`, `type` (0 fact, 1 question), `text`, `supporting_ids`, `answer`."""
    if task not in TASK_NAMES:
        raise ValueError(f"{source}: unknown bAbI task {task}")
    for row_no, row in enumerate(rows):
        where = f"row {row_no}"
        story = row.get("story")
        if not isinstance(story, dict):
            raise DatasetFormatError(source, where, "story", "missing or not a mapping")
        columns = [story.get(k) for k in ("id", "type", "text", "supporting_ids", "answer")]
        if any(not isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1:
            raise DatasetFormatError(source, where, "story", "needs lists id/type/text/supporting_ids/answer of one length")
        facts: list[Fact] = []
        asked = 0
        for line_id, kind, text, supporting, answer in zip(*columns):
            if kind == 0:
                facts.append(Fact(int(line_id), text))
                continue
            gold = tuple(int(i) for i in supporting)
            missing = [i for i in gold if i not in {f.id for f in facts}]
            if missing:
                raise DatasetFormatError(source, f"{where} line {line_id}", "supporting_ids", f"points at no fact: {missing}")
            yield QARecord(
                dataset=DATASET, split=split, example_id=f"qa{task}-{split}-{row_no + 1:04d}-{int(line_id):02d}",
                category=TASK_NAMES[task], question=text, facts=tuple(facts), answers=(answer,),
                gold_fact_ids=gold, source=f"{source}#{where}",
                extra={"task": task, "story": row_no + 1, "question_in_story": asked},
            )  # fmt: skip
            asked += 1


def from_hub(source: HubSource) -> Iterator[QARecord]:
    """`facebook/babi_qa` by task config, e.g. `hf:facebook/babi_qa:en-qa1`."""
    task = _hub_task(source.config_name or Path(source.repo_id).name, source.repo_id)
    for hub_split, split in source.train_and_test():
        yield from from_hf_rows(source.rows(hub_split), task, split, source.where(hub_split))


def _reference_question(record: QARecord) -> bool:
    return record.extra.get("task") in REFERENCE_TASKS and record.extra.get("question_in_story") == 0


LABEL_MEANINGS: dict[str, str] = {
    "single-supporting-fact": "one fact of the story is enough to answer",
    "two-supporting-facts": "the answer needs two facts of the story together",
    "three-supporting-facts": "the answer needs three facts of the story together",
    "two-arg-relations": "a question about where two places or things are relative to each other",
    "three-arg-relations": "a question about who gave what to whom",
    "yes-no-questions": "a question answered with yes or no",
    "counting": "a question about how many things someone holds",
    "lists-sets": "a question whose answer lists the things someone holds",
    "simple-negation": "a question whose answer depends on a fact saying that something is not so",
    "indefinite-knowledge": "a question the facts may leave open (the answer can be maybe)",
    "basic-coreference": "facts that refer back to a person as he or she",
    "conjunction": "facts about two people at once",
    "compound-coreference": "facts that refer back to two people at once (they)",
    "time-reasoning": "a question about where someone was before or after a given time",
    "basic-deduction": "a question answered by applying a general rule to one member of a group",
    "basic-induction": "a question answered by generalising from other members of a group",
    "positional-reasoning": "a question about where shapes are relative to each other",
    "size-reasoning": "a question about which thing is bigger or fits inside another",
    "path-finding": "a question about the way from one place to another",
    "agents-motivations": "a question about why someone goes somewhere or takes something",
}
"""Each task's category in plain words (what a rater is told it means)."""

SPEC = DatasetSpec(
    name=DATASET,
    labels=LABELS,
    answer=BABI_EXACT_MATCH,
    label_meanings=LABEL_MEANINGS,
    env_var="TRACEKD_BABI_PATH",
    load=load_babi,
    from_hub=from_hub,
    options={"config": ()},
    protocol=ProtocolRules(reference_keep=_reference_question, reference_test_share=0.10),
)
