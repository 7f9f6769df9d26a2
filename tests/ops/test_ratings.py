"""The rating study without a browser: item sampling, the counterbalanced order, answer checks,
storage through the real DuckDB store, the statistics, the simulated panel and import/export."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from scipy import stats

from tracekd_ops.ratings.analysis import analyse, holm
from tracekd_ops.ratings.formats import FORMATS, ImportRejected, export, read
from tracekd_ops.ratings.items import sample_item_set
from tracekd_ops.ratings.storage import (
    REAL,
    ParticipantTaken,
    load_items,
    ratings_of,
    record_answer,
    session_for,
    start_session,
    store_item_set,
)
from tracekd_ops.ratings.study import ATTENTION_TEXT, RatingRejected, check_answer, participant_order, williams_square
from tracekd_ops.steps.catalog import CATALOG
from tracekd_ops.steps.ratings import analyse_ratings, build_item_set, import_ratings, run_simulated_panel
from tests.conftest import store_traces
from tracekd_ops.store.group_commit import GroupCommit
from tracekd_ops.store.store import Store

@pytest.fixture
def study(tmp_path: Path) -> tuple[Store, str]:
    store = Store(tmp_path / "tracekd.duckdb", tables=CATALOG)
    store_traces(store)
    return store, build_item_set(store, "synthetic", per_condition=4, seed=0, attention_checks=2)["item_set_version"]


def test_williams_square_balances_positions_and_carry_over():
    for n in (2, 3, 4, 5):
        rows = williams_square(n)
        assert all(sorted(row) == list(range(n)) for row in rows)
        for position in range(n):  # each condition takes each serial position equally often
            assert len(set(Counter(row[position] for row in rows).values())) == 1
        pairs = Counter((row[k], row[k + 1]) for row in rows for k in range(n - 1))
        assert len(pairs) == n * (n - 1) and len(set(pairs.values())) == 1  # each ordered pair follows equally often


def test_item_set_is_balanced_paired_seeded_and_leaves_out_answer_only_traces(study):
    store, version = study
    items = load_items(store, version)
    rated = [i for i in items if not i.attention_check]
    assert Counter(i.condition for i in rated) == {"correct": 4, "incorrect": 4, "swapped": 4}  # solution_only has no trace
    assert len({i.example_id for i in rated}) == 4  # the same questions in every condition
    checks = [i for i in items if i.attention_check]
    assert len(checks) == 2 and all(i.trace == ATTENTION_TEXT for i in checks)
    assert all(i.trace_corrupted for i in rated if i.condition == "incorrect")
    assert not any(i.trace_corrupted for i in rated if i.condition == "correct")
    assert all(i.condition not in i.item_id for i in items)  # ids do not reveal the condition
    # the same traces and seed give the same version; another seed another one
    assert build_item_set(store, "synthetic", 4, 0, 2)["item_set_version"] == version
    assert build_item_set(store, "synthetic", 4, 1, 2)["item_set_version"] != version


def test_item_set_refuses_nothing_to_rate_and_shrinks_to_what_every_condition_has(tmp_path: Path):
    store = Store(tmp_path / "tracekd.duckdb", tables=CATALOG)
    store_traces(store, conditions=("solution_only",))
    with pytest.raises(ValueError, match="no trace set has traces to rate"):
        build_item_set(store, "synthetic", 4, 0, 2)
    store_traces(store, conditions=("correct", "incorrect"), train_per_task=1)  # 3 traces each
    fewer = build_item_set(store, "synthetic", 4, 0, 2)
    assert fewer["items"] == 2 * 3 + 2 and fewer["conditions"] == ["correct", "incorrect"]
    with pytest.raises(ValueError, match="no stored traces"):
        build_item_set(Store(tmp_path / "empty.duckdb", tables=CATALOG), "synthetic", 4, 0, 2)


def test_order_takes_every_condition_each_round_and_spreads_attention_checks(study):
    store, version = study
    items = [i.as_order_item() for i in load_items(store, version)]
    condition_of = {i.item_id: i.condition for i in items}
    first_conditions = Counter()
    for row in range(6):
        order = participant_order(items, row, f"p{row}", version)
        assert sorted(order) == sorted(i.item_id for i in items)
        checks = [k for k, item in enumerate(order) if condition_of[item] == "attention_check"]
        assert checks == [4, 9]  # 12 rated items, 2 checks: after a third and two thirds
        rated = [condition_of[i] for i in order if condition_of[i] != "attention_check"]
        assert all(sorted(rated[k : k + 3]) == ["correct", "incorrect", "swapped"] for k in range(0, 12, 3))
        first_conditions[rated[0]] += 1
    assert set(first_conditions.values()) == {2}  # 6 participants: each condition leads twice


@pytest.mark.parametrize(
    "form, field",
    [
        ({"cognitive_load": "3"}, "interpretability"),
        ({"interpretability": "6", "cognitive_load": "3"}, "interpretability"),
        ({"interpretability": "0", "cognitive_load": "3"}, "interpretability"),
        ({"interpretability": "2", "cognitive_load": "3.5"}, "cognitive_load"),
        ({"interpretability": "2", "cognitive_load": "-1"}, "cognitive_load"),
        ({"interpretability": "2", "cognitive_load": "3", "comment": "x" * 2001}, "comment"),
        ({"interpretability": "2", "cognitive_load": "3", "comment": "bell\x07"}, "comment"),
    ],
)
def test_answers_outside_the_scales_are_rejected_naming_the_field(form, field, faults):
    with pytest.raises(RatingRejected) as error:
        check_answer(form)
    assert error.value.field == field
    faults.held("bad_input")


def test_sessions_resume_refuse_another_browser_and_count_an_answer_once(study):
    store, version = study
    items = load_items(store, version)
    writes = GroupCommit(store)
    session = writes.submit(start_session, items, version, "P1", "token-a", "prolific", "S", "X").result()
    assert writes.submit(start_session, items, version, "P1", "token-a", "prolific", "S", "X").result() == session  # reload
    with pytest.raises(ParticipantTaken):
        writes.submit(start_session, items, version, "P1", "token-b", "prolific", "S", "X").result()
    other = writes.submit(start_session, items, version, "P2", "token-c", "prolific", "S", "Y").result()
    assert other.counterbalance_row == session.counterbalance_row + 1
    by_id = {i.item_id: i for i in items}
    first = by_id[session.item_order[0]]
    assert writes.submit(record_answer, session, first, {"interpretability": 4, "cognitive_load": 2}, None).result()
    assert not writes.submit(record_answer, session, first, {"interpretability": 1, "cognitive_load": 1}, "again").result()
    rows = ratings_of(store, version, REAL)
    assert len(rows) == 1 and (rows[0]["interpretability"], rows[0]["cognitive_load"]) == (4, 2)
    assert session_for(store, "token-a") == (session, {first.item_id}) and session_for(store, "token-c") == (other, set())
    assert session_for(store, "token-never-issued") is None
    assert "token-a" not in json.dumps(store.rows("SELECT * FROM rating_sessions"), default=str)  # only its hash is kept


def test_holm_matches_the_step_down_definition():
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def synthetic_ratings(items, participants: int, shift: dict[str, float], seed: int = 0, failing: int = 0):
    """Ratings whose interpretability is shifted per condition; the first `failing` participants
    miss the attention checks."""
    rng, rows = random.Random(seed), []
    for p in range(participants):
        for item in items:
            if item.attention_check:
                values = (3, 3) if p < failing else (item.expected_interpretability, item.expected_cognitive_load)
            else:
                level = 3 + shift.get(item.condition, 0.0) + rng.choice((-1, 0, 0, 1))
                values = (max(1, min(5, round(level))), rng.randint(1, 5))
            rows.append({"participant_id": f"p{p}", "item_id": item.item_id, "condition": item.condition,
                         "interpretability": values[0], "cognitive_load": values[1]})  # fmt: skip
    return rows


def test_analysis_finds_a_real_difference_excludes_inattentive_raters_and_agrees_with_scipy(study):
    store, version = study
    items = load_items(store, version)
    ratings = synthetic_ratings(items, participants=12, shift={"correct": 1.5, "incorrect": -1.0}, failing=2)
    result = analyse(items, ratings)
    flagged = {p["participant_id"] for p in result.participants if p["excluded"]}
    assert flagged == {"p0", "p1"}
    summary = {(r["condition"], r["scale"]): r for r in result.summary}
    assert summary[("correct", "interpretability")]["n_participants"] == 10
    assert summary[("correct", "interpretability")]["mean"] > summary[("swapped", "interpretability")]["mean"] > summary[("incorrect", "interpretability")]["mean"]
    low, high = summary[("correct", "interpretability")]["ci_low"], summary[("correct", "interpretability")]["ci_high"]
    assert low < summary[("correct", "interpretability")]["mean"] < high
    tests = {(r["scale"], r["test"], r["groups"]): r for r in result.tests}
    friedman = tests[("interpretability", "friedman", "correct,incorrect,swapped")]
    assert friedman["n"] == 10 and friedman["p"] < 0.001
    # the same test computed here from the raw rows of the attentive participants
    kept = [r for r in ratings if r["participant_id"] not in flagged and r["condition"] != "attention_check"]
    means = {c: [sum(r["interpretability"] for r in kept if r["participant_id"] == p and r["condition"] == c) / 4
                 for p in sorted({r["participant_id"] for r in kept})] for c in ("correct", "incorrect", "swapped")}  # fmt: skip
    assert friedman["statistic"] == pytest.approx(stats.friedmanchisquare(*means.values()).statistic)
    pair = tests[("interpretability", "wilcoxon", "correct,incorrect")]
    assert pair["p_holm"] < 0.05 and pair["p_holm"] >= pair["p"]
    assert tests[("cognitive_load", "friedman", "correct,incorrect,swapped")]["p"] > 0.01  # no effect there
    alpha = tests[("interpretability", "krippendorff_alpha_ordinal", "correct,incorrect,swapped")]["statistic"]
    assert 0.3 < alpha < 1.0


def test_analysis_says_why_a_statistic_is_undefined(study):
    store, version = study
    items = load_items(store, version)
    one = synthetic_ratings(items, participants=1, shift={})
    tests = analyse(items, one).tests
    assert {t["note"] for t in tests if t["test"] == "krippendorff_alpha_ordinal"} == {"needs at least 2 raters"}
    assert all(t["p"] is None for t in tests if t["test"] in ("friedman", "wilcoxon"))
    with pytest.raises(ValueError, match="not in the item set"):
        analyse(items, [{**one[0], "item_id": "forged"}])


def test_simulated_panel_is_labelled_and_never_mixed_with_real_ratings(study):
    store, version = study
    run_simulated_panel(store, raters=12, seed=0, version=version)
    first = analyse_ratings(store, version)
    assert first["panels"] == ["simulated"] and first["reported_panel"] == "simulated"
    items = load_items(store, version)
    with store.connect(write=True) as con:
        session = start_session(con, items, version, "P1", "tok", "lab")
        for item_id in session.item_order:
            item = next(i for i in items if i.item_id == item_id)
            record_answer(con, session, item, {"interpretability": item.expected_interpretability or 5,
                                               "cognitive_load": item.expected_cognitive_load or 1}, None)  # fmt: skip
    second = analyse_ratings(store, version)
    assert second["panels"] == ["real", "simulated"] and second["reported_panel"] == "real"
    by_panel = Counter(r["panel"] for r in store.rows("SELECT panel FROM rating_summary WHERE item_set_version = ?", [version]))
    assert by_panel == {"real": 6, "simulated": 6}  # 3 conditions x 2 scales each, computed apart
    real = store.rows("SELECT * FROM rating_summary WHERE panel = 'real' AND scale = 'interpretability'")
    assert {r["mean"] for r in real} == {5.0} and {r["n_participants"] for r in real} == {1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_gives_the_same_ratings(study, tmp_path: Path, fmt: str):
    store, version = study
    items = load_items(store, version)
    ratings = [{**r, "comment": "clear, but long" if k % 5 == 0 else None}
               for k, r in enumerate(synthetic_ratings(items, participants=3, shift={"correct": 1}))]  # fmt: skip
    path = tmp_path / f"ratings.{fmt}"
    export(fmt, items, ratings, version, path)
    back = read(fmt, path, items)
    key = lambda r: (r["participant_id"], r["item_id"])  # noqa: E731
    assert [(key(r), r["interpretability"], r["cognitive_load"], r["comment"]) for r in sorted(back, key=key)] == [
        (key(r), r["interpretability"], r["cognitive_load"], r["comment"]) for r in sorted(ratings, key=key)
    ]
    assert import_ratings(store, fmt, path, version)["ratings"] == len(ratings)
    assert import_ratings(store, fmt, path, version)["ratings"] == len(ratings)  # a second import replaces the first
    assert len(ratings_of(store, version, REAL)) == len(ratings)


def test_a_bad_import_names_the_line_and_field_and_changes_nothing(study, tmp_path: Path, faults):
    store, version = study
    items = load_items(store, version)
    good = tmp_path / "good.csv"
    export("csv", items, synthetic_ratings(items, participants=2, shift={}), version, good)
    import_ratings(store, "csv", good, version)
    before = store.rows("SELECT * FROM ratings ORDER BY panel, participant_id, item_id")
    header, first, second = good.read_text().splitlines()[0], items[0].item_id, items[1].item_id
    cases = {
        "line 3: interpretability: must be one of 1-5; got '7'": [f"p9,{first},,,,,,3,3,,", f"p9,{second},,,,,,7,3,,"],
        "line 2: item_id: 'forged' is not an item of this item set": ["p9,forged,,,,,,3,3,,"],
        "line 2: participant_id: missing": [f",{first},,,,,,3,3,,"],
        "line 3: participant p9 rated item": [f"p9,{first},,,,,,3,3,,", f"p9,{first},,,,,,4,4,,"],
        "no ratings in the file": [],
    }
    for message, lines in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join([header, *lines]) + "\n")
        with pytest.raises(ImportRejected, match=message) as error:
            import_ratings(store, "csv", bad, version)
        assert str(bad) in str(error.value)
    assert store.rows("SELECT * FROM ratings ORDER BY panel, participant_id, item_id") == before
    run_simulated_panel(store, raters=2, seed=0, version=version)  # an export of the simulated panel is refused
    for fmt in FORMATS:
        simulated = tmp_path / f"simulated.{fmt}"
        export(fmt, items, ratings_of(store, version, "simulated"), version, simulated)
        with pytest.raises(ImportRejected, match="panel: a simulated rating"):
            import_ratings(store, fmt, simulated, version)
    before = store.rows("SELECT * FROM ratings ORDER BY panel, participant_id, item_id")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ImportRejected, match="empty.csv:1: missing column"):
        import_ratings(store, "csv", tmp_path / "empty.csv", version)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ImportRejected, match="not JSON"):
        import_ratings(store, "label-studio", tmp_path / "bad.json", version)
    assert store.rows("SELECT * FROM ratings ORDER BY panel, participant_id, item_id") == before
    faults.held("bad_input")


def test_stored_item_set_round_trips(study):
    store, version = study
    items = load_items(store, version)
    records = {i.condition: i for i in items}
    assert records["correct"].trace.startswith("<think>The category of the question asked is:")
    assert records["correct"].facts.startswith("[1] ") and records["correct"].question.endswith("?")
    item_set = sample_item_set("synthetic", {"correct": store.rows("SELECT * FROM traces WHERE condition = 'correct'")}, 4, 0, 2)
    assert store_item_set(store, item_set) == 6


@pytest.mark.parametrize("edit", ["delete the panel column", "write Simulated", "write real"])
def test_an_edited_export_of_the_simulated_panel_never_enters_the_real_panel(study, tmp_path: Path, edit: str, faults):
    import csv

    store, version = study
    items = load_items(store, version)
    run_simulated_panel(store, raters=3, seed=0, version=version)
    path = tmp_path / "ratings.csv"
    export("csv", items, ratings_of(store, version, "simulated"), version, path)
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        if edit == "delete the panel column":
            row.pop("panel")
        else:
            row["panel"] = "Simulated" if edit == "write Simulated" else "real"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ImportRejected, match="line 2: participant_id: sim-001 is one of TraceKD's synthetic raters"):
        import_ratings(store, "csv", path, version)
    assert ratings_of(store, version, REAL) == []
    faults.held("bad_input")


def test_imports_are_idempotent_never_delete_each_other_and_count_a_rating_once(study, tmp_path: Path):
    store, version = study
    items = load_items(store, version)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "ratings.csv", tmp_path / "b" / "ratings.csv"
    export("csv", items, synthetic_ratings(items, participants=2, shift={}), version, first)
    export("csv", items, [{**r, "participant_id": r["participant_id"] + "-b"} for r in synthetic_ratings(items, participants=2, shift={})],
           version, second)  # fmt: skip
    one = import_ratings(store, "csv", first, version)
    for _ in range(3):  # the same ratings again, as often as you like: stored once
        assert import_ratings(store, "csv", first, version)["source"] == one["source"]
    assert len(ratings_of(store, version, REAL)) == one["ratings"]
    import_ratings(store, "csv", second, version)  # the same base name, other ratings: a's stay
    assert len(ratings_of(store, version, REAL)) == 2 * one["ratings"]
    copy = tmp_path / "copy.csv"
    copy.write_text(first.read_text() + "\n")  # the same ratings in another file: refused, not counted twice
    with pytest.raises(ImportRejected, match="already rated item .* a rating is counted once"):
        import_ratings(store, "csv", copy, version, name="study-2")
    lab = tmp_path / "lab.csv"
    lab_ratings = [{**r, "participant_id": r["participant_id"] + "-lab"} for r in synthetic_ratings(items, participants=1, shift={})]
    export("csv", items, lab_ratings, version, lab)
    named = import_ratings(store, "csv", lab, version, name="lab")
    assert (named["source"], named["replaced"]) == ("import:lab", 0)
    export("csv", items, lab_ratings[:3], version, lab)  # corrected and imported again under its name: it replaces, and says so
    again = import_ratings(store, "csv", lab, version, name="lab")
    assert (again["ratings"], again["replaced"]) == (3, len(lab_ratings))
    assert len(ratings_of(store, version, REAL)) == 2 * one["ratings"] + 3


def test_a_story_never_comes_back_within_a_round_nor_back_to_back(study):
    store, version = study
    items = [i.as_order_item() for i in load_items(store, version)]
    question_of = {i.item_id: i.example_id for i in items if not i.attention_check}
    conditions = len({i.condition for i in items if not i.attention_check})
    for row in range(6):
        asked = [question_of[i] for i in participant_order(items, row, f"p{row}", version) if i in question_of]
        rounds = [asked[k : k + conditions] for k in range(0, len(asked), conditions)]
        assert all(len(set(r)) == len(r) for r in rounds), rounds
        assert all(a != b for a, b in zip(asked, asked[1:])), asked


def store_styled_traces(store: Store, style: str) -> None:
    """Like `store_traces`, in the given trace style (the conditions as the traces step stores them)."""
    from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
    from tracekd_ops.traces.conditions import TraceOptions, condition
    from tracekd_ops.traces.trace_set import build

    records = [r for r in generate(SyntheticConfig(train_per_task=10, test_per_task=2)) if r.split == "train"]
    for name in ("solution_only", "correct", "incorrect", "swapped"):
        trace_set = build("synthetic", condition(name), records, TASKS, TraceOptions(style=style))
        keys = {"dataset": "synthetic", "condition": name}
        store.replace_partitions([("traces", keys, trace_set.frame()), ("trace_sets", keys, [trace_set.summary_row()])])


@pytest.fixture(params=["sentences", "compact"])
def styled_study(request, tmp_path: Path) -> tuple[Store, str]:
    store = Store(tmp_path / "tracekd.duckdb", tables=CATALOG)
    store_styled_traces(store, request.param)
    return store, build_item_set(store, "synthetic", per_condition=4, seed=0, attention_checks=2)["item_set_version"]


def test_an_items_trace_is_the_completion_its_student_was_trained_on(styled_study):
    """What people rate is what the student learned from: the shown trace is, character for
    character, the completion the training step reads for that condition and question, and what
    the renderer writes for the row's steps (no rewording, no stripped markup)."""
    from tracekd_ops.traces.render import render_completion
    from tracekd_ops.traces.tables import read_traces

    store, version = styled_study
    rated = [i for i in load_items(store, version) if not i.attention_check]
    assert rated
    for item in rated:
        frame = read_traces(store, "synthetic", item.condition)  # what `train_students` hands the trainer
        (row,) = frame[(frame["example_id"] == item.example_id) & (frame["trace_set_version"] == item.trace_set_version)].to_dict("records")
        assert item.trace == row["completion"], (item.condition, item.trace, row["completion"])
        rendered = render_completion(row["rendered_class"], list(row["rendered_fact_ids"]), row["rendered_answer"], row["style"])
        assert item.trace == rendered
        assert item.trace.startswith("<think>") and item.trace.endswith(f"<answer>{item.answer}</answer>")


def test_the_item_set_version_follows_the_shown_text(study):
    """Another shown trace, however small the change, is another item set (ratings never mix them)."""
    store, version = study
    rows = store.rows("SELECT t.* FROM traces t WHERE t.split = 'train' ORDER BY t.condition, t.example_id")
    by_condition: dict[str, list[dict]] = {}
    for row in rows:
        by_condition.setdefault(row["condition"], []).append(row)
    assert sample_item_set("synthetic", by_condition, 4, 0, 2).version == version
    shown = {i.example_id for i in load_items(store, version) if i.condition == "correct"}
    edited = [{**r, "completion": r["completion"].replace("</think>", " </think>")} if r["example_id"] in shown else r
              for r in by_condition["correct"]]  # fmt: skip
    other = sample_item_set("synthetic", {**by_condition, "correct": edited}, 4, 0, 2)
    assert other.version != version
    assert {i.trace for i in other.items if i.condition == "correct"} == {r["completion"] for r in edited if r["example_id"] in shown}


def explained_terms(body: str) -> dict[str, str]:
    """The instructions' explained labels (definition list): shown text -> its meaning."""
    import html
    import re

    text = lambda fragment: html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()  # noqa: E731
    return {text(term): text(meaning) for term, meaning in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", body, re.S)}


def test_every_label_an_item_shows_is_explained_in_the_instructions(styled_study):
    """Every word of a rated trace that is not the answer (tags, the steps' fixed wording, category
    names) is in a label the instructions explain; every fact number is one the story shows; every
    category has its plain-words meaning."""
    import re

    from tracekd_ops.core.markup import MARKUP_TOKENS
    from tracekd_ops.ratings.server import instructions_body
    from tracekd_ops.steps.ratings import label_meanings
    from tracekd_ops.traces.render import parse_completion

    store, version = styled_study
    items = load_items(store, version)
    meanings = label_meanings(store, version)  # the dataset spec's
    terms = explained_terms(instructions_body(items, meanings))
    assert terms and all(terms.values())
    explained_words = {w for term in terms for w in re.findall(r"[A-Za-z][A-Za-z_-]*", term)}
    for item in (i for i in items if not i.attention_check):
        parsed = parse_completion(item.trace)
        for tag in MARKUP_TOKENS:
            if tag in item.trace:
                assert any(tag in term for term in terms), tag
        assert parsed.category in terms and meanings[parsed.category] in terms[parsed.category]
        labels = item.trace.replace(f"<answer>{parsed.answer}</answer>", "<answer></answer>")
        unexplained = set(re.findall(r"[A-Za-z][A-Za-z_-]*", labels))
        assert unexplained <= explained_words, unexplained - explained_words
        for tag in MARKUP_TOKENS:
            labels = labels.replace(tag, "")
        marks = set(re.findall(r"[^\w\s.,:-]", labels))  # brackets, separators: marks a sentence does not explain
        assert all(any(mark in term for term in terms) for mark in marks), marks
        if item.condition == "correct":  # the numbers are those of the story's facts (`swapped` borrows another story's)
            assert all(f"\n[{n}] " in "\n" + item.facts for n in parsed.fact_ids or ())
    assert any("numbered facts" in meaning for meaning in terms.values())


def test_a_free_text_trace_is_said_to_be_free_text_and_its_tags_explained(study):
    import dataclasses

    from tracekd_ops.ratings.server import instructions_body
    from tracekd_ops.traces.render import render_free_trace

    store, version = study
    items = load_items(store, version)
    free = [dataclasses.replace(i, trace=render_free_trace("Daniel picked up the apple, then went to the garden.", i.answer))
            for i in items if not i.attention_check]  # fmt: skip
    body = instructions_body(free, {})
    terms = explained_terms(body)
    assert set(terms) == {"<think> … </think>", "<answer> … </answer>"} and "free text" in body


def test_every_built_in_category_has_its_meaning_in_its_dataset_spec(monkeypatch):
    """Each built-in dataset's spec says every one of its categories in plain words, and nothing
    else: a renamed or added label fails here instead of reaching raters unexplained. A label with
    no meaning (a user's dataset that gives none) is still explained, generically."""
    from tracekd_ops.datasets import dataset_names, dataset_spec
    from tracekd_ops.datasets.catalog import SPECS_VARIABLE
    from tracekd_ops.ratings.glossary import glossary

    monkeypatch.delenv(SPECS_VARIABLE, raising=False)  # the built-in datasets only, not the user's own
    for name in dataset_names():
        spec = dataset_spec(name)
        assert set(spec.label_meanings) == set(spec.labels) and all(spec.label_meanings.values()), name
    assert glossary((), {}) == ()
