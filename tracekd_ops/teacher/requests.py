"""What the teacher is asked, and what it answered: requests (answer, summary, post-hoc
explanation) with their cache key, and replies.

Every request's key is a hash of (model, messages, sampling parameters, `PROMPT_VERSION`), so a
changed instruction is a new request, and an unchanged one is never asked twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
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
    dataset: str | None = field(default=None, compare=False)
    """The question it is about (`teacher_request_questions`, which joins `raw_examples`); not part
    of the key: identical questions share one request."""
    example_id: str | None = field(default=None, compare=False)
    follows: str | None = field(default=None, compare=False)
    """The key of the answer request a summary or post-hoc request follows up; None: an answer. Read
    back by it, a follow-up is found from its answer's key without rendering it again."""

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


def _request(purpose: str, model: str, messages: Sequence[tuple[str, str]], config: TeacherConfig,
             dataset: str | None, example_id: str | None, follows: str | None = None) -> TeacherRequest:  # fmt: skip
    return TeacherRequest(purpose, model, tuple(messages), tuple(sorted(config.sampling().items())), dataset, example_id, follows)


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
    return _request(ANSWER, str(config.model), answer_turns(record, example), config, record.dataset, record.example_id)


def follow_up_model(config: TeacherConfig, purpose: str) -> str:
    """Who writes a follow-up: the summary model (when one is set) summarises, the teacher explains."""
    return (config.summary_model or str(config.model)) if purpose == SUMMARY else str(config.model)


def summary_request(config: TeacherConfig, answer: TeacherRequest, reasoning: str) -> TeacherRequest:
    """A summary of the reasoning the teacher wrote for `answer` (the reasoning alone is sent)."""
    messages = [("user", SUMMARY_INSTRUCTION + reasoning)]
    return _request(SUMMARY, follow_up_model(config, SUMMARY), messages, config, answer.dataset, answer.example_id, answer.key)


def posthoc_request(config: TeacherConfig, answer: TeacherRequest, answer_reply: TeacherReply) -> TeacherRequest:
    """The answer conversation, with the teacher's final answer (not its reasoning) as its turn,
    then the news that the answer is right and a request to explain it."""
    _, final = split_reasoning(answer_reply.content, answer_reply.reasoning)
    messages = [*answer.messages, ("assistant", final), ("user", POSTHOC_INSTRUCTION.format(answer=extract_answer(final)))]
    return _request(EXPLANATION, follow_up_model(config, EXPLANATION), messages, config, answer.dataset, answer.example_id, answer.key)  # fmt: skip
