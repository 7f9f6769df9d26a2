"""Evaluation: score generated completions step by step, and aggregate a run's metrics.

One function per concept: `score_prediction` for a row, `run_metrics` for a run, `step_tables`
for its three step x answer tables, and the two baselines (`chance_accuracy`,
`majority_accuracy`) the report sets the students against.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.evaluate.scoring import corpus_bleu, score_steps
from tracekd_ops.evaluate.stats import TwoByTwo, bootstrap_ci, f1, mean_accuracy, phi_of_pairs
from tracekd_ops.traces.conditions import condition as condition_record
from tracekd_ops.traces.render import extract_answer, parse_completion, split_reasoning


def score_prediction(spec: DatasetSpec, writes_steps: bool, record: QARecord, output: str) -> dict[str, Any]:
    """One scored prediction row (without lineage keys, which the caller owns). The steps are
    scored where the condition's completions state them (`writes_steps`, resolved once by the caller)."""
    parsed = parse_completion(output)
    steps = score_steps(parsed, record.category, record.gold_fact_ids, expects_trace=writes_steps)
    return {
        "example_id": record.example_id,
        "category": record.category,
        "output": output,
        "parsed_class": parsed.category,
        "parsed_fact_ids": list(parsed.fact_ids) if parsed.fact_ids is not None else None,
        "parsed_answer": parsed.answer,
        "gold_class": record.category,
        "gold_fact_ids": list(record.gold_fact_ids),
        "gold_answers": list(record.answers),
        "class_correct": steps.class_correct,
        "ir_exact": steps.ir_exact,
        "ir_precision": steps.ir_precision,
        "ir_recall": steps.ir_recall,
        "trace_correct": steps.trace_correct,
        "answer_correct": spec.answer_correct(parsed.answer, record.answers, record.category),
    }


EVAL_SPLIT = "test"
"""The split every student is evaluated on."""
METRICS_VERSION = "2"
"""Bump when what a run's metrics are, or how they are computed, changes."""
BASELINE_CONDITION = "untuned_base"
"""The `condition` of an untuned base model's rows: the baseline every trace condition is set against."""
BASELINE_INSTRUCTION = "Answer the question using the facts. Give only the answer, inside <answer></answer>.\n\n"
"""Told to the untuned base model, which has not learned the students' output format."""


def condition_writes_steps(condition: str) -> bool:
    """Whether completions of the condition named state the steps, for a caller holding only a
    name that may be the untuned baseline's, which is no trace condition and states none."""
    return condition != BASELINE_CONDITION and condition_record(condition).writes_steps


def score_baseline(spec: DatasetSpec, record: QARecord, output: str) -> dict[str, Any]:
    """A scored row for an untuned base model's output: its answer is read from <answer></answer>
    or, failing that, its last line (a base model follows the format loosely); no steps scored."""
    row = score_prediction(spec, False, record, output)
    answer = extract_answer(split_reasoning(output, None)[1])
    row["parsed_answer"] = answer
    row["answer_correct"] = spec.answer_correct(answer, record.answers, record.category)
    return row


def _mean(values: Sequence[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def chance_accuracy(train: Sequence[QARecord], test: Sequence[QARecord]) -> float:
    """Expected accuracy of a uniform guess among the answers seen in training for the category."""
    candidates: dict[str, set[str]] = defaultdict(set)
    for record in train:
        candidates[record.category].add(record.answers[0])
    return sum(1 / max(1, len(candidates[r.category])) for r in test) / len(test)


def majority_accuracy(spec: DatasetSpec, train: Sequence[QARecord], test: Sequence[QARecord]) -> float:
    """Accuracy of always giving the most frequent training answer of the question's category."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for record in train:
        counts[record.category][record.answers[0]] += 1
    hits = 0
    for record in test:
        if counts[record.category]:
            guess = counts[record.category].most_common(1)[0][0]
            hits += spec.answer_correct(guess, record.answers, record.category)
    return hits / len(test)


def category_baselines(spec: DatasetSpec, train: Sequence[QARecord], test: Sequence[QARecord]) -> list[dict[str, Any]]:
    """Chance and majority accuracy of each category's test questions (the same two baselines,
    per category: a task with two possible answers has a chance of 0.5, not the pooled one)."""
    by_category: dict[str, list[QARecord]] = defaultdict(list)
    for record in test:
        by_category[record.category].append(record)
    return [
        {"category": category, "n": len(records), "chance_accuracy": chance_accuracy(train, records),
         "majority_accuracy": majority_accuracy(spec, train, records)}  # fmt: skip
        for category, records in sorted(by_category.items())
    ]


STEP_COLUMNS = {"class": "class_correct", "ir": "ir_exact", "trace": "trace_correct"}
"""The three 2x2 tables of a run: answer correctness against each step's (and the whole trace's)."""


def step_tables(predictions: Sequence[dict[str, Any]]) -> dict[str, TwoByTwo]:
    """Step x answer tables, for the steps this run's completions state (none for solution-only)."""
    tables = {}
    for step, column in STEP_COLUMNS.items():
        scored = [(bool(p[column]), bool(p["answer_correct"])) for p in predictions if p[column] is not None]
        if scored:
            tables[step] = TwoByTwo.from_pairs([s for s, _ in scored], [a for _, a in scored])
    return tables


def run_metrics(
    predictions: Sequence[dict[str, Any]], gold_traces: Sequence[str] | None = None, n_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Accuracies (with bootstrap 95% intervals), IR precision/recall/F1, BLEU and length of the
    generated traces against `gold_traces` (the gold steps written in the training style, one
    per prediction), and the trace x answer table with its statistics, for one evaluated run."""
    if not predictions:
        raise ValueError("no predictions to aggregate")
    answers = [bool(p["answer_correct"]) for p in predictions]
    traced = [bool(p["trace_correct"]) for p in predictions if p["trace_correct"] is not None]
    pairs = [(bool(p["trace_correct"]), bool(p["answer_correct"])) for p in predictions if p["trace_correct"] is not None]
    thinks = [parse_completion(p["output"]).think for p in predictions]
    answer_ci = bootstrap_ci(answers, mean_accuracy, n_resamples, seed=seed)
    trace_ci = bootstrap_ci(traced, mean_accuracy, n_resamples, seed=seed) if traced else None
    phi_ci = bootstrap_ci(pairs, phi_of_pairs, n_resamples, seed=seed) if pairs else None
    written = [t for t in thinks if t is not None]
    bleu = None
    if gold_traces is not None and written:
        bleu = corpus_bleu([t or "" for t in thinks], list(gold_traces))
    metrics: dict[str, Any] = {
        "n": len(predictions),
        "answer_accuracy": sum(answers) / len(answers),
        "answer_accuracy_ci_low": answer_ci[0] if answer_ci else None,
        "answer_accuracy_ci_high": answer_ci[1] if answer_ci else None,
        "class_accuracy": _mean([p["class_correct"] for p in predictions]),
        "ir_exact_accuracy": _mean([p["ir_exact"] for p in predictions]),
        "ir_precision": _mean([p["ir_precision"] for p in predictions]),
        "ir_recall": _mean([p["ir_recall"] for p in predictions]),
        "ir_f1": _mean([f1(p["ir_precision"], p["ir_recall"]) for p in predictions]),
        "trace_accuracy": _mean([p["trace_correct"] for p in predictions]),
        "trace_accuracy_ci_low": trace_ci[0] if trace_ci else None,
        "trace_accuracy_ci_high": trace_ci[1] if trace_ci else None,
        "trace_bleu": bleu,
        "mean_trace_words": sum(len(t.split()) for t in written) / len(written) if written else None,
    }
    table = step_tables(predictions).get("trace")
    summary = table.summary() if table else {}
    metrics.update(
        n_trace_ok_answer_ok=summary.get("n_step_ok_answer_ok"),
        n_trace_ok_answer_wrong=summary.get("n_step_ok_answer_wrong"),
        n_trace_wrong_answer_ok=summary.get("n_step_wrong_answer_ok"),
        n_trace_wrong_answer_wrong=summary.get("n_step_wrong_answer_wrong"),
        chi2=summary.get("chi2"),
        chi2_p=summary.get("chi2_p"),
        fisher_p=summary.get("fisher_p"),
        phi=summary.get("phi"),
        phi_ci_low=phi_ci[0] if phi_ci else None,
        phi_ci_high=phi_ci[1] if phi_ci else None,
        p_answer_given_trace_correct=summary.get("p_answer_given_step_correct"),
        p_answer_given_trace_wrong=summary.get("p_answer_given_step_wrong"),
        share_both_correct=summary.get("share_both_correct"),
    )
    return metrics
