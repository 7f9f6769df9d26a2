"""What the internal labels in a rating item's trace mean, in words a rater can use.

An item shows the trace exactly as the student was trained on it (`items.py`), so it carries the
pipeline's own labels: the markup tags, the fixed wording of the two steps (either trace style),
the dataset's category names and fact numbers. The instructions explain each label the item set
actually shows, read off its traces with the same renderer and parser that wrote them, so a new
style, label or tag cannot appear on the page unexplained.

The category names come from the shown traces themselves; their plain-words meanings come from the
dataset's spec (`DatasetSpec.label_meanings`), handed in by the caller, since the ratings wing does
not import `datasets` (`tracekd_ops.ALLOWED_IMPORTS`). A label without a meaning (a dataset of the
user's own that gives none) is still explained, generically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from tracekd_ops.core.markup import ANSWER_CLOSE, ANSWER_OPEN, MARKUP_TOKENS, THINK_CLOSE, THINK_OPEN
from tracekd_ops.ratings.items import RatingItem
from tracekd_ops.traces.render import COMPACT, SENTENCES, TEMPLATE_PHRASES, TRACE_STYLES, parse_completion, render_steps

"""Plain-words meanings of the built-in datasets' category names (keys: the specs' labels)."""


@dataclass(frozen=True)
class Term:
    """One label as it appears in a trace, and what it means."""

    shown: str
    meaning: str


@dataclass(frozen=True)
class Shown:
    """What an item set's traces contain that needs explaining."""

    tags: frozenset[str]
    styles: frozenset[str]
    categories: tuple[str, ...]
    """Sorted: the same list whatever order the items come in."""
    free_text: bool


def trace_style(trace: str) -> str | None:
    """The style a shown trace's steps were rendered in (re-rendered with the same renderer and
    compared); None for a free-text trace or one without both steps."""
    parsed = parse_completion(trace)
    if parsed.think is None or parsed.category is None or parsed.fact_ids is None:
        return None
    return next((s for s in TRACE_STYLES if render_steps(parsed.category, parsed.fact_ids, s) == parsed.think), None)


def shown_in(items: Iterable[RatingItem]) -> Shown:
    """What the rated traces show (an attention check states its own instruction: nothing to explain)."""
    tags: set[str] = set()
    styles: set[str] = set()
    categories: set[str] = set()
    free_text = False
    for item in items:
        if item.attention_check:
            continue
        tags |= {tag for tag in MARKUP_TOKENS if tag in item.trace}
        style = trace_style(item.trace)
        if style is None:
            free_text = True
            continue
        styles.add(style)
        categories.add(str(parse_completion(item.trace).category))
    return Shown(frozenset(tags), frozenset(styles), tuple(sorted(categories)), free_text)


def _example(items: Sequence[RatingItem], style: str) -> tuple[str, tuple[int, ...]]:
    """(category, fact ids) of the first shown trace in `style`: the instructions quote a real one."""
    for item in items:
        if not item.attention_check and trace_style(item.trace) == style:
            parsed = parse_completion(item.trace)
            return str(parsed.category), tuple(parsed.fact_ids or ())
    raise ValueError(f"no trace in the {style} style")


def _facts_meaning(ids: Sequence[int]) -> str:
    named = " and ".join(f"[{i}]" for i in ids) if ids else "none"
    return (f"Names the numbered facts of the story that the reasoning relies on (here: {named}; "
            "each item names its own). The numbers are those in front of the facts above the reasoning.")  # fmt: skip


def glossary(items: Sequence[RatingItem], label_meanings: Mapping[str, str]) -> tuple[Term, ...]:
    """Every internal label the item set's traces show, with its meaning, in reading order; the
    step wording is quoted from a real trace of the set (rendered again, so it is the same text);
    `label_meanings`: the dataset's categories in plain words."""
    shown, terms = shown_in(items), []
    if THINK_OPEN in shown.tags or THINK_CLOSE in shown.tags:
        terms.append(Term(f"{THINK_OPEN} … {THINK_CLOSE}", "Marks where the reasoning starts and ends."))
    if ANSWER_OPEN in shown.tags or ANSWER_CLOSE in shown.tags:
        terms.append(Term(f"{ANSWER_OPEN} … {ANSWER_CLOSE}",
                          "Holds the answer the reasoning leads to (shown again under “Answer”)."))  # fmt: skip
    category_meaning = "Names what kind of question this is, in the dataset's own words (the categories are listed below)."
    if SENTENCES in shown.styles:
        category, ids = _example(items, SENTENCES)
        head, joint, tail = render_steps(category, ids, SENTENCES).partition(TEMPLATE_PHRASES[1])
        terms.append(Term(head + ".", category_meaning))
        terms.append(Term(joint.removeprefix(".").strip() + tail, _facts_meaning(ids)))
    if COMPACT in shown.styles:
        category, ids = _example(items, COMPACT)
        head, _, tail = render_steps(category, ids, COMPACT).partition(" | ")
        terms.append(Term(head, category_meaning))
        terms.append(Term("|", "Separates the category from the facts."))
        terms.append(Term(tail, _facts_meaning(ids)))
    for label in shown.categories:
        meaning = label_meanings.get(label)
        words = label.replace("-", " ").replace("_", " ")
        terms.append(Term(label, f"A category: {meaning}." if meaning else f"A category the dataset calls “{words}”."))
    return tuple(terms)
