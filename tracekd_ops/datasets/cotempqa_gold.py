"""CoTempQA's IR step: the gold ("supporting") facts of a question, by slot matching.

Rule
----
Every CoTempQA fact is one templated triple, ``<subject> <relation phrase> <object> <time>.``, and
every question is ``While <S1> <relation> <O1>, <asked part> <time phrase>?``. A fact is gold when
it fills the asked slot with a gold answer:

* "which <type> did <S> ..." questions (triple kinds ``S1_R*_O2`` and ``S2_R*_O2``): the fact's
  subject is the asked subject ``S`` (for ``S2`` questions the second person, not the one in the
  "While" clause) and its object equals a gold answer;
* "who also <relation> <O1> ..." questions (``S2_R1_O1``: the answers are other subjects sharing
  the object): the fact's subject equals a gold answer and its object is ``O1``.

The fact's relation is not checked: in the released files it never separates two candidate facts,
and in 21 ``mix``/``overlap`` questions the gold answers mix relation types (e.g. "which position
did Charles III hold" with answer "Gordonstoun", stated only by "... attended Gordonstoun ..."), so
checking it would only drop the one fact that states such an answer.

"Equals" compares normalised strings: Unicode NFC, case-folded, runs of whitespace collapsed, one
optional leading "the " dropped (so "The Republicans" matches "is a member of the The
Republicans"). A gold answer that is only part of a longer name ("University of Manchester" in
"Victoria University of Manchester", "president" in "President of Peru") never matches. Facts that
do not parse are never gold; when the question does not parse, a fact is gold when a gold answer
fills its object or its subject slot exactly (the asked-subject / shared-object check is dropped).
``mix`` questions have several answers; a fact for any of them is gold. The fact that anchors the
time interval (the "While" clause) is not gold.

Measured against 78 questions labelled by hand (60 drawn at random, 20 per file, and 18 hard
cases; `tests/ops/fixtures/cotempqa_gold_hand_labels.json`): precision 1.000 and recall 1.000 at
the fact level, where the earlier whole-phrase rule had precision 0.879 (0.989 on the random 60).
The hand labels follow the same definition as the rule, so this shows the parsing does what the
definition says; it does not validate the definition. The templates (relation phrases, time
shapes) are those of the released files: a differently worded release leaves facts unparsed
(never gold). Standard library only; all functions are pure.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple, Sequence

# Relation phrases as they occur in the facts (derived from the three released files; every fact
# has exactly one of them), mapped to a relation key.
FACT_RELATIONS: dict[str, str] = {
    "holds the position of": "position",
    "works for": "employer",
    "worked for": "employer",
    "is a member of the": "party",
    "attended": "school",
    "plays for": "team",
    "is owned by": "owner",
    "is the chair of": "chair",  # 2 facts in the whole data set, never asked about
}

# The "While" clause of a question: relation phrase -> key.
ANCHOR_RELATIONS: dict[str, str] = {
    "was holding the position of": "position",
    "was working for": "employer",
    "was a member of": "party",
    "attended": "school",
    "was playing for": "team",
    "was owned by": "owner",
}

# "which <type> ..." -> relation key.
ASKED_TYPES: dict[str, str] = {
    "position": "position",
    "employer": "employer",
    "political party": "party",
    "school": "school",
}

# "who <phrase> <O1> ..." -> relation key.
WHO_RELATIONS: dict[str, str] = {
    "also held the position of": "position",
    "also worked for": "employer",
    "was also a member of": "party",
    "also attended": "school",
    "was also playing for": "team",
    "was also owned by": "owner",
}

TIME_PHRASES = (
    "at the same time", "concurrently", "simultaneously", "during the identical time period",
    "during the same time period", "during the same time span", "within the same time interval",
)  # fmt: skip

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
# Dates in facts: "1999", "May, 1999", "May 22, 1999" (years have 1-4 digits in the data).
DATE = rf"(?:{_MONTH} \d{{1,2}}, |{_MONTH}, )?\d{{1,4}}"
_TIME_TAIL = re.compile(rf" (?:in (?P<at>{DATE})|from (?P<start>{DATE}) to (?P<end>{DATE}))\.\s*$")


def _alt(phrases) -> str:
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


_FACT_BODY = re.compile(rf"^(?P<subject>.+?) (?P<rel>{_alt(FACT_RELATIONS)}) (?P<object>.+)$", re.S)
_TIME = _alt(TIME_PHRASES)
_QUESTION_WHICH = re.compile(
    rf"^While (?P<s1>.+?) (?P<r1>{_alt(ANCHOR_RELATIONS)}) (?P<o1>.+?), "
    rf"which (?P<type>{_alt(ASKED_TYPES)}) (?:did|was) (?P<s2>.+?)"
    rf"(?: (?:hold|belong to|work for|attend|attending))? (?:{_TIME})\?\s*$",
    re.S,
)
_QUESTION_WHO = re.compile(
    rf"^While (?P<s1>.+?) (?P<r1>{_alt(ANCHOR_RELATIONS)}) (?P<o1>.+?), "
    rf"who (?P<r2>{_alt(WHO_RELATIONS)}) (?P<o2>.+?) (?:{_TIME})\?\s*$",
    re.S,
)


class ParsedFact(NamedTuple):
    subject: str
    relation: str  # key of FACT_RELATIONS' values
    object: str
    time: str  # the time expression as written ("in 1999" / "from 1999 to 2001")


class ParsedQuestion(NamedTuple):
    """``mode`` is "object" (answers fill the object slot of ``subject``'s facts) or "subject"
    (answers fill the subject slot of facts whose object is ``object``)."""

    mode: str
    relation: str
    subject: str | None  # the asked subject ("object" mode)
    object: str | None  # the shared object ("subject" mode)
    anchor_subject: str
    anchor_relation: str
    anchor_object: str


def norm(text: str) -> str:
    """NFC, case-folded, whitespace collapsed, one leading "the " dropped."""
    text = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return text[4:] if text.startswith("the ") else text


def parse_fact(fact: str) -> ParsedFact | None:
    """``<subject> <relation phrase> <object> (in <date> | from <date> to <date>).`` or None."""
    tail = _TIME_TAIL.search(fact)
    if not tail:
        return None
    body = _FACT_BODY.match(fact[: tail.start()].strip())
    if not body:
        return None
    return ParsedFact(body["subject"], FACT_RELATIONS[body["rel"]], body["object"], tail.group(0).strip(" ."))


def parse_question(question: str) -> ParsedQuestion | None:
    """The asked slot of a CoTempQA question, or None when it fits neither template."""
    q = " ".join(question.split())
    if m := _QUESTION_WHO.match(q):
        return ParsedQuestion("subject", WHO_RELATIONS[m["r2"]], None, m["o2"], m["s1"], ANCHOR_RELATIONS[m["r1"]], m["o1"])
    if m := _QUESTION_WHICH.match(q):
        return ParsedQuestion("object", ASKED_TYPES[m["type"]], m["s2"], None, m["s1"], ANCHOR_RELATIONS[m["r1"]], m["o1"])
    return None


def fact_supports(parsed_q: ParsedQuestion | None, fact: ParsedFact | None, answers: set[str]) -> bool:
    """Whether one parsed fact fills the asked slot with a (normalised) gold answer."""
    if fact is None:
        return False
    if parsed_q is None:  # question not understood: an answer fills either slot
        return norm(fact.object) in answers or norm(fact.subject) in answers
    if parsed_q.mode == "subject":
        return norm(fact.subject) in answers and norm(fact.object) == norm(parsed_q.object or "")
    return norm(fact.subject) == norm(parsed_q.subject or "") and norm(fact.object) in answers


def gold_fact_ids(question: str, facts: Sequence[str], answers: Sequence[str]) -> tuple[int, ...]:
    """1-based ids of the facts that fill the asked slot with a gold answer
    (see the module docstring for the rule)."""
    wanted = {norm(a) for a in answers if a.strip()}
    parsed_q = parse_question(question)
    return tuple(i for i, text in enumerate(facts, start=1) if fact_supports(parsed_q, parse_fact(text), wanted))
