"""Trace text: how the two decomposition steps and the answer are written, and read back.

The format follows the reference study, readable by a person and unambiguous to parse:

    <think>The category of the question asked is: two-supporting-facts. I need to use the
    following facts: [2, 3].</think><answer>office</answer>

Rendering and parsing live together so they cannot drift apart; a round-trip test holds them
to each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tracekd_ops.records import QARecord

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
MARKUP_TOKENS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
TRACE_FORMAT_VERSION = "1"
"""Bump when rendering or parsing changes: traces (and everything trained on them) go stale."""

_CLASS_SENTENCE = "The category of the question asked is: {}."
_FACTS_SENTENCE = "I need to use the following facts: [{}]."

_CLASS_RE = re.compile(r"The category of the question asked is:\s*(.*?)\s*\.(?=\s*I need|\s*</think>|\s*$)", re.S)
_FACTS_RE = re.compile(r"I need to use the following facts:\s*\[([^\]]*)\]", re.S)
_ANSWER_RE = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S)
_THINK_RE = re.compile(r"<think>(.*?)</think>", re.S)


def render_prompt(record: QARecord) -> str:
    """The student's input: numbered facts, then the question. Ends on a newline so the
    completion starts on a token boundary (TRL masks the prompt by common prefix)."""
    lines = ["Facts:"]
    lines += [f"[{f.id}] {f.text}" for f in record.facts]
    lines += [f"Question: {record.question}", ""]
    return "\n".join(lines)


def render_answer(answers: tuple[str, ...] | list[str]) -> str:
    """The answer as written in a trace: the first gold answer (its aliases are for scoring)."""
    return answers[0]


def render_completion(category: str | None, fact_ids: tuple[int, ...] | None, answer: str) -> str:
    """A completion with a trace (both steps given) or the answer alone (both None)."""
    answer_part = f"{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"
    if category is None and fact_ids is None:
        return answer_part
    if category is None or fact_ids is None:
        raise ValueError("a trace renders both steps or neither")
    think = " ".join(
        (_CLASS_SENTENCE.format(category), _FACTS_SENTENCE.format(", ".join(str(i) for i in fact_ids)))
    )
    return f"{THINK_OPEN}{think}{THINK_CLOSE}{answer_part}"


@dataclass(frozen=True)
class ParsedTrace:
    """What a (generated) completion says; None where a part is missing or unreadable."""

    category: str | None
    fact_ids: tuple[int, ...] | None
    answer: str | None
    has_trace: bool


def parse_completion(text: str) -> ParsedTrace:
    think = _THINK_RE.search(text)
    body = think.group(1) if think else text.split(ANSWER_OPEN)[0]
    class_match = _CLASS_RE.search(body)
    facts_match = _FACTS_RE.search(body)
    fact_ids: tuple[int, ...] | None = None
    if facts_match:
        items = [s.strip() for s in facts_match.group(1).split(",") if s.strip()]
        if all(s.isdigit() for s in items):
            fact_ids = tuple(int(s) for s in items)
    answer_match = _ANSWER_RE.search(text)
    return ParsedTrace(
        category=class_match.group(1).strip() if class_match else None,
        fact_ids=fact_ids,
        answer=answer_match.group(1) if answer_match else None,
        has_trace=think is not None,
    )
