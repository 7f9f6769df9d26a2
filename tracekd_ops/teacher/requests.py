"""What the teacher is asked, and what it answered: requests (answer, summary, post-hoc
explanation) with their cache key, and replies.

Every request's key is a hash of (model, messages, sampling parameters, `PROMPT_VERSION`), so a
changed instruction is a new request, and an unchanged one is never asked twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Sequence

from tracekd_ops.core.markup import ANSWER_CLOSE, ANSWER_OPEN
from tracekd_ops.core.records import QARecord
from tracekd_ops.teacher.config import TeacherConfig
from tracekd_ops.traces.conditions import ANSWER, EXPLANATION, SUMMARY, SUMMARY_MAX_WORDS
from tracekd_ops.traces.render import extract_answer, render_answer, render_prompt, split_reasoning

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
    endpoint: str | None = None
    """The endpoint of the last try (public URL: no user info, no query)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _request(purpose: str, model: str, messages: Sequence[tuple[str, str]], config: TeacherConfig) -> TeacherRequest:
    return TeacherRequest(purpose, model, tuple(messages), tuple(sorted(config.sampling().items())))


def worked_example_turns(example: QARecord) -> list[tuple[str, str]]:
    """A solved question as a first exchange: the supporting facts quoted, then the answer in its
    tags. Shows a small teacher the form of a reply; a model that follows the instruction alone
    (SmolLM2-135M does not: it never wrote the tags) needs none."""
    quoted = " ".join(f"Fact [{i}] says: {example.fact(i).text}" for i in example.gold_fact_ids)
    answer = render_answer(example.answers)
    reply = f"{quoted} So the answer is {answer}.\n{ANSWER_OPEN}{answer}{ANSWER_CLOSE}".lstrip()
    return [("user", ANSWER_INSTRUCTION + render_prompt(example)), ("assistant", reply)]


def answer_turns(record: QARecord, example: QARecord | None) -> list[tuple[str, str]]:
    """The question as asked: after the worked example, when there is one."""
    shown = worked_example_turns(example) if example is not None else []
    return [*shown, ("user", ANSWER_INSTRUCTION + render_prompt(record))]


def answer_request(config: TeacherConfig, record: QARecord, example: QARecord | None = None) -> TeacherRequest:
    return _request(ANSWER, str(config.model), answer_turns(record, example), config)


def summary_request(config: TeacherConfig, reasoning: str) -> TeacherRequest:
    model = config.summary_model or str(config.model)
    return _request(SUMMARY, model, [("user", SUMMARY_INSTRUCTION + reasoning)], config)


def posthoc_request(
    config: TeacherConfig, record: QARecord, answer_reply: TeacherReply, example: QARecord | None = None
) -> TeacherRequest:
    """The answer conversation, with the teacher's final answer (not its reasoning) as its turn,
    then the news that the answer is right and a request to explain it."""
    _, final = split_reasoning(answer_reply.content, answer_reply.reasoning)
    messages = [
        *answer_turns(record, example),
        ("assistant", final),
        ("user", POSTHOC_INSTRUCTION.format(answer=extract_answer(final))),
    ]
    return _request(EXPLANATION, str(config.model), messages, config)


def reasoning_trace(reply: TeacherReply) -> str:
    """The teacher's trace: its reasoning, or (for a model that does not separate reasoning) the
    final text before the answer tag."""
    reasoning, final = split_reasoning(reply.content, reply.reasoning)
    return reasoning or final.split("<answer>")[0].strip()
