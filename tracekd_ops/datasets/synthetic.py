"""Generator of bAbI-style stories: the embedded default dataset (no files, no network).

People move between places and pick up and drop objects; questions come from three bAbI task
types, each with its task label, numbered facts, answer and the gold supporting-fact ids. The
gold ids are *sufficient*: an oracle reading only those facts answers every question (tested).

Deterministic given a seed. Train and test are disjoint by content (story + question), so a
student cannot pass the test split by memorising training items.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from tracekd_ops.core.records import Fact, QARecord
from tracekd_ops.datasets.answers import BABI_EXACT_MATCH
from tracekd_ops.datasets.babi import LABEL_MEANINGS  # three of bAbI's tasks, told as bAbI tells them
from tracekd_ops.datasets.specs import DatasetSpec

DATASET = "synthetic"
GENERATOR_VERSION = "1"
"""Bump when a change to the generator changes its output for a given seed."""

SINGLE = "single-supporting-fact"
TWO = "two-supporting-facts"
YES_NO = "yes-no-questions"
TASKS: tuple[str, ...] = (SINGLE, TWO, YES_NO)

PEOPLE = ("Mary", "John", "Sandra", "Daniel")
PLACES = ("kitchen", "garden", "hallway", "bathroom", "office", "bedroom")
OBJECTS = ("football", "apple", "milk")
MOVE_VERBS = ("went to", "moved to", "journeyed to", "travelled to")
GRAB_VERBS = ("got", "picked up")
DROP_VERBS = ("dropped", "put down")


@dataclass(frozen=True)
class SyntheticConfig:
    """Size knobs; story length is the main lever on how hard the task is for a tiny student."""

    seed: int = 0
    train_per_task: int = 6000
    test_per_task: int = 100
    min_facts: int = 2
    max_facts: int = 4


@dataclass
class _World:
    """State while a story is told: who is where, who holds what, and which fact said so."""

    location: dict[str, tuple[str, int]]
    holder: dict[str, tuple[str, int]]


def _tell_story(rng: random.Random, n_facts: int, with_objects: bool) -> tuple[list[Fact], _World]:
    world = _World(location={}, holder={})
    facts: list[Fact] = []
    while len(facts) < n_facts:
        fid = len(facts) + 1
        person = rng.choice(PEOPLE)
        held = [o for o, (p, _) in world.holder.items() if p == person]
        free = [o for o in OBJECTS if o not in world.holder]
        roll = rng.random()
        if with_objects and person in world.location and held and roll < 0.2:
            obj = rng.choice(held)
            facts.append(Fact(fid, f"{person} {rng.choice(DROP_VERBS)} the {obj}."))
            del world.holder[obj]
        elif with_objects and person in world.location and free and roll < 0.45:
            obj = rng.choice(free)
            facts.append(Fact(fid, f"{person} {rng.choice(GRAB_VERBS)} the {obj} there."))
            world.holder[obj] = (person, fid)
        else:
            place = rng.choice(PLACES)
            facts.append(Fact(fid, f"{person} {rng.choice(MOVE_VERBS)} the {place}."))
            world.location[person] = (place, fid)
    return facts, world


def _question(
    rng: random.Random, task: str, world: _World
) -> tuple[str, str, tuple[int, ...]] | None:
    """(question, answer, gold ids) for the story's final state, or None if the story can't ask it."""
    if task in (SINGLE, YES_NO):
        if not world.location:
            return None
        person = rng.choice(sorted(world.location))
        place, fid = world.location[person]
        if task == SINGLE:
            return f"Where is {person}?", place, (fid,)
        asked = place if rng.random() < 0.5 else rng.choice([p for p in PLACES if p != place])
        return f"Is {person} in the {asked}?", "yes" if asked == place else "no", (fid,)
    carried = [o for o, (p, _) in world.holder.items() if p in world.location]
    if not carried:
        return None
    obj = rng.choice(sorted(carried))
    person, grab_id = world.holder[obj]
    place, move_id = world.location[person]
    return f"Where is the {obj}?", place, tuple(sorted((grab_id, move_id)))


def _content_key(facts: list[Fact], question: str) -> str:
    text = "\n".join(f.text for f in facts) + "\n" + question
    return hashlib.sha1(text.encode()).hexdigest()


def generate(config: SyntheticConfig = SyntheticConfig()) -> list[QARecord]:
    """All train and test records for every task, deterministic in `config`."""
    records: list[QARecord] = []
    seen: set[str] = set()
    for split, per_task in (("train", config.train_per_task), ("test", config.test_per_task)):
        for task_index, task in enumerate(TASKS):
            rng = random.Random(f"{config.seed}/{split}/{task}")
            made = 0
            while made < per_task:
                n_facts = rng.randint(config.min_facts, config.max_facts)
                facts, world = _tell_story(rng, n_facts, with_objects=task == TWO)
                asked = _question(rng, task, world)
                if asked is None:
                    continue
                question, answer, gold = asked
                if len(gold) == len(facts):  # no distractor: the IR step would be trivial
                    continue
                key = _content_key(facts, question)
                if key in seen:  # keeps the splits disjoint (and each split free of duplicates)
                    continue
                seen.add(key)
                example_id = f"{split}-{task_index + 1}-{made:05d}"
                records.append(
                    QARecord(
                        dataset=DATASET,
                        split=split,
                        example_id=example_id,
                        category=task,
                        question=question,
                        facts=tuple(facts),
                        answers=(answer,),
                        gold_fact_ids=gold,
                        source=f"generated:babi_like(seed={config.seed})#{example_id}",
                    )
                )
                made += 1
    return records


def oracle_answer(record: QARecord) -> str:
    """Answer using only the gold facts: proves the decomposition's IR step is sufficient."""
    gold = [record.fact(i).text for i in record.gold_fact_ids]
    if record.category == TWO:
        grab = next(t for t in gold if " the " in t and t.endswith(" there."))
        move = next(t for t in gold if t is not grab)
        assert grab.split()[0] == move.split()[0], "gold facts name different people"
        return move.rstrip(".").split()[-1]
    place = gold[0].rstrip(".").split()[-1]
    if record.category == SINGLE:
        return place
    asked = record.question.rstrip("?").split()[-1]
    return "yes" if asked == place else "no"


PHRASES: tuple[str, ...] = tuple(f"{verb} the" for verb in MOVE_VERBS + GRAB_VERBS + DROP_VERBS) + ("Where is the", "Where is", "in the")
"""The templates' fixed wording, around the people, places and objects the stories vary."""

SPEC = DatasetSpec(name=DATASET, labels=TASKS, answer=BABI_EXACT_MATCH, label_meanings={task: LABEL_MEANINGS[task] for task in TASKS},
                   generate=generate, vocabulary_phrases=PHRASES)  # fmt: skip
