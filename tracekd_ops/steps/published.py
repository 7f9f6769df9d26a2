"""Step `published_students`: another study's published generations as students of TraceKD.

Every file of a published folder is read line by line; every line is joined to a canonical record
built from the line itself (checked against the dataset when it is loaded), its generation read
in its format and scored with TraceKD's scorers under every scoring choice; the rows go to the
same `predictions`, `metrics` and `contingency` tables as TraceKD's own students, with each
student's files (`external_files`), every line with its verdicts or the reason it was left out
(`external_lines`) and a registry row (status `external`: no weights).

Everything is computed and checked first; then every student's rows replace its stored ones in
one transaction, so a re-import of the same files stores the same rows, a changed file replaces
its student's rows, and a refused import changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from tracekd_ops.core.lineage import EXTERNAL_TRACE_SET, Lineage
from tracekd_ops.core.metadata import Markdown
from tracekd_ops.core.records import QARecord, fold_whitespace
from tracekd_ops.core.secrets import redact, url_secrets
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.datasets.cotempqa_official import official_score, summary as official_summary
from tracekd_ops.datasets.tables import read_records
from tracekd_ops.evaluate.metrics import EVAL_SPLIT, condition_writes_steps
from tracekd_ops.evaluate.scoring import ScoringChoice
from tracekd_ops.published import trace_check_qa
from tracekd_ops.published.fields import LineFields, LineRefused, text_field, text_list
from tracekd_ops.published.lines import SUFFIXES, read_lines
from tracekd_ops.published.rescore import TRACEKD_FORMAT, prediction_row, read_generation, record_of, verdicts
from tracekd_ops.published.settings import AUTO, SIMPLE, PublishedConfig, PublishedSource
from tracekd_ops.published.tables import LEFT_OUT_LINES, latest_import
from tracekd_ops.registry.index import RegistryIndex
from tracekd_ops.report.published import reading_lines
from tracekd_ops.report.sql_models import read_model
from tracekd_ops.store.store import Store
from tracekd_ops.steps.evaluate import reference_accuracies, run_result
from tracekd_ops.steps.outcome import Level, StepOutcome
from tracekd_ops.traces.render import SENTENCES, render_steps

Log = Callable[[str], None]
EXTERNAL_BACKEND = EXTERNAL_STATUS = "external"
"""The registry backend and status of a published student: no weights, nothing to evaluate again."""
SCORED, LEFT_OUT = "scored", "left out"
LISTED_LEFT_OUT = 20
"""How many left-out lines the outcome lists by name (all are stored in `external_lines`)."""


@dataclass(frozen=True)
class OutputFile:
    """One file of a student's published outputs, whichever the layout."""

    path: Path
    relative: str
    base_model: str
    condition: str
    category: str | None
    condition_name: str
    reported: dict[str, float] | None = None


@dataclass
class StudentImport:
    """One published student, computed and not yet stored."""

    lineage: Lineage
    files: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    gold_traces: list[str] = field(default_factory=list)
    records: list[QARecord] = field(default_factory=list)
    condition_names: set[str] = field(default_factory=set)

    def tables(self, baselines: dict[str, float | None], registry_row: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
        keys = self.lineage.run_keys()
        metrics, contingency = run_result(self.predictions, self.gold_traces, baselines)
        return [
            ("predictions", keys, self.predictions),
            ("metrics", keys, [metrics]),
            ("contingency", keys, contingency),
            ("external_files", keys, self.files),
            ("external_lines", keys, self.lines),
            ("registry", {"model_name": self.lineage.model_name}, [{**registry_row, "metrics": _metric_json(metrics)}]),
        ]


@dataclass
class PublishedOutcome:
    """What an import did, for the log, the CLI and the Dagster metadata."""

    dataset: str
    source: str
    layout: str
    scorer_version: str
    students: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """`file line N: reason` for the first `LISTED_LEFT_OUT` left-out lines."""

    def metadata(self) -> dict[str, Any]:
        header = "| student | base model | condition | files | lines | scored | left out | cut short | answer acc | trace acc |\n|---|---|---|---|---|---|---|---|---|---|\n"
        body = "".join(
            f"| {s['student']} | {s['base_model']} | {s['condition']} | {s['files']} | {s['lines']} | {s['scored']} | {s['left_out']} | "
            f"{s['cut_short']} | {s['answer_accuracy']:.3f} | {'–' if s['trace_accuracy'] is None else format(s['trace_accuracy'], '.3f')} |\n"
            for s in self.students
        )  # fmt: skip
        return {
            "dataset": self.dataset,
            "source": self.source,
            "layout": self.layout,
            "scorer_version": self.scorer_version,
            "students": len(self.students),
            "lines": sum(s["lines"] for s in self.students),
            "left_out": sum(s["left_out"] for s in self.students),
            "cut_short": sum(s["cut_short"] for s in self.students),
            "model_revisions": ",".join(s["model_revision"] for s in self.students),
            "imported": Markdown(header + body),
            "left_out_lines": Markdown("\n".join(f"- {line}" for line in self.left_out) or "none"),
        }


def import_published(store: Store, spec: DatasetSpec, published: PublishedConfig, log: Log) -> StepOutcome:
    """Import every configured folder of the dataset's published outputs (`import_source`); skipped
    when none is configured."""
    sources = [s for s in published.sources if s.dataset == spec.name]
    if not sources:
        return StepOutcome(skipped=f"no published outputs of {spec.name} configured (experiment.published.sources in the launchpad, or TRACEKD_PUBLISHED_PATHS)")  # fmt: skip
    outcomes = [import_source(store, spec, source, published.choice(), log) for source in sources]
    metadata = outcomes[0].metadata() if len(outcomes) == 1 else {"sources": [o.metadata() for o in outcomes]}
    left_out: tuple[tuple[Level, str], ...] = tuple(("warning", f"left out: {line}") for outcome in outcomes for line in outcome.left_out)
    return StepOutcome(metadata=metadata, tables=("external_files", "external_lines", "registry", "predictions", "metrics", "contingency"),
                       messages=left_out)  # fmt: skip


def import_source(store: Store, spec: DatasetSpec, source: PublishedSource, choice: ScoringChoice, log: Log) -> PublishedOutcome:
    """Import one published folder of `spec`'s outputs (see the module docstring), with what it
    did in detail; a `ValueError` names what is wrong (a missing folder, an unknown condition name,
    a file with no scorable line) and stores nothing."""
    if source.dataset != spec.name:
        raise ValueError(f"published outputs of {source.dataset} imported as {spec.name}'s")
    folder = Path(source.path).expanduser().resolve()
    if not folder.exists():
        raise FileNotFoundError(f"published outputs: no file or folder at {folder}")
    layout = _layout(folder, source)
    files = _files(folder, layout, source, spec)
    name = source_name(folder, source.source)
    fmt = trace_check_qa.LAYOUT if layout == trace_check_qa.LAYOUT else source.generation_format
    scorer = f"{spec.scorer_version}+{_format_version(fmt)}+{choice.version}"
    outcome = PublishedOutcome(source.dataset, name, layout, scorer)
    known = _dataset_index(store, source.dataset)
    log(f"{len(files)} file(s) of published outputs in {folder} ({layout} layout); "
        + (f"joined against the {len(known)} stored {source.dataset} questions" if known else f"{source.dataset} is not loaded: questions are not checked against it"))  # fmt: skip
    students: dict[tuple[str, str], list[OutputFile]] = {}
    for output in files:
        students.setdefault((output.base_model, output.condition), []).append(output)
    imports = []
    for (base_model, condition), outputs in sorted(students.items()):
        imports.append(_student(folder, spec, source, fmt, scorer, name, base_model, condition, outputs, known, choice, outcome, log))
    names = [s.lineage.model_name for s in imports]
    trained = RegistryIndex(store).names_taken(names, except_backend=EXTERNAL_BACKEND)
    if trained:
        raise ValueError(f"student name {source.student!r} is taken by a student TraceKD trained ({trained[0]}): "
                         "import the published outputs under another name (student setting, --student)")  # fmt: skip
    changes = []
    for student in imports:
        changes += student.tables(reference_accuracies(store, spec, student.records), _registry_row(student, name, folder, layout))
    store.replace_partitions(changes)
    log(f"stored {len(imports)} published student(s) from {name}: {sum(len(s.predictions) for s in imports)} scored lines, "
        f"{sum(s['left_out'] for s in outcome.students)} left out, {sum(s['cut_short'] for s in outcome.students)} cut short")  # fmt: skip
    return outcome


def _layout(folder: Path, source: PublishedSource) -> str:
    if source.layout != AUTO:
        return source.layout
    return trace_check_qa.LAYOUT if folder.is_dir() and trace_check_qa.looks_like(folder) else SIMPLE


def _format_version(fmt: str) -> str:
    return trace_check_qa.FORMAT_VERSION if fmt == trace_check_qa.LAYOUT else f"{TRACEKD_FORMAT}-parse"


def _files(folder: Path, layout: str, source: PublishedSource, spec: DatasetSpec) -> list[OutputFile]:
    if layout == trace_check_qa.LAYOUT:
        if source.dataset != "cotempqa":
            raise ValueError(f"the {trace_check_qa.LAYOUT} layout holds CoTempQA outputs; dataset is set to {source.dataset!r}")
        found = trace_check_qa.discover(folder, spec.labels, dict(source.condition_names))
        return [OutputFile(f.path, f.relative, f.base_model, f.condition, f.category, f.condition_name, f.reported) for f in found]
    if not (source.condition and source.base_model):
        raise ValueError(f"{folder}: outputs in the simple layout need the condition and the base_model of their student")
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not paths:
        raise ValueError(f"{folder}: no published output files ({', '.join(SUFFIXES)})")
    root = folder.parent if folder.is_file() else folder
    return [OutputFile(p, str(p.relative_to(root)), source.base_model, source.condition, source.category, source.condition) for p in paths]


def source_name(folder: Path, given: str | None) -> str:
    """Where the outputs come from, for lineage: as given (credentials in a URL removed), else the
    folder's git repository and commit, else the folder."""
    if given:
        return redact(given, *url_secrets(given))
    try:
        found = subprocess.run(["git", "-C", str(folder if folder.is_dir() else folder.parent), "rev-parse", "--show-toplevel", "HEAD"],
                               capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return str(folder)
    lines = found.stdout.split()
    return f"git:{lines[0]}@{lines[1][:12]}" if found.returncode == 0 and len(lines) == 2 else str(folder)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _key(category: str, question: str, facts: Sequence[str]) -> tuple[str, str, tuple[str, ...]]:
    return category, fold_whitespace(question), tuple(fold_whitespace(f) for f in facts)


def _dataset_index(store: Store, dataset: str) -> dict[tuple[str, str, tuple[str, ...]], QARecord]:
    """The stored questions of the dataset (every split), by category, question and facts."""
    return {_key(r.category, r.question, [f.text for f in r.facts]): r for r in read_records(store, dataset)}


def dataset_check(record: QARecord, known: dict[tuple[str, str, tuple[str, ...]], QARecord]) -> tuple[str, str]:
    """(example id, what the check found): the stored question's id when the line is one of the
    loaded dataset's questions; whether its answers and gold facts agree with the dataset's."""
    if not known:
        return record.example_id, "dataset not loaded"
    stored = known.get(_key(record.category, record.question, [f.text for f in record.facts]))
    if stored is None:
        return record.example_id, "not in the loaded dataset"
    differs = [name for name, a, b in (("answers", record.answers, stored.answers), ("gold facts", record.gold_fact_ids, stored.gold_fact_ids)) if a != b]
    return stored.example_id, (f"{' and '.join(differs)} differ from the dataset's" if differs else f"matched ({stored.split} split)")


def _line_fields(values: dict[str, Any], output: OutputFile, layout: str) -> LineFields:
    if layout == trace_check_qa.LAYOUT:
        return trace_check_qa.line_fields(values, output.category or "")
    category = text_field(values, "category", required=False) or output.category
    if not category:
        raise LineRefused("field category: missing (give it in the line or as the category setting)")
    ids = values.get("gold_fact_ids")
    if ids is not None and (not isinstance(ids, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):
        raise LineRefused(f"field gold_fact_ids: expected a list of integers, got {type(ids).__name__}")
    return LineFields(
        question=text_field(values, "question") or "", facts=text_list(values.get("facts"), "facts"),
        answers=text_list(values.get("answers"), "answers"), generation=text_field(values, "generation") or "",
        category=category, triple_element=text_field(values, "triple_element", required=False),
        gold_fact_ids=tuple(ids) if ids is not None else None, example_id=text_field(values, "example_id", required=False),
    )  # fmt: skip


def _gold_trace(fmt: str, record: QARecord) -> str:
    """The gold steps as the student was taught to write them (what its traces' BLEU is against)."""
    if fmt == trace_check_qa.LAYOUT:
        return trace_check_qa.gold_trace(record.category, [record.fact(i).text for i in record.gold_fact_ids])
    return render_steps(record.category, record.gold_fact_ids, SENTENCES)


def _student(folder: Path, spec: DatasetSpec, source: PublishedSource, fmt: str, scorer: str, name: str, base_model: str,
             condition: str, outputs: list[OutputFile], known: dict[Any, QARecord], choice: ScoringChoice,
             outcome: PublishedOutcome, log: Log) -> StudentImport:  # fmt: skip
    hashes = {o.relative: file_hash(o.path) for o in outputs}
    revision = "ext-" + hashlib.sha256(json.dumps([sorted(hashes.items()), scorer], sort_keys=True).encode()).hexdigest()[:16]
    lineage = Lineage(source.dataset, condition, source.student, base_model, source.seed, EXTERNAL_TRACE_SET).evaluated(
        revision, EVAL_SPLIT, scorer, name, hashlib.sha256("".join(sorted(hashes.values())).encode()).hexdigest()
    )
    student = StudentImport(lineage)
    steps_stated = condition_writes_steps(condition)  # one condition per student, resolved once for all its lines
    keys, now = lineage.row(), datetime.now(timezone.utc).replace(tzinfo=None)
    seen: dict[str, str] = {}
    for output in outputs:
        student.condition_names.add(output.condition_name)
        rows = trace_check_qa.gold_rows(folder, condition, output.category or "") if outcome.layout == trace_check_qa.LAYOUT else None
        counts: Counter[str] = Counter()
        official = []
        for line in read_lines(output.path):
            where = f"{output.relative} line {line.number}"
            base = {**keys, "file": output.relative, "line": line.number, "raw": line.raw}
            try:
                if line.values is None:
                    raise LineRefused(line.problem or "unreadable")
                fields = _line_fields(line.values, output, outcome.layout)
                record = record_of(fields, spec, where)
            except LineRefused as refused:
                reason = str(refused).removeprefix(f"line {line.number} ")
                student.lines.append({**base, "status": LEFT_OUT, "reason": reason})
                counts["left out"] += 1
                if len(outcome.left_out) < LISTED_LEFT_OUT:
                    outcome.left_out.append(f"{where}: {reason}")
                continue
            if record.dataset == "cotempqa" and fields.triple_element is not None:  # the study's acc counts every line, repeats too
                official.append(official_score(fields.generation, list(fields.answers), list(fields.facts), fields.question, fields.triple_element))
            example_id, check = dataset_check(record, known)
            if example_id in seen:
                reason = f"the same question as {seen[example_id]}: counted once"
                student.lines.append({**base, "example_id": example_id, "category": record.category, "status": LEFT_OUT,
                                      "reason": reason, "dataset_check": check})  # fmt: skip
                counts["left out"] += 1
                if len(outcome.left_out) < LISTED_LEFT_OUT:
                    outcome.left_out.append(f"{where}: {reason}")
                continue
            seen[example_id] = where
            record = replace(record, example_id=example_id)
            reading = read_generation(fmt, fields.generation, record, condition)
            authors = (trace_check_qa.authors_verdict(fields.generation, record.category, fields.answers, fields.question, fields.facts, rows)
                       if outcome.layout == trace_check_qa.LAYOUT and condition in trace_check_qa.TRACE_CONDITIONS else None)  # fmt: skip
            found = verdicts(reading, record, fields, spec, steps_stated, authors)
            student.records.append(record)
            student.predictions.append({**keys, **prediction_row(record, fields, reading, found, choice)})
            student.gold_traces.append(_gold_trace(fmt, record))
            student.lines.append({
                **base, "raw": None, "example_id": example_id, "category": record.category, "status": SCORED, "dataset_check": check,
                "trace_state": reading.trace_state, "answer_state": reading.answer_state, "facts_form": reading.facts_form,
                "cut_short": reading.cut_short, "class_ok": found.class_ok, "ir_exact": found.ir_exact,
                "ir_contains": found.ir_contains, "ir_subset": found.ir_subset, "ir_any": found.ir_any, "answer_em": found.answer_em,
                "answer_em_lenient": found.answer_em_lenient, "answer_f1": found.answer_f1, "answer_f1_lenient": found.answer_f1_lenient,
                "answer_official": found.answer_official, "official_f1": found.official_f1,
                "authors_evaluated": authors.evaluated if authors else None, "authors_class_ok": authors.class_ok if authors else None,
                "authors_ir_ok": authors.ir_ok if authors else None, "authors_own_row": authors.own_row if authors else None,
            })  # fmt: skip
            counts["scored"] += 1
            counts["cut short"] += reading.cut_short
        lines = counts["scored"] + counts["left out"]
        if not counts["scored"]:
            raise ValueError(f"{output.path}: no line could be scored ({lines} lines" + (f"; first: {outcome.left_out[-1]})" if lines else ": the file is empty)"))
        student.files.append({
            **keys, "file": output.relative, "layout": outcome.layout, "category": output.category or "(per line)",
            "content_hash": hashes[output.relative], "source_name": name, "lines": lines, "scored": counts["scored"],
            "left_out": counts["left out"], "cut_short": counts["cut short"],
            "reported": json.dumps(output.reported, sort_keys=True) if output.reported else None,
            "recomputed_official": json.dumps(official_summary(official), sort_keys=True) if official else None, "imported_at": now,
        })  # fmt: skip
    scored = student.predictions
    traced = [p["trace_correct"] for p in scored if p["trace_correct"] is not None]
    outcome.students.append({
        "student": source.student, "base_model": base_model, "condition": condition, "model_revision": revision,
        "files": len(outputs), "lines": len(student.lines), "scored": len(scored), "left_out": len(student.lines) - len(scored),
        "cut_short": sum(bool(row.get("cut_short")) for row in student.lines),
        "answer_accuracy": sum(p["answer_correct"] for p in scored) / len(scored),
        "trace_accuracy": sum(traced) / len(traced) if traced else None,
    })  # fmt: skip
    s = outcome.students[-1]
    log(f"{lineage.model_name}: {s['scored']} of {s['lines']} lines scored ({s['left_out']} left out, {s['cut_short']} cut short), "
        f"answer accuracy {s['answer_accuracy']:.3f}")  # fmt: skip
    return student


def _registry_row(student: StudentImport, name: str, folder: Path, layout: str) -> dict[str, Any]:
    lineage, now = student.lineage, datetime.now(timezone.utc).replace(tzinfo=None)
    summary = {"layout": layout, "folder": str(folder), "files": {f["file"]: f["content_hash"] for f in student.files},
               "condition_names": sorted(student.condition_names)}  # fmt: skip
    return {
        **lineage.training_row(), "model_name": lineage.model_name, "revision": lineage.model_revision, "backend": EXTERNAL_BACKEND,
        "uri": name, "status": EXTERNAL_STATUS, "hyperparameters": "{}", "train_summary": json.dumps(summary, sort_keys=True),
        "created_at": now, "local_revision": lineage.model_revision, "config_fingerprint": None, "error": None,
        "registered_at": now, "content_digest": lineage.dataset_hash,
    }  # fmt: skip


def _metric_json(metrics: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in metrics.items() if isinstance(v, float)}, sort_keys=True)


SHOWN_LEFT_OUT = 20
"""Left-out lines named one by one after an import (the rest are counted, and in `external_lines`)."""


def import_summary(store: Store, reported: bool) -> list[str]:
    """What `tracekd published import` prints about the source it imported: each file's scored,
    left-out and cut-short lines, the reasons lines were left out (counted, then the first named),
    and, once the SQL models are built (`reported`), whether trace correctness predicts answer
    correctness for each published student."""
    files, left_out = latest_import(store)
    lines = [f"{row['base_model']:<34} {row['condition']:<14} {row['file']}: {row['scored']} of {row['lines']} lines scored, "
             f"{row['left_out']} left out, {row['cut_short']} cut short" for row in files]  # fmt: skip
    kinds = Counter("repeats a question read earlier in its student's files (counted once)" if r["reason"].startswith("the same question as")
                    else r["reason"] for r in left_out)  # fmt: skip
    lines += [f"left out:    {count} line(s): {reason}" for reason, count in kinds.most_common()]
    lines += [f"left out:    {row['file']} line {row['line']}: {row['reason']}" for row in left_out[:SHOWN_LEFT_OUT]]
    if len(left_out) > SHOWN_LEFT_OUT:
        lines.append(f"left out:    ... and {len(left_out) - SHOWN_LEFT_OUT} more (tracekd query \"{LEFT_OUT_LINES}\")")
    if reported:
        lines += ["", *(f"reading:     {line}" for line in reading_lines(read_model(store, "published_rescoring")))]
    return lines
