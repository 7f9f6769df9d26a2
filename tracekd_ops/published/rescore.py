"""One published line, re-scored by TraceKD: the canonical record rebuilt from the line itself,
its generation read in its format, and its verdicts under every scoring choice (so the report can
show how far each choice moves a table), plus the predictions row under the chosen one.

A line that cannot be turned into a record (a field missing or of the wrong kind, no answer, a
category the dataset does not know) raises `LineRefused` with the field named; the caller keeps
it with that reason. A generation that cannot be read is *not* refused: like TraceKD's own
students, a student that garbles its trace scores those steps as wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

from tracekd_ops.core.records import Fact, QARecord, fold_whitespace
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.datasets.answers import token_f1
from tracekd_ops.datasets.cotempqa_official import OfficialScore, official_score
from tracekd_ops.evaluate.metrics import BASELINE_CONDITION
from tracekd_ops.evaluate.scoring import F1_THRESHOLD, FACT_RULES, ScoringChoice, facts_verdict
from tracekd_ops.published import trace_check_qa
from tracekd_ops.published.fields import LineFields, LineRefused, python_str_list
from tracekd_ops.traces.render import extract_answer, parse_completion, render_prompt, split_reasoning

TRACEKD_FORMAT = "tracekd"
GENERATION_FORMATS = (trace_check_qa.LAYOUT, TRACEKD_FORMAT)
"""How a published generation is written: the reference study's format, or TraceKD's own."""


def record_of(fields: LineFields, spec: DatasetSpec, source: str) -> QARecord:
    """The canonical record of a line, built from the line alone: its facts numbered from 1, its
    answers as the dataset keeps them, its gold facts given or derived by the dataset's rule."""
    if fields.category not in spec.labels:
        raise LineRefused(f"field category: {fields.category!r} is not one of {spec.name}'s {', '.join(spec.labels)}")
    facts = tuple(Fact(i, text) for i, text in enumerate(fields.facts, start=1))
    if not facts:
        raise LineRefused("field facts: empty")
    items = tuple(a for a in (fold_whitespace(a) for a in fields.answers) if a)
    if not items:
        raise LineRefused("field answers: no non-empty answer")
    if fields.gold_fact_ids is not None:
        outside = sorted(set(fields.gold_fact_ids) - {f.id for f in facts})
        if outside:
            raise LineRefused(f"field gold_fact_ids: {outside} point at no fact (1 to {len(facts)})")
        gold = fields.gold_fact_ids
    elif spec.gold_facts is not None:
        gold = spec.gold_facts(fields.question, [f.text for f in facts], items)
    else:
        raise LineRefused(f"field gold_fact_ids: missing, and {spec.name} has no rule to derive its gold facts")
    example_id = fields.example_id or content_id(fields.category, fields.question, [f.text for f in facts])
    return QARecord(
        dataset=spec.name, split="test", example_id=example_id, category=fields.category, question=fields.question,
        facts=facts, answers=spec.canonical_answers(fields.category, items), gold_fact_ids=tuple(gold), source=source,
        extra={"triple_element": fields.triple_element, "answer_items": list(items)},
    )  # fmt: skip


def content_id(category: str, question: str, facts: Sequence[str]) -> str:
    """A stable id for a question met outside any loaded dataset: its category and a hash of its text."""
    digest = hashlib.sha256("\n".join([fold_whitespace(question), *map(fold_whitespace, facts)]).encode()).hexdigest()
    return f"{category}-q{digest[:10]}"


@dataclass(frozen=True)
class Reading:
    """A generation as TraceKD reads it, whatever its format."""

    category: str | None
    fact_ids: tuple[int, ...] | None
    """The facts it lists, by id; a listed fact that is none of the question's gets a negative id
    (-1, -2, ...), so it counts against the IR step. None: no readable fact list."""
    facts_form: str
    answer_items: tuple[str, ...] | None
    answer_state: str
    trace_state: str
    lenient_answer: tuple[str, ...] | None
    """What the `lenient` cut-short rule reads when the answer was not closed."""
    think: str | None = None

    @property
    def cut_short(self) -> bool:
        return self.answer_state != "closed" or self.trace_state == "unclosed"


def _fold(text: str) -> str:
    return fold_whitespace(text).casefold().rstrip(".").strip()


def match_facts(texts: Sequence[str], form: str, record: QARecord) -> tuple[int, ...] | None:
    """Fact ids of the facts a trace states: a list item is a fact when it equals one (whitespace,
    case and a final full stop aside); bare text names every fact it contains, and anything else
    it says counts as one fact that is not the question's."""
    if form in ("missing", "unreadable"):
        return None
    by_text = {_fold(f.text): f.id for f in record.facts}
    if form == "list":
        unknown = iter(range(-1, -len(texts) - 1, -1))
        return tuple(by_text.get(_fold(t)) or next(unknown) for t in texts)
    rest, found = _fold(" ".join(texts)), []
    for text, fact_id in sorted(by_text.items(), key=lambda item: -len(item[0])):
        if text and text in rest:
            found.append(fact_id)
            rest = rest.replace(text, " ")
    leftover = sum(ch.isalpha() for ch in rest)
    return tuple(sorted(found)) + ((-1,) if leftover >= 3 or not found else ())


def read_generation(fmt: str, text: str, record: QARecord, condition: str) -> Reading:
    """Read a generation in its format; an untuned base model's is read as TraceKD reads its own
    baselines (the `<answer>` tags, else the last line: it never learned a format)."""
    if condition == BASELINE_CONDITION:
        answer = extract_answer(split_reasoning(text, None)[1])
        items = _list_or_text(answer)
        return Reading(None, None, "missing", items, "closed" if items else "missing", "missing", items)
    if fmt == trace_check_qa.LAYOUT:
        g = trace_check_qa.parse_generation(text)
        lenient = g.answer_items if g.answer_items is not None else _list_or_text(extract_answer(g.after_trace))
        return Reading(g.category, match_facts(g.fact_texts, g.facts_form, record), g.facts_form, g.answer_items,
                       g.answer_state, g.trace_state, lenient, g.trace)  # fmt: skip
    if fmt == TRACEKD_FORMAT:
        parsed = parse_completion(text)
        closed = parsed.answer is not None
        after = text.rsplit("</think>", 1)[-1]
        lenient = (parsed.answer,) if closed else _list_or_text(extract_answer(after.replace("<answer>", "\n")))
        return Reading(parsed.category, parsed.fact_ids, "list" if parsed.fact_ids is not None else "missing",
                       (parsed.answer,) if closed else None, "closed" if closed else ("unclosed" if "<answer>" in text else "missing"),
                       "closed" if parsed.has_trace else "missing", lenient, parsed.think)  # fmt: skip
    raise ValueError(f"unknown generation format {fmt!r}; known: {', '.join(GENERATION_FORMATS)}")


def _list_or_text(answer: str | None) -> tuple[str, ...] | None:
    if not answer or not answer.strip():
        return None
    answer = answer.strip()
    listed = python_str_list(answer) if answer.startswith("[") else None
    return listed if listed is not None else (answer,)


@dataclass(frozen=True)
class Verdicts:
    """A line's verdicts under every scoring choice (None: that step is not scored for it)."""

    class_ok: bool | None
    ir_exact: bool | None
    ir_contains: bool | None
    ir_subset: bool | None
    ir_any: bool | None
    ir_precision: float | None
    ir_recall: float | None
    answer_em: bool
    answer_em_lenient: bool
    answer_f1: float
    answer_f1_lenient: float
    official: OfficialScore | None
    """CoTempQA's official metric on the whole generation (None: not CoTempQA, or no triple_element)."""
    authors: trace_check_qa.AuthorsVerdict | None = None

    @property
    def answer_official(self) -> bool | None:
        return self.official.exact if self.official else None

    @property
    def official_f1(self) -> float | None:
        return self.official.f1 if self.official else None

    def chosen(self, choice: ScoringChoice) -> dict[str, Any]:
        """The verdicts a predictions row stores under one scoring choice."""
        strict = choice.cut_short == "wrong"
        if choice.answer == "official":
            if self.answer_official is None:
                raise ValueError("scoring answer=official is CoTempQA's official metric: this line has no triple_element or is not CoTempQA")
            answer = self.answer_official
        elif choice.answer == "f1":
            answer = (self.answer_f1 if strict else self.answer_f1_lenient) >= F1_THRESHOLD
        else:
            answer = self.answer_em if strict else self.answer_em_lenient
        ir = {"exact": self.ir_exact, "contains": self.ir_contains, "subset": self.ir_subset, "any": self.ir_any}[choice.facts]
        trace = None if self.class_ok is None else bool(self.class_ok and ir)
        return {"class_correct": self.class_ok, "ir_exact": ir, "ir_precision": self.ir_precision, "ir_recall": self.ir_recall,
                "trace_correct": trace, "answer_correct": bool(answer)}  # fmt: skip


def verdicts(reading: Reading, record: QARecord, fields: LineFields, spec: DatasetSpec, writes_steps: bool,
             authors: trace_check_qa.AuthorsVerdict | None) -> Verdicts:  # fmt: skip
    """The line's verdicts; its steps are scored where its condition's completions state them
    (`writes_steps`, resolved once per student by the caller)."""
    gold_items = record.extra.get("answer_items") or list(record.answers)
    strict, lenient = reading.answer_items, reading.lenient_answer if reading.answer_state != "closed" else reading.answer_items
    answer_em = strict is not None and spec.answer.items_correct(strict, gold_items, record.category)
    answer_em_lenient = lenient is not None and spec.answer.items_correct(lenient, gold_items, record.category)
    official = None
    if record.dataset == "cotempqa" and fields.triple_element is not None:
        official = official_score(fields.generation, list(fields.answers), list(fields.facts), fields.question, fields.triple_element)
    class_ok = ir_exact = ir_contains = ir_subset = ir_any = precision = recall = None
    if writes_steps:
        class_ok = reading.category is not None and reading.category == record.category
        listed = reading.fact_ids or ()
        gold = set(record.gold_fact_ids)
        hits = len(set(listed) & gold)
        precision = hits / len(set(listed)) if listed else 0.0
        recall = hits / len(gold) if gold else float(not listed)
        ir_exact, ir_contains, ir_subset, ir_any = (reading.fact_ids is not None and facts_verdict(listed, record.gold_fact_ids, rule)
                                                    for rule in FACT_RULES)  # fmt: skip
    return Verdicts(
        class_ok, ir_exact, ir_contains, ir_subset, ir_any, precision, recall, bool(answer_em), bool(answer_em_lenient),
        token_f1(", ".join(strict) if strict else None, gold_items), token_f1(", ".join(lenient) if lenient else None, gold_items),
        official, authors,
    )  # fmt: skip


def prediction_row(record: QARecord, fields: LineFields, reading: Reading, found: Verdicts, choice: ScoringChoice) -> dict[str, Any]:
    """The line as a `predictions` row (without the lineage keys, which the caller owns)."""
    return {
        "example_id": record.example_id,
        "category": record.category,
        "prompt": fields.prompt or render_prompt(record),
        "output": fields.generation,
        "parsed_class": reading.category,
        "parsed_fact_ids": list(reading.fact_ids) if reading.fact_ids is not None else None,
        "parsed_answer": ", ".join(reading.answer_items) if reading.answer_items else None,
        "gold_class": record.category,
        "gold_fact_ids": list(record.gold_fact_ids),
        "gold_answers": list(record.answers),
        **found.chosen(choice),
    }
