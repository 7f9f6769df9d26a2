"""The teacher: a model behind any OpenAI-compatible chat endpoint (vLLM, SGLang, Ollama,
`transformers serve`, the DeepSeek API), asked for answers, summaries and post-hoc explanations.

Every request is cached in DuckDB (`teacher_requests`) under a hash of (model, messages, sampling
parameters), and written as answers arrive, so re-materializing asks nothing already answered and
a killed run resumes where it stopped. Transient failures (timeouts, connection errors, 408/409/
429, 5xx, malformed bodies) are retried with exponential backoff; what still fails is stored as a
`failed` row (and asked again by the next run), never dropped. The API key is read from the
environment variable the config names and is scrubbed from every stored or logged error.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from tracekd_ops.conditions import POSTHOC, SUMMARY_MAX_WORDS, TEACHER, TEACHER_SUMMARY, TeacherText
from tracekd_ops.datasets import dataset_spec
from tracekd_ops.records import QARecord
from tracekd_ops.secrets import redact
from tracekd_ops.store import Store
from tracekd_ops.traces import render_prompt

Log = Callable[[str], None]

ANSWER, SUMMARY, EXPLANATION = "answer", "summary", "posthoc"
PURPOSE_OF_CONDITION = {TEACHER: ANSWER, TEACHER_SUMMARY: SUMMARY, POSTHOC: EXPLANATION}
PROMPT_VERSION = "1"
"""Part of every request (so of every cache key): bump when the teacher instructions change."""

ANSWER_INSTRUCTION = (
    "Answer the question using only the numbered facts below. Reason step by step, then give the "
    "final answer, as short as possible, inside <answer></answer>.\n\n"
)
SUMMARY_INSTRUCTION = (
    f"Summarise the following reasoning in under {SUMMARY_MAX_WORDS} words. Keep the facts and steps it "
    "relies on. Write only the summary.\n\nReasoning:\n"
)
POSTHOC_INSTRUCTION = (
    "Your answer {answer!r} is correct. Explain briefly why it is correct, naming the facts that "
    "support it. Write only the explanation."
)

_THINK_RE = re.compile(r"<think>(.*?)</think>", re.S)
_ANSWER_RE = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S)


@dataclass(frozen=True)
class TeacherConfig:
    """Where the teacher is and how it is asked. The key itself is never part of the config: only
    the name of the environment variable holding it."""

    base_url: str | None = None
    model: str | None = None
    summary_model: str | None = None
    api_key_env: str = "TRACEKD_TEACHER_API_KEY"
    max_concurrency: int = 4
    max_attempts: int = 4
    timeout_s: float = 120.0
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int | None = 0
    flush_every_s: float = 2.0
    """How often replies are written to the cache: a killed run loses at most this much work."""

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    def sampling(self) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.seed is not None:
            params["seed"] = self.seed
        return params

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None


@dataclass(frozen=True)
class TeacherRequest:
    purpose: str
    model: str
    messages: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> str:
        """The cache key: a hash of (model, messages, sampling parameters), nothing else."""
        body = json.dumps([self.model, self.messages, self.params, PROMPT_VERSION], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def payload(self) -> dict[str, Any]:
        return {"model": self.model, "messages": [{"role": r, "content": c} for r, c in self.messages], **dict(self.params)}


@dataclass(frozen=True)
class TeacherReply:
    request_hash: str
    status: str  # "ok" | "failed"
    content: str | None
    reasoning: str | None
    error: str | None
    attempts: int
    latency_s: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _request(purpose: str, model: str, messages: Sequence[tuple[str, str]], config: TeacherConfig) -> TeacherRequest:
    return TeacherRequest(purpose, model, tuple(messages), tuple(sorted(config.sampling().items())))


def answer_request(config: TeacherConfig, record: QARecord) -> TeacherRequest:
    return _request(ANSWER, str(config.model), [("user", ANSWER_INSTRUCTION + render_prompt(record))], config)


def summary_request(config: TeacherConfig, reasoning: str) -> TeacherRequest:
    model = config.summary_model or str(config.model)
    return _request(SUMMARY, model, [("user", SUMMARY_INSTRUCTION + reasoning)], config)


def posthoc_request(config: TeacherConfig, record: QARecord, answer_reply: TeacherReply) -> TeacherRequest:
    """The answer conversation, with the teacher's final answer (not its reasoning) as its turn,
    then the news that the answer is right and a request to explain it."""
    _, final = split_reasoning(answer_reply.content, answer_reply.reasoning)
    messages = [
        ("user", ANSWER_INSTRUCTION + render_prompt(record)),
        ("assistant", final),
        ("user", POSTHOC_INSTRUCTION.format(answer=extract_answer(final))),
    ]
    return _request(EXPLANATION, str(config.model), messages, config)


def split_reasoning(content: str | None, reasoning_content: str | None) -> tuple[str, str]:
    """(reasoning, final text) of a reply: DeepSeek-style `reasoning_content` when the server
    separates it, else a `<think>...</think>` block in the content, else no reasoning."""
    content = content or ""
    if reasoning_content and reasoning_content.strip():
        return reasoning_content.strip(), _THINK_RE.sub("", content).strip()
    think = _THINK_RE.search(content)
    if think:
        return think.group(1).strip(), (content[: think.start()] + content[think.end() :]).strip()
    if "</think>" in content:  # some chat templates open <think> in the prompt, so only the close is generated
        reasoning, _, final = content.partition("</think>")
        return reasoning.strip(), final.strip()
    return "", content.strip()


def extract_answer(final: str) -> str:
    """The teacher's final answer: inside <answer></answer>, else the last non-empty line."""
    tagged = _ANSWER_RE.search(final)
    if tagged:
        return tagged.group(1).strip()
    lines = [line.strip() for line in final.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return re.sub(r"^(final answer|answer)\s*[:：]\s*", "", last, flags=re.I).strip()


def reasoning_trace(reply: TeacherReply) -> str:
    """The teacher's trace: its reasoning, or (for a model that does not separate reasoning) the
    final text before the answer tag."""
    reasoning, final = split_reasoning(reply.content, reply.reasoning)
    return reasoning or final.split("<answer>")[0].strip()


def public_url(url: str | None) -> str | None:
    """The endpoint without user info or query string, safe to store and show."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _Transient(Exception):
    """A failure worth another try."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    """A failure another try cannot fix (bad request, unknown model, wrong key)."""


class TeacherClient:
    """Sends chat requests with retries; never raises for a failed request (returns a failed reply)."""

    def __init__(self, config: TeacherConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        import openai

        if not config.configured:
            raise ValueError("the teacher needs a base_url and a model")
        self.config = config
        self._secret = config.api_key()
        self._sleep = sleep
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=self._secret or "not-needed",  # local servers take any key; the client wants one
            max_retries=0,  # retries are ours, so every fault type is retried and counted alike
            timeout=config.timeout_s,
        )

    def close(self) -> None:
        self._client.close()

    def complete(self, request: TeacherRequest) -> TeacherReply:
        started = time.monotonic()
        error = "not attempted"
        attempt = 0
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return self._once(request, attempt, started)
            except _Transient as fault:
                error = redact(str(fault), self._secret)
                if attempt < self.config.max_attempts:
                    self._sleep(self._backoff(attempt, fault.retry_after))
            except _Permanent as fault:
                error = redact(str(fault), self._secret)
                break
        return TeacherReply(request.key, "failed", None, None, error, attempt, time.monotonic() - started)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.config.backoff_max_s)
        delay = self.config.backoff_s * 2 ** (attempt - 1)
        return min(delay * (0.5 + random.random() / 2), self.config.backoff_max_s)

    def _once(self, request: TeacherRequest, attempt: int, started: float) -> TeacherReply:
        import openai

        payload = request.payload()
        try:
            response = self._client.chat.completions.create(**payload)
        except openai.APIStatusError as fault:
            status = fault.status_code
            message = f"HTTP {status}: {_short(fault.message)}"
            if status in (408, 409, 429) or status >= 500:
                raise _Transient(message, _retry_after(fault.response.headers.get("retry-after"))) from fault
            raise _Permanent(message) from fault
        except openai.APITimeoutError as fault:
            raise _Transient(f"timed out after {self.config.timeout_s:g} s") from fault
        except openai.APIConnectionError as fault:
            raise _Transient(f"connection failed: {_short(str(fault.__cause__ or fault))}") from fault
        except (openai.APIResponseValidationError, ValueError) as fault:
            raise _Transient(f"malformed response: {_short(str(fault))}") from fault
        try:
            message = response.choices[0].message
            content = message.content
            reasoning = (message.model_extra or {}).get("reasoning_content") or (message.model_extra or {}).get("reasoning")
            usage = response.usage
        except (AttributeError, IndexError, TypeError, KeyError) as fault:
            raise _Transient(f"malformed response: no choices[0].message ({type(fault).__name__})") from fault
        if content is None and not reasoning:
            raise _Transient("malformed response: the message has no content")
        return TeacherReply(
            request.key,
            "ok",
            content,
            reasoning if isinstance(reasoning, str) else None,
            None,
            attempt,
            time.monotonic() - started,
            getattr(usage, "prompt_tokens", None),
            getattr(usage, "completion_tokens", None),
        )


def _kind(error: str | None) -> str:
    """The kind of a failure ("HTTP 500", "malformed response", ...) for counting, without details."""
    return (error or "unknown").split(":")[0]


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class TeacherCache:
    """The `teacher_requests` table: one row per request hash, the latest outcome."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, keys: Iterable[str]) -> dict[str, TeacherReply]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        rows = self.store.rows(
            "SELECT * FROM teacher_requests WHERE request_hash IN (SELECT unnest(?::VARCHAR[]))", [wanted]
        )
        return {
            row["request_hash"]: TeacherReply(
                row["request_hash"], row["status"], row["content"], row["reasoning"], row["error"],
                row["attempts"], row["latency_s"], row["prompt_tokens"], row["completion_tokens"],
            )  # fmt: skip
            for row in rows
        }

    def put(self, entries: Sequence[tuple[TeacherRequest, TeacherReply]], base_url: str | None) -> None:
        if not entries:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = [
            {
                "request_hash": reply.request_hash,
                "purpose": request.purpose,
                "model": request.model,
                "endpoint": public_url(base_url),
                "request": json.dumps(request.payload(), sort_keys=True),
                "status": reply.status,
                "content": reply.content,
                "reasoning": reply.reasoning,
                "error": reply.error,
                "attempts": reply.attempts,
                "latency_s": reply.latency_s,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "updated_at": now,
            }
            for request, reply in entries
        ]
        keys = [row["request_hash"] for row in rows]
        import pandas as pd

        with self.store.connect(write=True) as con:
            con.execute("DELETE FROM teacher_requests WHERE request_hash IN (SELECT unnest(?::VARCHAR[]))", [keys])
            con.register("incoming", pd.DataFrame(rows))
            con.execute("INSERT INTO teacher_requests BY NAME SELECT * FROM incoming")
            con.unregister("incoming")


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
    teacher (up to `max_concurrency` at once). Replies are written to the cache at least every
    `flush_every_s`, and whatever finished is written even when the run is interrupted."""
    flush_every_s = client.config.flush_every_s
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
    pool = ThreadPoolExecutor(max_workers=max(1, client.config.max_concurrency), thread_name_prefix="teacher")
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
                    stats.errors[_kind(reply.error)] = stats.errors.get(_kind(reply.error), 0) + 1
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


def _scored_answers(
    records: Sequence[QARecord], config: TeacherConfig, cache: TeacherCache
) -> dict[str, tuple[TeacherRequest, TeacherReply | None, bool]]:
    """Per example id: its answer request, the cached reply (if any) and whether its answer is right."""
    requests = {r.example_id: answer_request(config, r) for r in records}
    replies = cache.get(q.key for q in requests.values())
    scored = {}
    for record in records:
        request = requests[record.example_id]
        reply = replies.get(request.key)
        correct = False
        if reply is not None and reply.ok:
            _, final = split_reasoning(reply.content, reply.reasoning)
            spec = dataset_spec(record.dataset)
            correct = spec.answer_correct(extract_answer(final), record.answers, record.category)
        scored[record.example_id] = (request, reply, correct)
    return scored


def collect(
    records: Sequence[QARecord],
    client: TeacherClient,
    cache: TeacherCache,
    purposes: Iterable[str] = (ANSWER, SUMMARY, EXPLANATION),
    log: Log = print,
) -> TeacherRound:
    """Ask the teacher every question, then (for the answers it got right) for a summary of its
    reasoning and a post-hoc explanation, as `purposes` asks. Cached replies are not asked again."""
    config, purposes = client.config, set(purposes)
    answers = ask_all(client, cache, [answer_request(config, r) for r in records], log)
    scored = _scored_answers(records, config, cache)
    right = [r for r in records if scored[r.example_id][2]]
    log(f"teacher: {len(right)} of {len(records)} answers scored correct ({len(right) / max(1, len(records)):.1%} kept)")
    outcome = TeacherRound(questions=len(records), answers=answers, answers_correct=len(right))
    if SUMMARY in purposes:
        traces = [reasoning_trace(scored[r.example_id][1]) for r in right]  # type: ignore[arg-type]
        outcome.summaries = ask_all(client, cache, [summary_request(config, t) for t in traces if t], log)
    if EXPLANATION in purposes:
        requests = [posthoc_request(config, r, scored[r.example_id][1]) for r in right]  # type: ignore[arg-type]
        outcome.explanations = ask_all(client, cache, requests, log)
    return outcome


def teacher_texts(
    condition: str, records: Sequence[QARecord], config: TeacherConfig, cache: TeacherCache
) -> dict[str, TeacherText]:
    """The teacher's text per example id for a teacher condition, from the cache alone (no request
    is sent): what `conditions.build_trace_set` turns into traces."""
    purpose = PURPOSE_OF_CONDITION[condition]
    scored = _scored_answers(records, config, cache)
    follow_ups: dict[str, TeacherRequest] = {}
    for record in records:
        _, reply, correct = scored[record.example_id]
        if correct and reply is not None and purpose == SUMMARY:
            trace = reasoning_trace(reply)
            if trace:
                follow_ups[record.example_id] = summary_request(config, trace)
        elif correct and reply is not None and purpose == EXPLANATION:
            follow_ups[record.example_id] = posthoc_request(config, record, reply)
    follow_replies = cache.get(q.key for q in follow_ups.values())
    texts: dict[str, TeacherText] = {}
    for record in records:
        request, reply, correct = scored[record.example_id]
        if reply is None:
            continue  # never asked: build_trace_set counts it as such
        origin: dict[str, Any] = {"teacher_model": request.model, "answer_request": request.key[:16]}
        if not reply.ok:
            texts[record.example_id] = TeacherText(None, None, False, origin, f"teacher request failed ({_kind(reply.error)})")
            continue
        _, final = split_reasoning(reply.content, reply.reasoning)
        answer = extract_answer(final)
        if purpose == ANSWER or not correct:
            texts[record.example_id] = TeacherText(reasoning_trace(reply), answer, correct, origin)
            continue
        follow = follow_ups.get(record.example_id)
        found = follow_replies.get(follow.key) if follow else None
        if follow is None:
            texts[record.example_id] = TeacherText(None, answer, correct, origin, "the teacher wrote no reasoning to summarise")
        elif found is None:
            texts[record.example_id] = TeacherText(None, answer, correct, origin, f"the teacher has not been asked for the {purpose} yet")
        elif not found.ok:
            texts[record.example_id] = TeacherText(None, answer, correct, origin, f"teacher {purpose} request failed ({_kind(found.error)})")
        else:
            text = split_reasoning(found.content, found.reasoning)[1]
            origin = {**origin, f"{purpose}_model": follow.model, f"{purpose}_request": follow.key[:16]}
            texts[record.example_id] = TeacherText(text, answer, correct, origin)
    return texts
