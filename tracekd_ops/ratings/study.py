"""The rating study's protocol: its two Likert scales, the order a participant sees the items in,
the checks an answer must pass, and the completion code. The rating page, the simulated panel, the
importers and the analysis all read these, so the protocol is declared once.

The design follows the reference study's human evaluation (Bhambri et al., ACL 2026: 5-point
Likert ratings of interpretability and cognitive load per trace condition), run within subjects:
every participant rates items of every condition, in an order counterbalanced across participants
by a balanced Latin square over conditions, with attention checks spread through the session.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass
from typing import Mapping, Sequence

ITEMS_VERSION = "items-2"
"""Bump when how items are sampled or shown changes: item sets made before are then new versions."""

LIKERT_POINTS = (1, 2, 3, 4, 5)
COMMENT_MAX_CHARS = 2000
PARTICIPANT_ID_MAX_CHARS = 128


@dataclass(frozen=True)
class Scale:
    name: str
    """Column name in `ratings`."""
    question: str
    anchors: tuple[str, str, str, str, str]
    """The label of each point, 1 to 5."""


SCALES: tuple[Scale, ...] = (
    Scale(
        "interpretability",
        "How interpretable is this reasoning: can you follow how it reaches the answer?",
        ("Not at all interpretable", "Slightly interpretable", "Moderately interpretable", "Very interpretable",
         "Completely interpretable"),  # fmt: skip
    ),
    Scale(
        "cognitive_load",
        "How much mental effort did it take you to follow this reasoning?",
        ("Very little effort", "Little effort", "Some effort", "Much effort", "Very much effort"),
    ),
)
SCALE_NAMES: tuple[str, ...] = tuple(s.name for s in SCALES)

ATTENTION_EXPECTED = {"interpretability": 1, "cognitive_load": 5}
ATTENTION_TEXT = (
    "This is an attention check, not a reasoning trace. To show that you are reading carefully, "
    "rate it 1 (not at all interpretable) on the first question and 5 (very much effort) on the second."
)
"""An attention-check item's 'trace': it states its own instruction (the answer it asks for)."""


class RatingRejected(ValueError):
    """An answer that fails the protocol's checks; `field` names the offending form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def williams_square(n: int) -> list[list[int]]:
    """Rows of a balanced Latin square over n conditions (Williams design): across its rows each
    condition takes every serial position equally often, and (for even n) follows every other
    condition equally often, so neither position nor carry-over favours a condition. Odd n needs
    the mirrored rows too (2n rows)."""
    if n < 1:
        return []
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [[(c + shift) % n for c in first] for shift in range(n)]
    return rows if n % 2 == 0 else rows + [row[::-1] for row in rows]


@dataclass(frozen=True)
class OrderItem:
    item_id: str
    condition: str
    attention_check: bool
    example_id: str = ""
    """The question (and story) the item is about: the same one recurs once per condition."""


def participant_order(items: Sequence[OrderItem], counterbalance_row: int, participant_id: str, item_set_version: str) -> list[str]:
    """The item ids one participant sees, in order. Items come in rounds, one item of every
    condition per round, the conditions of each round in the order of the balanced Latin square's
    row `counterbalance_row` (participants take rows in turn); which item of a condition comes in
    which round is shuffled per participant; where every condition rates the same questions (a paired
    item set), the rounds walk one shuffled question order, each condition a step further along it
    than the one before it in the round, so a story never comes back within a round nor back to back
    (each condition's queue shuffled on its own put the same story side by side). Attention
    checks are spread evenly through the session."""
    conditions = sorted({i.condition for i in items if not i.attention_check})
    rng = random.Random(hashlib.sha256(f"{item_set_version}:{participant_id}".encode()).hexdigest())
    to_rate = [i for i in items if not i.attention_check]
    square = williams_square(len(conditions))
    sequence = [conditions[k] for k in square[counterbalance_row % len(square)]] if square else []
    by_question = {c: {i.example_id: i.item_id for i in to_rate if i.condition == c} for c in conditions}
    questions = sorted({i.example_id for i in to_rate})
    paired = all(sorted(ids) == questions for ids in by_question.values()) and len(questions) == len(to_rate) // max(len(conditions), 1)
    if paired and len(conditions) > 1 and all(i.example_id for i in to_rate):
        # round r asks, at position p, question r + p (mod n): a story asked at position p comes back
        # one round later at position p - 1, K - 1 items on; never twice in one round
        rng.shuffle(questions)
        queues = {c: [by_question[c][questions[(r + p) % len(questions)]] for r in range(len(questions))][::-1] for p, c in enumerate(sequence)}
    else:
        queues = {c: [i.item_id for i in to_rate if i.condition == c] for c in conditions}
        for queue in queues.values():
            rng.shuffle(queue)
    order: list[str] = []
    while any(queues.values()):
        order += [queues[c].pop() for c in sequence if queues[c]]
    checks, rated = [i.item_id for i in items if i.attention_check], len(order)
    for k, check in enumerate(checks, start=1):
        order.insert(round(k * rated / (len(checks) + 1)) + k - 1, check)
    return order


def completion_code(secret: bytes, item_set_version: str, participant_id: str) -> str:
    """A participant's completion code when the study has no fixed one: unforgeable without the
    server's secret, the same on every reload, different for every participant."""
    digest = hmac.new(secret, f"{item_set_version}:{participant_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:10].upper()


def check_participant_id(value: str | None, field: str = "participant_id") -> str:
    """A participant id as platforms send it: printable, no spaces, at most 128 characters."""
    text = (value or "").strip()
    if not text:
        raise RatingRejected(field, "missing")
    if len(text) > PARTICIPANT_ID_MAX_CHARS or not text.isprintable() or any(ch.isspace() for ch in text):
        raise RatingRejected(field, f"must be 1-{PARTICIPANT_ID_MAX_CHARS} printable characters without spaces")
    return text


def check_answer(form: Mapping[str, str | None]) -> tuple[dict[str, int], str | None]:
    """The two Likert values and the optional comment of one answer, or `RatingRejected` naming
    the field: each scale an integer 1-5, the comment at most `COMMENT_MAX_CHARS` characters."""
    values: dict[str, int] = {}
    for scale in SCALES:
        raw = (form.get(scale.name) or "").strip()
        if not raw:
            raise RatingRejected(scale.name, "missing: choose one of 1-5")
        if raw not in {str(point) for point in LIKERT_POINTS}:  # not isdigit(): '²' is a digit int() refuses
            raise RatingRejected(scale.name, f"must be one of 1-5; got {raw[:20]!r}")
        values[scale.name] = int(raw)
    comment = (form.get("comment") or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise RatingRejected("comment", f"at most {COMMENT_MAX_CHARS} characters; got {len(comment)}")
    if comment and not all(ch.isprintable() or ch in "\n\r\t" for ch in comment):
        raise RatingRejected("comment", "contains control characters")
    return values, comment or None


def passed_attention(expected: Mapping[str, int | None], given: Mapping[str, int]) -> bool:
    return all(given[name] == value for name, value in expected.items() if value is not None)
