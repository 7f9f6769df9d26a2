"""What the internal labels in a rating item's trace mean, in words a rater can use.

An item shows the trace exactly as the student was trained on it (`items.py`), so it carries the
pipeline's own labels: the markup tags, the fixed wording of the two steps (either trace style),
the dataset's category names and fact numbers. The instructions explain each label the item set
actually shows, read off its traces with the same renderer and parser that wrote them, so a new
style, label or tag cannot appear on the page unexplained.

The ratings wing does not import `datasets` (`tracekd_ops.ALLOWED_IMPORTS`), so the category names
come from the shown traces themselves; `CATEGORY_MEANINGS` only adds a plain-words meaning, and a
test holds its keys to the dataset specs' labels both ways, so it cannot drift unnoticed. A label
without a meaning there (a dataset of the user's own) is still explained, generically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from tracekd_ops.core.markup import ANSWER_CLOSE, ANSWER_OPEN, MARKUP_TOKENS, THINK_CLOSE, THINK_OPEN
from tracekd_ops.ratings.items import RatingItem
from tracekd_ops.traces.render import COMPACT, SENTENCES, TEMPLATE_PHRASES, TRACE_STYLES, parse_completion, render_steps

CATEGORY_MEANINGS: dict[str, str] = {
    # bAbI (and the generated data, which uses three of its tasks)
    "single-supporting-fact": "one fact of the story is enough to answer",
    "two-supporting-facts": "the answer needs two facts of the story together",
    "three-supporting-facts": "the answer needs three facts of the story together",
    "two-arg-relations": "a question about where two places or things are relative to each other",
    "three-arg-relations": "a question about who gave what to whom",
    "yes-no-questions": "a question answered with yes or no",
    "counting": "a question about how many things someone holds",
    "lists-sets": "a question whose answer lists the things someone holds",
    "simple-negation": "a question whose answer depends on a fact saying that something is not so",
    "indefinite-knowledge": "a question the facts may leave open (the answer can be maybe)",
    "basic-coreference": "facts that refer back to a person as he or she",
    "conjunction": "facts about two people at once",
    "compound-coreference": "facts that refer back to two people at once (they)",
    "time-reasoning": "a question about where someone was before or after a given time",
    "basic-deduction": "a question answered by applying a general rule to one member of a group",
    "basic-induction": "a question answered by generalising from other members of a group",
    "positional-reasoning": "a question about where shapes are relative to each other",
    "size-reasoning": "a question about which thing is bigger or fits inside another",
    "path-finding": "a question about the way from one place to another",
    "agents-motivations": "a question about why someone goes somewhere or takes something",
    # CoTempQA: how the times of two facts relate
    "equal": "a question about what held at exactly the same time as something else",
    "overlap": "a question about what held at a time overlapping with something else",
    "during": "a question about what held while something else held",
    "mix": "a question mixing these time relations; the answer may list several things",
    # MS MARCO: the kind of answer
    "DESCRIPTION": "the answer is a description or explanation",
    "NUMERIC": "the answer is a number, an amount or a date",
    "ENTITY": "the answer is a thing or the name of something",
    "LOCATION": "the answer is a place",
    "PERSON": "the answer is a person",
    # HotpotQA
    "bridge": "the answer needs two facts linked by something they share",
    "comparison": "a question comparing two things",
}
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


def glossary(items: Sequence[RatingItem]) -> tuple[Term, ...]:
    """Every internal label the item set's traces show, with its meaning, in reading order; the
    step wording is quoted from a real trace of the set (rendered again, so it is the same text)."""
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
        meaning = CATEGORY_MEANINGS.get(label)
        words = label.replace("-", " ").replace("_", " ")
        terms.append(Term(label, f"A category: {meaning}." if meaning else f"A category the dataset calls “{words}”."))
    return tuple(terms)
