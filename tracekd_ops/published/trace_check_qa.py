"""The reference study's published layout and trace format (sbhambr1/Trace_Check_QA, MIT; Bhambri,
Biswas & Kambhampati, arXiv 2505.13792): which file is which student, how its generations are
written, and the study's own trace rule, re-run exactly as published so its numbers can be set
beside TraceKD's.

Layout (`results/Cotempqa/` of the authors' repository, or a copy of it)::

    evaluation_outputs/<relation>/<Model>-sft-adapter[-reasoning-facts[-perturbed]]_<mode>.json
    evaluation_outputs/<relation>_default/<org>_<Model>_default_<relation>.json     (untuned)
    evaluation_results/<same path>                                                  (their summary)

Each output file is JSON Lines: `input`, `prediction`, `gold` (answers), `triple_element`,
`question`, `facts`. A trace student writes::

    <think>The temporal relation between the event in question and the event in context is: equal.
    I need to use the following facts to answer the question: ['<fact>', ...]</think> <answer>['<answer>']</answer>

(the perturbed students state one fact as bare text, without brackets); an answer-only student
writes the Python list alone (`['Liberals']`). Generations often stop before `</answer>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tracekd_ops.core.markup import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from tracekd_ops.evaluate.metrics import BASELINE_CONDITION
from tracekd_ops.published.fields import LineFields, python_str_list, text_field, text_list

LAYOUT = "trace-check-qa"
FORMAT_VERSION = "trace-check-qa-1"
"""Bump when reading the authors' generations changes: every imported verdict may move."""

ADAPTER_CONDITIONS: dict[str, str] = {
    "sft-adapter": "solution_only",
    "sft-adapter-reasoning-facts": "correct",
    "sft-adapter-reasoning-facts-perturbed": "incorrect",
}
"""The authors' adapter names and TraceKD's conditions: answer-only SFT, correct decomposed
traces, perturbed (incorrect) decomposed traces. The untuned base models are the baseline."""
UNTUNED_NAME = "default"

MODEL_ORGS: dict[str, str] = {"Llama": "meta-llama", "Qwen": "Qwen"}
"""The Hub organisation of an adapter's base model, by the name's first word (the authors name
adapters after the model without its organisation)."""

_ADAPTER_FILE = re.compile(r"^(?P<model>.+?)-(?P<adapter>sft-adapter(?:-[a-z-]+?)?)_(?P<mode>[a-z]+)\.jsonl?$")
_UNTUNED_FILE = re.compile(r"^(?P<org>[^_]+)_(?P<model>.+)_default_(?P<relation>[a-z]+)\.jsonl?$")


class UnknownCondition(ValueError):
    """A file names a training condition TraceKD has no mapping for."""


@dataclass(frozen=True)
class PublishedFile:
    """One published output file: whose generations, under which condition, on which relation."""

    path: Path
    relative: str
    """The path inside the published folder (what lineage records)."""
    model_label: str
    """The authors' name for the student (`Qwen3-1.7B-sft-adapter-reasoning-facts`)."""
    condition_name: str
    """The authors' name for the condition (`sft-adapter-reasoning-facts`, or `default`: untuned)."""
    condition: str
    base_model: str
    category: str
    reported: dict[str, float] | None
    """The authors' summary of the file (`evaluation_results/...`: acc, f1, p, r, avg), if beside it."""


def base_model_of(model: str, org: str | None = None) -> str:
    """The Hub id of the authors' model name (`Qwen3-1.7B` -> `Qwen/Qwen3-1.7B`); the name
    itself when its organisation is unknown."""
    if org:
        return f"{org}/{model}"
    for prefix, owner in MODEL_ORGS.items():
        if model.startswith(prefix):
            return f"{owner}/{model}"
    return model


def condition_of(name: str, extra: dict[str, str], where: str) -> str:
    """TraceKD's condition for an authors' condition name; an error listing the known names."""
    known = {**ADAPTER_CONDITIONS, **extra}
    if name not in known:
        raise UnknownCondition(
            f"{where}: unknown condition name {name!r}; known: {', '.join(sorted(known))} "
            "(map another with condition_names, e.g. --condition-name sft-adapter-reasoning=correct)"
        )
    return known[name]


def discover(folder: Path, labels: Sequence[str], extra_conditions: dict[str, str]) -> list[PublishedFile]:
    """Every output file under `folder` in the authors' layout (`folder` may be the repository,
    `results/Cotempqa/`, or `evaluation_outputs/` itself). `labels` are the dataset's relations.
    A file whose name fits neither pattern, or names an unknown condition, is an error naming it."""
    outputs = _outputs_root(folder)
    files = []
    for path in sorted(p for p in outputs.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl")):
        relation_dir = path.parent.name
        relative = str(path.relative_to(folder))
        untuned = _UNTUNED_FILE.match(path.name)
        if relation_dir.endswith(f"_{UNTUNED_NAME}") and untuned:
            relation = untuned["relation"]
            label, condition_name = f"{untuned['org']}_{untuned['model']}", UNTUNED_NAME
            condition, base = BASELINE_CONDITION, base_model_of(untuned["model"], untuned["org"])
        elif adapter := _ADAPTER_FILE.match(path.name):
            relation, condition_name = relation_dir, adapter["adapter"]
            label = f"{adapter['model']}-{condition_name}"
            condition, base = condition_of(condition_name, extra_conditions, relative), base_model_of(adapter["model"])
        else:
            raise ValueError(
                f"{relative}: not a file name of the {LAYOUT} layout (<relation>/<Model>-sft-adapter[-...]_<mode>.json "
                f"or <relation>_default/<org>_<Model>_default_<relation>.json)"
            )
        if relation not in labels:
            raise ValueError(f"{relative}: relation {relation!r} (from the folder name) is not one of {', '.join(labels)}")
        reported = _reported(outputs.parent / "evaluation_results" / path.relative_to(outputs))
        files.append(PublishedFile(path, relative, label, condition_name, condition, base, relation, reported))
    if not files:
        raise ValueError(f"{folder}: no output files of the {LAYOUT} layout (evaluation_outputs/<relation>/*.json)")
    return files


def looks_like(folder: Path) -> bool:
    """Whether a folder holds the authors' layout (for choosing the layout by itself)."""
    try:
        return _outputs_root(folder).is_dir()
    except ValueError:
        return False


def _outputs_root(folder: Path) -> Path:
    for candidate in (folder, folder / "evaluation_outputs", folder / "results" / "Cotempqa" / "evaluation_outputs"):
        if candidate.name == "evaluation_outputs" and candidate.is_dir():
            return candidate
    found = sorted(folder.rglob("evaluation_outputs"))
    if len(found) == 1 and found[0].is_dir():
        return found[0]
    raise ValueError(f"{folder}: no evaluation_outputs/ folder (the {LAYOUT} layout)" + (f"; several: {found}" if found else ""))


def _reported(path: Path) -> dict[str, float] | None:
    """The authors' summary numbers of one output file, when their evaluation_results file is there."""
    import json

    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path}: not the authors' summary JSON ({error})") from None
    if not isinstance(values, dict) or not all(isinstance(v, (int, float)) for v in values.values()):
        raise ValueError(f"{path}: expected an object of numbers (acc, f1, p, r, avg)")
    return {str(k): float(v) for k, v in values.items()}


def line_fields(values: dict[str, Any], relation: str) -> LineFields:
    """A line of an output file in TraceKD's terms (`input` is the prompt: a string, or `{"text": ...}`)."""
    prompt = values.get("input")
    prompt = prompt.get("text") if isinstance(prompt, dict) else prompt
    return LineFields(
        question=text_field(values, "question") or "", facts=text_list(values.get("facts"), "facts"),
        answers=text_list(values.get("gold"), "gold"), generation=text_field(values, "prediction") or "",
        category=relation, triple_element=text_field(values, "triple_element", required=False),
        prompt=prompt if isinstance(prompt, str) else None,
    )  # fmt: skip


# --- the authors' trace format -------------------------------------------------------------

_CLASS_SENTENCE = "The temporal relation between the event in question and the event in context is"
_FACTS_SENTENCE = "I need to use the following facts to answer the question"
_ROLE_HEADER = re.compile(r"^\s*assistant\s*\n")
_CLASS = re.compile(r"\bis:\s*([A-Za-z_-]+)\s*\.")
_FACTS_LEAD = re.compile(r"I need to use the following facts?\b[^:]*:\s*", re.S)


@dataclass(frozen=True)
class Generation:
    """What one generation says, read as the authors' format; the states say how it ended.

    trace_state / answer_state: `closed` (tag closed), `unclosed` (opened, never closed: the
    generation was cut short or ran on), `missing` (not written)."""

    trace: str | None
    trace_state: str
    category: str | None
    facts_form: str
    """`list` (a Python list of fact strings), `text` (bare sentences), `unreadable` (a list
    that does not parse, e.g. cut short inside it) or `missing`."""
    fact_texts: tuple[str, ...]
    answer_items: tuple[str, ...] | None
    answer_state: str
    after_trace: str
    """Everything after the trace: what a lenient reader takes an answer from."""

    @property
    def cut_short(self) -> bool:
        """The generation did not finish its answer (or its trace) in the format it was trained on."""
        return self.answer_state != "closed" or self.trace_state == "unclosed"


def parse_generation(text: str) -> Generation:
    """Read one generation in the authors' format (the module docstring shows it)."""
    body = _ROLE_HEADER.sub("", text, count=1)
    trace, trace_state, after = _trace(body)
    category = fact_form = None
    facts: tuple[str, ...] = ()
    if trace is not None:
        found = _CLASS.search(trace)
        category = found.group(1) if found else None
        fact_form, facts = _facts(trace)
    items, answer_state = _answer(after)
    return Generation(trace, trace_state, category, fact_form or "missing", facts, items, answer_state, after)


def _trace(body: str) -> tuple[str | None, str, str]:
    opened, closed = body.find(THINK_OPEN), body.find(THINK_CLOSE)
    if opened == -1 and closed == -1:
        return None, "missing", body
    start = opened + len(THINK_OPEN) if opened != -1 else 0
    if closed == -1 or closed < start:
        rest = body[start:]
        if python_str_list(rest) is not None:  # Qwen3's template opens <think>; an answer-only student answers inside it
            return None, "missing", rest
        return rest, "unclosed", ""
    return body[start:closed].strip(), "closed", body[closed + len(THINK_CLOSE) :]


def _facts(trace: str) -> tuple[str, tuple[str, ...]]:
    lead = _FACTS_LEAD.search(trace)
    if not lead:
        return "missing", ()
    listed = trace[lead.end() :].strip()
    if not listed:
        return "missing", ()
    if listed.startswith("["):
        items = python_str_list(listed[: listed.rfind("]") + 1] if "]" in listed else listed)
        return ("list", items) if items is not None else ("unreadable", ())
    return "text", (listed,)


def _answer(after: str) -> tuple[tuple[str, ...] | None, str]:
    """(answer items, state): inside <answer>, else the bare Python list an answer-only student
    writes; None and `missing` when neither is there."""
    opened = after.find(ANSWER_OPEN)
    if opened != -1:
        content = after[opened + len(ANSWER_OPEN) :]
        closed = content.find(ANSWER_CLOSE)
        state = "closed" if closed != -1 else "unclosed"
        content = content[:closed] if closed != -1 else content
        return _answer_items(content), state
    bare = after.strip()
    if bare.startswith("[") and bare.endswith("]") and (items := python_str_list(bare)) is not None:
        return items, "closed"
    return None, "missing"


def _answer_items(content: str) -> tuple[str, ...] | None:
    content = content.strip()
    if content.startswith("[") and (items := python_str_list(content)) is not None:
        return items
    return (content,) if content else None


def gold_trace(relation: str, gold_facts: Sequence[str]) -> str:
    """The gold steps in the authors' wording (what a trace student's BLEU is measured against)."""
    return f"{_CLASS_SENTENCE}: {relation}.\n{_FACTS_SENTENCE}: {list(gold_facts)!r}"


# --- the authors' trace rule, as published (scripts/cotempqa_confusion_matrix.py) ----------


@dataclass(frozen=True)
class AuthorsVerdict:
    """The study's verdicts for one line. `evaluated` is False where its script skips the line
    (no `think` in the generation, or an empty trace): such lines are outside its 2x2 tables."""

    evaluated: bool
    class_ok: bool
    ir_ok: bool
    own_row: bool | None
    """Whether the row its lookup found is this line's question (None: the lookup was not re-run)."""

    @property
    def trace_ok(self) -> bool:
        return self.class_ok and self.ir_ok


def authors_verdict(prediction: str, relation: str, gold: Sequence[str], question: str, facts: Sequence[str],
                    gold_rows: Sequence["GoldRow"] | None) -> AuthorsVerdict:  # fmt: skip
    """The published rule: the class step is right when the relation's name occurs before the
    trace's first full stop; the IR step when *any* of the looked-up row's facts occurs verbatim in
    the trace (the script compares the row's facts with themselves, so every fact counts as gold);
    the row is the first gold-CSV row whose answer contains the line's first gold answer. Without
    the gold CSVs the line's own facts stand in for the row (`own_row` None)."""
    if "think" not in prediction:
        return AuthorsVerdict(False, False, False, None)
    trace = prediction.split(THINK_CLOSE)[0]
    if not trace:
        return AuthorsVerdict(False, False, False, None)
    row_facts, own_row = list(facts), None
    if gold_rows is not None:
        row = next((r for r in gold_rows if gold and gold[0] in r.answer), None)
        if row is not None:
            row_facts, own_row = list(row.facts), row.question == question
    class_ok = relation in trace.split(".")[0]
    ir_ok = any(fact in trace for fact in row_facts)
    return AuthorsVerdict(True, class_ok, ir_ok, own_row)


@dataclass(frozen=True)
class GoldRow:
    """One row of the authors' gold test CSV (`data/cotempqa/sft_dataset_*_chat_template/<relation>_test.csv`)."""

    question: str
    answer: str
    facts: tuple[str, ...]


GOLD_CSV_DIR = "sft_dataset_reasoning_with_facts_chat_template"
"""Where the script reads gold rows for both trace students (it picks the folder by the adapter
name's `reasoning-facts`, which the perturbed adapter's name contains too)."""
TRACE_CONDITIONS = ("correct", "incorrect")


def gold_rows(folder: Path, condition: str, relation: str) -> list[GoldRow] | None:
    """The authors' gold CSV rows for a trace student's relation, when the folder is (or holds)
    the authors' repository; None otherwise (the lookup then cannot be re-run)."""
    import csv

    if condition not in TRACE_CONDITIONS:
        return None
    for root in (folder, *list(folder.parents)[:3]):  # the repository root is at most three levels up
        path = root / "data" / "cotempqa" / GOLD_CSV_DIR / f"{relation}_test.csv"
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as handle:
                return [_gold_row(row, path, number) for number, row in enumerate(csv.DictReader(handle), start=2)]
    return None


def _gold_row(row: dict[str, Any], path: Path, line: int) -> GoldRow:
    missing = [c for c in ("question", "answer", "facts") if c not in row]
    if missing:
        raise ValueError(f"{path}:{line}: gold CSV has no column {missing[0]}")
    facts = python_str_list(row["facts"])
    if facts is None:
        raise ValueError(f"{path}:{line} (facts): not a Python list of strings")
    question = row["question"].rsplit("Question: ", 1)[-1].strip().removesuffix("Only return the answer.").strip()
    return GoldRow(question, row["answer"], facts)

