"""Trace text: how the two decomposition steps and the answer are written, and read back.

Two styles, chosen per experiment (`TRACE_STYLES`), both parsed back by `parse_completion`:

- `sentences`, the reference study's, readable by a person:

      <think>The category of the question asked is: two-supporting-facts. I need to use the
      following facts: [2, 3].</think><answer>office</answer>

- `compact`, fewer tokens for the same two steps:

      <think>class: two-supporting-facts | facts: 2, 3</think><answer>office</answer>

Teacher-family traces are free text inside `<think>` (`render_free_trace`). Rendering and parsing
live together so they cannot drift apart; round-trip tests hold them to each other. A model's
reply that does not follow the format (a teacher, an untuned base model) is read with
`split_reasoning` and `extract_answer`, over the same markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from tracekd_ops.core.markup import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, contains_markup
from tracekd_ops.core.records import QARecord

TRACE_FORMAT_VERSION = "3"
"""Bump when rendering or parsing changes: traces (and everything trained on them) go stale."""

SENTENCES, COMPACT = "sentences", "compact"
TRACE_STYLES: tuple[str, ...] = (SENTENCES, COMPACT)

_CLASS_SENTENCE = "The category of the question asked is: {}."
_FACTS_SENTENCE = "I need to use the following facts: [{}]."
_SENTENCES = f"{_CLASS_SENTENCE} {_FACTS_SENTENCE}"
_COMPACT = "class: {} | facts: {}"
TEMPLATE_PHRASES: tuple[str, ...] = tuple(part.rstrip() for part in _SENTENCES.split("{}")[:2])
"""The fixed wording of the `sentences` style between its variable parts ("The category of the
question asked is:", ". I need to use the following facts: ["), which the from-config student's
tokenizer keeps whole: one token each."""

_CLASS_RE = re.compile(r"The category of the question asked is:\s*(.*?)\s*\.(?=\s*I need|\s*</think>|\s*$)", re.S)
_FACTS_RE = re.compile(r"I need to use the following facts:\s*\[([^\]]*)\]", re.S)
_COMPACT_RE = re.compile(r"class:\s*(.*?)\s*\|\s*facts:\s*([\d,\s]*?)\s*(?=</think>|$)", re.S)
_ANSWER_RE = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S)


def render_prompt(record: QARecord) -> str:
    """The student's input: numbered facts, then the question. Ends on a newline so the
    completion starts on a token boundary (TRL masks the prompt by common prefix)."""
    lines = ["Facts:"]
    lines += [f"[{f.id}] {f.text}" for f in record.facts]
    lines += [f"Question: {record.question}", ""]
    return "\n".join(lines)


def split_prompt(prompt: str) -> tuple[str, str]:
    """(facts block, question) of a prompt written by `render_prompt`, for showing it to people."""
    head, marker, question = prompt.rpartition("\nQuestion: ")
    if not marker or not head.startswith("Facts:"):
        raise ValueError("not a TraceKD prompt: expected 'Facts:' lines, then a 'Question:' line")
    return head.removeprefix("Facts:").strip("\n"), question.strip()


def render_answer(answers: tuple[str, ...] | list[str]) -> str:
    """The answer as written in a trace: the first gold answer (its aliases are for scoring)."""
    return answers[0]


def render_completion(
    category: str | None, fact_ids: Sequence[int] | None, answer: str, style: str = SENTENCES
) -> str:
    """A completion with a two-step trace (both steps given) or the answer alone (both None)."""
    if category is None and fact_ids is None:
        return _answer_part(answer)
    if category is None or fact_ids is None:
        raise ValueError("a trace renders both steps or neither")
    return f"{THINK_OPEN}{render_steps(category, fact_ids, style)}{THINK_CLOSE}{_answer_part(answer)}"


def render_steps(category: str, fact_ids: Sequence[int], style: str = SENTENCES) -> str:
    """The two steps as written inside `<think>` (also the gold trace a generated one is compared with)."""
    ids = ", ".join(str(i) for i in fact_ids)
    if style == SENTENCES:
        return _SENTENCES.format(category, ids)
    if style == COMPACT:
        return _COMPACT.format(category, ids)
    raise ValueError(f"unknown trace style {style!r}; known: {', '.join(TRACE_STYLES)}")


def render_free_trace(text: str, answer: str) -> str:
    """A completion whose trace is free text (a teacher's reasoning, summary or explanation)."""
    if not text.strip():
        raise ValueError("a free-text trace must not be empty")
    if contains_markup(text):
        raise ValueError("a free-text trace must not contain the trace markup")
    return f"{THINK_OPEN}{text.strip()}{THINK_CLOSE}{_answer_part(answer)}"


def _answer_part(answer: str) -> str:
    if contains_markup(answer):
        raise ValueError(f"an answer must not contain the trace markup: {answer!r}")
    return f"{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


@dataclass(frozen=True)
class ParsedTrace:
    """What a (generated) completion says; None where a part is missing or unreadable."""

    category: str | None
    fact_ids: tuple[int, ...] | None
    answer: str | None
    has_trace: bool
    think: str | None = None


def _split_trace(text: str) -> tuple[str | None, str]:
    """(the trace, what follows it): the trace runs from the first <think> to the *last*
    </think>, so nothing written inside it can end it early. Without a <think>, a lone </think>
    (a chat template that opens the block in the prompt) still ends the reasoning."""
    close = text.rfind(THINK_CLOSE)
    if close == -1:
        return None, text
    opened = text.find(THINK_OPEN)
    start = opened + len(THINK_OPEN) if -1 < opened < close else 0
    return text[start:close], text[close + len(THINK_CLOSE) :]


def parse_completion(text: str) -> ParsedTrace:
    """What a (generated) completion says. The answer is the first <answer></answer> *after* the
    trace: one written inside the trace is never taken for it."""
    think, after = _split_trace(text)
    has_trace = think is not None and THINK_OPEN in text
    body = think if think is not None else after.split(ANSWER_OPEN)[0]
    category, listed = _steps(body)
    answer_match = _ANSWER_RE.search(after)
    return ParsedTrace(
        category=category,
        fact_ids=_fact_ids(listed) if listed is not None else None,
        answer=answer_match.group(1) if answer_match else None,
        has_trace=has_trace,
        think=think if has_trace else None,
    )


def _steps(body: str) -> tuple[str | None, str | None]:
    """(class label, listed fact ids) written in either style; None where a step is absent."""
    class_match, facts_match = _CLASS_RE.search(body), _FACTS_RE.search(body)
    if class_match or facts_match:
        return (class_match.group(1).strip() if class_match else None, facts_match.group(1) if facts_match else None)
    compact = _COMPACT_RE.search(body)
    return (compact.group(1).strip(), compact.group(2)) if compact else (None, None)


def _fact_ids(listed: str) -> tuple[int, ...] | None:
    items = [s.strip() for s in listed.split(",") if s.strip()]
    return tuple(int(s) for s in items) if all(s.isdigit() for s in items) else None


def split_reasoning(content: str | None, reasoning_content: str | None) -> tuple[str, str]:
    """(reasoning, final text) of a model's reply: DeepSeek-style `reasoning_content` when the
    server separates it, else a `<think>...</think>` block in the content, else no reasoning."""
    content = content or ""
    reasoning, final = _split_trace(content)
    if reasoning_content and reasoning_content.strip():
        return reasoning_content.strip(), final.strip()
    return (reasoning or "").strip(), final.strip()


def extract_answer(final: str) -> str:
    """The final answer of a reply: inside <answer></answer>, else the last non-empty line."""
    tagged = _ANSWER_RE.search(final)
    if tagged:
        return tagged.group(1).strip()
    lines = [line.strip() for line in final.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return re.sub(r"^(final answer|answer)\s*[:：]\s*", "", last, flags=re.I).strip()
