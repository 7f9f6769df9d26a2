"""Asking the teacher about a dataset: every training question, then (for the answers it got
right) a summary of its reasoning and a post-hoc explanation, concurrently, through the cache;
and reading back, from the cache alone, the teacher's text for each teacher condition.
"""

from __future__ import annotations

import hashlib
import random
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from tracekd_ops.core.records import QARecord
from tracekd_ops.datasets import DatasetSpec
from tracekd_ops.teacher.cache import TeacherCache
from tracekd_ops.teacher.client import TeacherClient, failure_kind
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.teacher.requests import (
    TeacherReply,
    TeacherRequest,
    answer_request,
    follow_up_model,
    posthoc_request,
    summary_request,
)
from tracekd_ops.traces.conditions import ANSWER, EXPLANATION, SUMMARY, TeacherText
from tracekd_ops.traces.render import extract_answer, split_reasoning

Log = Callable[[str], None]


@dataclass
class AskStats:
    """What one round of asking did: requests wanted, answered from the cache, sent, and outcomes."""

    wanted: int = 0
    from_cache: int = 0
    sent: int = 0
    ok: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def ask_all(
    client: TeacherClient,
    cache: TeacherCache,
    requests: Sequence[TeacherRequest],
    log: Log = print,
    progress_every_s: float = 15.0,
) -> AskStats:
    """Answer every request, from the cache where it holds a successful reply, else from the
    teacher (up to `max_concurrency` at once per endpoint). Replies are written to the cache at least every
    `flush_every_s`, and whatever finished is written even when the run is interrupted."""
    flush_every_s = client.config.flush_every_s
    cache.link(requests)
    unique = list({r.key: r for r in requests}.values())
    cached = cache.get(r.key for r in unique)
    todo = [r for r in unique if not (r.key in cached and cached[r.key].ok)]
    stats = AskStats(wanted=len(unique), from_cache=len(unique) - len(todo), sent=len(todo))
    if not todo:
        return stats
    log(f"teacher: {stats.from_cache} of {stats.wanted} {todo[0].purpose} requests cached; asking {len(todo)}")
    pending: list[tuple[TeacherRequest, TeacherReply]] = []
    started = last_flush = last_progress = time.monotonic()
    done = 0
    pool = ThreadPoolExecutor(max_workers=max(1, client.capacity), thread_name_prefix="teacher")
    futures: dict[Future[TeacherReply], TeacherRequest] = {}
    try:
        futures = {pool.submit(client.complete, r): r for r in todo}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, timeout=max(flush_every_s, 0.05), return_when=FIRST_COMPLETED)
            for future in finished:
                reply = future.result()
                pending.append((futures[future], reply))
                done += 1
                if reply.ok:
                    stats.ok += 1
                else:
                    stats.failed += 1
                    stats.errors[failure_kind(reply.error)] = stats.errors.get(failure_kind(reply.error), 0) + 1
            now = time.monotonic()
            if pending and (now - last_flush >= flush_every_s or not remaining):
                cache.put(pending, client.config.base_url)
                pending, last_flush = [], now
            if now - last_progress >= progress_every_s:
                rate = done / (now - started)
                log(f"teacher: {done}/{len(todo)} {todo[0].purpose} replies ({stats.failed} failed), {rate:.2f} req/s")
                last_progress = now
    finally:
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        cache.put(pending, client.config.base_url)  # keep what finished, even on the way out
    log(f"teacher: {stats.ok} {todo[0].purpose} replies received, {stats.failed} failed ({stats.errors or 'none'})")
    return stats


@dataclass(frozen=True)
class TeacherQuestions:
    """Which training questions the teacher is asked, and the worked example it is shown first."""

    asked: list[QARecord]
    example: QARecord | None


def teacher_questions(train: Sequence[QARecord], config: TeacherConfig) -> TeacherQuestions:
    """One place decides, so asking and reading back build the same requests (the same cache keys).
    The worked example, when wanted, is the training question with the most supporting facts (it
    shows how facts combine; ties broken by a hash of the id) and is never asked itself; then at
    most `max_questions` of the rest, a sample seeded by the dataset's name, whatever the records' order."""
    example = None
    if config.worked_example:
        solved = [r for r in train if r.gold_fact_ids]
        if solved:
            example = min(solved, key=lambda r: (-len(r.gold_fact_ids), hashlib.sha256(r.example_id.encode()).hexdigest()))
    asked = sorted((r for r in train if example is None or r.example_id != example.example_id), key=lambda r: r.example_id)
    if config.max_questions is not None and config.max_questions < len(asked):
        dataset = asked[0].dataset
        asked = sorted(random.Random(f"teacher/{dataset}").sample(asked, config.max_questions), key=lambda r: r.example_id)
    return TeacherQuestions(asked, example)


@dataclass
class TeacherRound:
    """The outcome of asking the teacher about a dataset's training questions."""

    questions: int
    answers: AskStats
    answers_correct: int
    summaries: AskStats | None = None
    explanations: AskStats | None = None

    @property
    def kept_rate(self) -> float:
        return self.answers_correct / self.questions if self.questions else 0.0

    def as_dict(self) -> dict[str, Any]:
        def stats(s: AskStats | None) -> dict[str, Any] | None:
            return None if s is None else s.__dict__

        return {
            "questions": self.questions,
            "answers_correct": self.answers_correct,
            "kept_rate": round(self.kept_rate, 4),
            "answers": stats(self.answers),
            "summaries": stats(self.summaries),
            "explanations": stats(self.explanations),
        }


def reasoning_trace(reply: TeacherReply) -> str:
    """The teacher's trace: its reasoning, or (for a model that does not separate reasoning) the
    final text before the answer tag."""
    reasoning, final = split_reasoning(reply.content, reply.reasoning)
    return reasoning or final.split("<answer>")[0].strip()


@dataclass(frozen=True)
class ScoredAnswer:
    """A question's answer request, its cached reply (None: never asked) and whether the reply's
    answer is right by the dataset's rule."""

    request: TeacherRequest
    reply: TeacherReply | None
    correct: bool


def _scored_answers(spec: DatasetSpec, records: Sequence[QARecord], config: TeacherConfig, cache: TeacherCache,
                    example: QARecord | None) -> dict[str, ScoredAnswer]:  # fmt: skip
    """Per example id, its answer request, cached reply and score by the dataset's rule: one read of the cache."""
    requests = {r.example_id: answer_request(config, r, example) for r in records}
    replies = cache.get(q.key for q in requests.values())
    scored = {}
    for record in records:
        request = requests[record.example_id]
        reply = replies.get(request.key)
        correct = False
        if reply is not None and reply.ok:
            _, final = split_reasoning(reply.content, reply.reasoning)
            correct = spec.answer_correct(extract_answer(final), record.answers, record.category)
        scored[record.example_id] = ScoredAnswer(request, reply, correct)
    return scored


def collect(
    spec: DatasetSpec,
    records: Sequence[QARecord],
    client: TeacherClient,
    cache: TeacherCache,
    purposes: Iterable[str] = (ANSWER, SUMMARY, EXPLANATION),
    log: Log = print,
    example: QARecord | None = None,
) -> TeacherRound:
    """Ask the teacher every question (after the worked `example`, if any), then (for the answers
    it got right) for a summary of its reasoning and a post-hoc explanation, as `purposes` asks.
    Cached replies are not asked again."""
    config, purposes = client.config, set(purposes)
    answers = ask_all(client, cache, [answer_request(config, r, example) for r in records], log)
    scored = _scored_answers(spec, records, config, cache, example)
    right = [scored[r.example_id] for r in records if scored[r.example_id].correct]
    log(f"teacher: {len(right)} of {len(records)} answers scored correct ({len(right) / max(1, len(records)):.1%} kept)")
    outcome = TeacherRound(questions=len(records), answers=answers, answers_correct=len(right))
    if SUMMARY in purposes:
        traces = [(a.request, reasoning_trace(a.reply)) for a in right if a.reply is not None]
        outcome.summaries = ask_all(client, cache, [summary_request(config, request, t) for request, t in traces if t], log)
    if EXPLANATION in purposes:
        requests = [posthoc_request(config, a.request, a.reply) for a in right if a.reply is not None]
        outcome.explanations = ask_all(client, cache, requests, log)
    return outcome


def teacher_texts(spec: DatasetSpec, purpose: str, records: Sequence[QARecord], config: TeacherConfig, cache: TeacherCache) -> dict[str, TeacherText]:  # fmt: skip
    """The teacher's text per example id for a teacher condition's `purpose` (answer, summary,
    post-hoc explanation), from the cache alone (no request is sent): what
    `conditions.build_trace_set` turns into traces. The answers are read by their keys, their
    follow-ups by the answers' keys, then both are scored. Questions the teacher was not asked (the
    sample's remainder, the worked example) have no text."""
    example = teacher_questions(records, config).example
    scored = _scored_answers(spec, records, config, cache, example)
    follow_model = follow_up_model(config, purpose)
    follow_ups = {} if purpose == ANSWER else cache.follow_ups((a.request.key for a in scored.values() if a.correct), purpose, follow_model)
    texts: dict[str, TeacherText] = {}
    for record in records:
        request, reply, correct = (answer := scored[record.example_id]).request, answer.reply, answer.correct
        if reply is None:
            continue  # never asked: build_trace_set counts it as such
        origin: dict[str, Any] = {"teacher_model": request.model, "answer_request": request.key[:16]}
        if not reply.ok:
            texts[record.example_id] = TeacherText(None, None, False, origin, f"teacher request failed ({failure_kind(reply.error)})")
            continue
        _, final = split_reasoning(reply.content, reply.reasoning)
        answer_text = extract_answer(final)
        if purpose == ANSWER or not correct:
            texts[record.example_id] = TeacherText(reasoning_trace(reply), answer_text, correct, origin)
            continue
        found = follow_ups.get(request.key)
        if purpose == SUMMARY and not reasoning_trace(reply):
            texts[record.example_id] = TeacherText(None, answer_text, correct, origin, "the teacher wrote no reasoning to summarise")
        elif found is None:
            texts[record.example_id] = TeacherText(None, answer_text, correct, origin, f"the teacher has not been asked for the {purpose} yet (materialize teacher_responses)")
        elif not found.ok:
            texts[record.example_id] = TeacherText(None, answer_text, correct, origin, f"teacher {purpose} request failed ({failure_kind(found.error)})")
        else:
            text = split_reasoning(found.content, found.reasoning)[1]
            origin = {**origin, f"{purpose}_model": follow_model, f"{purpose}_request": found.request_hash[:16]}
            texts[record.example_id] = TeacherText(text, answer_text, correct, origin)
    return texts
