"""Scoring beyond the answer rule: each decomposition step of a prediction, and the text overlap
measures (ROUGE-L, BLEU-1 of answers; corpus BLEU-4 of generated traces against gold).

A prediction's answer is scored by its dataset's rule (`datasets.answers`, named by the spec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from tracekd_ops.datasets.answers import official_normalize
from tracekd_ops.traces.render import ParsedTrace


def _tokens(text: str) -> list[str]:
    return official_normalize(text).split()


def rouge_l(predicted: str, references: Sequence[str], beta: float = 1.2) -> float:
    """ROUGE-L as MS MARCO's evaluation computes it (pycocoevalcap): LCS precision and recall,
    each the best over the references, combined with beta = 1.2."""
    candidate = _tokens(predicted)
    if not candidate or not references:
        return 0.0
    precisions, recalls = [], []
    for reference in references:
        ref = _tokens(reference)
        if not ref:
            continue
        table = [[0] * (len(candidate) + 1) for _ in range(len(ref) + 1)]
        for i, r in enumerate(ref, 1):
            for j, c in enumerate(candidate, 1):
                table[i][j] = table[i - 1][j - 1] + 1 if r == c else max(table[i - 1][j], table[i][j - 1])
        lcs = table[-1][-1]
        precisions.append(lcs / len(candidate))
        recalls.append(lcs / len(ref))
    precision, recall = max(precisions, default=0.0), max(recalls, default=0.0)
    if precision == 0 or recall == 0:
        return 0.0
    return ((1 + beta**2) * precision * recall) / (recall + beta**2 * precision)


def bleu_1(predicted: str, references: Sequence[str]) -> float:
    """BLEU-1 for one answer: clipped unigram precision times the brevity penalty against the
    reference closest in length (as in pycocoevalcap, which MS MARCO's evaluation uses)."""
    candidate = _tokens(predicted)
    refs = [_tokens(r) for r in references if _tokens(r)]
    if not candidate or not refs:
        return 0.0
    max_counts: dict[str, int] = {}
    for ref in refs:
        for word in set(ref):
            max_counts[word] = max(max_counts.get(word, 0), ref.count(word))
    clipped = sum(min(candidate.count(w), max_counts.get(w, 0)) for w in set(candidate))
    closest = min((abs(len(r) - len(candidate)), len(r)) for r in refs)[1]
    penalty = 1.0 if len(candidate) > closest else math.exp(1 - closest / len(candidate))
    return penalty * clipped / len(candidate)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], max_n: int = 4) -> float | None:
    """Corpus BLEU-4 (Papineni et al.): clipped n-gram precisions pooled over the corpus, their
    geometric mean, times the brevity penalty; one reference per hypothesis, whitespace tokens
    (traces are markup-free text by then). None for an empty corpus; 0 if an order has no match."""
    if not hypotheses:
        return None
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        hyp, ref = hypothesis.split(), reference.split()
        hyp_len, ref_len = hyp_len + len(hyp), ref_len + len(ref)
        for n in range(1, max_n + 1):
            hyp_grams = _ngrams(hyp, n)
            ref_grams = _ngrams(ref, n)
            matches[n - 1] += sum(min(count, ref_grams.get(gram, 0)) for gram, count in hyp_grams.items())
            totals[n - 1] += max(0, len(hyp) - n + 1)
    if not hyp_len or any(m == 0 for m in matches):
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return penalty * math.exp(log_precision)


def _ngrams(tokens: Sequence[str], n: int) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        counts[gram] = counts.get(gram, 0) + 1
    return counts


@dataclass(frozen=True)
class StepScores:
    """Per-step correctness; None where the completion has no trace to score."""

    class_correct: bool | None
    ir_exact: bool | None
    ir_precision: float | None
    ir_recall: float | None
    trace_correct: bool | None


def score_steps(parsed: ParsedTrace, gold_class: str, gold_fact_ids: Sequence[int], expects_trace: bool) -> StepScores:
    """Score the classification and IR steps against gold. A student trained to write traces
    that writes none (or garbles one) scores those steps as wrong, not as missing."""
    if not expects_trace:
        return StepScores(None, None, None, None, None)
    class_correct = parsed.category is not None and parsed.category == gold_class
    if parsed.fact_ids is None:
        return StepScores(class_correct, False, 0.0, 0.0, False)
    predicted, gold = set(parsed.fact_ids), set(gold_fact_ids)
    hits = len(predicted & gold)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else float(not predicted)
    ir_exact = predicted == gold
    return StepScores(class_correct, ir_exact, precision, recall, class_correct and ir_exact)


ANSWER_RULES = ("em", "official", "f1")
"""em: the dataset's exact-match rule (TraceKD's); official: the dataset's official metric (CoTempQA's
entity-set exact match, what the reference study reports as `acc`); f1: token F1 >= `F1_THRESHOLD`."""
FACT_RULES = ("exact", "contains", "subset", "any")
"""exact: the listed facts are the gold set; contains: every gold fact listed (extras allowed);
subset: at least one fact listed, and every listed fact gold (the fact-side twin of an answer rule
that takes any one of several gold answers); any: at least one gold fact listed."""
CUT_SHORT_RULES = ("wrong", "lenient")
"""wrong: a generation that did not close its answer has no answer; lenient: the answer is read
from whatever follows the trace (an unclosed <answer>, an `Answer:` line, else the last line)."""
F1_THRESHOLD = 0.5


@dataclass(frozen=True)
class ScoringChoice:
    """The scoring choices that move verdicts, as one setting with a named version (it joins the
    scorer version in every row's lineage). The defaults are TraceKD's own scorers: an answer is
    right by its dataset's exact-match rule, the IR step by the exact gold fact set, and an answer
    the generation never finished is no answer. Why these: each is the strict reading of what the
    student was trained to write, so a verdict never rests on guessing what it meant."""

    answer: str = "em"
    facts: str = "exact"
    cut_short: str = "wrong"

    def __post_init__(self) -> None:
        for name, value, known in (("answer", self.answer, ANSWER_RULES), ("facts", self.facts, FACT_RULES),
                                   ("cut_short", self.cut_short, CUT_SHORT_RULES)):  # fmt: skip
            if value not in known:
                raise ValueError(f"scoring {name} must be one of {', '.join(known)}; got {value!r}")

    @property
    def version(self) -> str:
        return f"answer={self.answer},facts={self.facts},cut_short={self.cut_short}"


def facts_verdict(predicted: Sequence[int], gold: Sequence[int], rule: str) -> bool:
    """The IR step under one fact rule (see `FACT_RULES`)."""
    listed, wanted = set(predicted), set(gold)
    if rule == "exact":
        return listed == wanted
    if rule == "contains":
        return bool(listed) and wanted <= listed
    if rule == "subset":
        return bool(listed) and listed <= wanted
    if rule == "any":
        return bool(listed & wanted) or (not wanted and not listed)
    raise ValueError(f"unknown fact rule {rule!r}; known: {', '.join(FACT_RULES)}")
