from collections import Counter

from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate, oracle_answer

CONFIG = SyntheticConfig(seed=3, train_per_task=200, test_per_task=50)


def test_generator_is_deterministic_given_a_seed():
    assert generate(CONFIG) == generate(CONFIG)
    assert generate(CONFIG) != generate(SyntheticConfig(seed=4, train_per_task=200, test_per_task=50))


def test_three_task_types_with_requested_sizes():
    counts = Counter((r.split, r.category) for r in generate(CONFIG))
    assert len(TASKS) >= 3 and {"single-supporting-fact", "two-supporting-facts"} <= set(TASKS)
    assert counts == {**{("train", t): 200 for t in TASKS}, **{("test", t): 50 for t in TASKS}}


def test_train_and_test_are_disjoint_by_content():
    records = generate(CONFIG)
    content = lambda r: (tuple(f.text for f in r.facts), r.question)  # noqa: E731
    train = {content(r) for r in records if r.split == "train"}
    test = {content(r) for r in records if r.split == "test"}
    assert train and test and not train & test


def test_facts_are_numbered_and_gold_ids_point_into_the_story():
    for record in generate(CONFIG):
        assert [f.id for f in record.facts] == list(range(1, len(record.facts) + 1))
        assert set(record.gold_fact_ids) < set(record.fact_ids)  # at least one distractor
        expected = 2 if record.category == "two-supporting-facts" else 1
        assert len(record.gold_fact_ids) == expected


def test_an_oracle_reading_only_the_gold_facts_answers_everything():
    records = generate(CONFIG)
    assert all(oracle_answer(r) == r.answers[0] for r in records)


def test_yes_no_answers_are_balanced_enough_that_chance_is_meaningful():
    answers = Counter(r.answers[0] for r in generate(CONFIG) if r.category == "yes-no-questions")
    assert abs(answers["yes"] - answers["no"]) <= 0.2 * sum(answers.values())
