"""The tables of the rating study: item sets and items, sessions, ratings, and the analysis'
summaries, tests and participants. Their queries are `storage.py`'s; the analysis tables are
written by `steps.ratings`."""

from __future__ import annotations

from tracekd_ops.core.tables import Table

MEANINGS: dict[str, str] = {
    "item_set_version": "content hash of the rating item set (the items people rate)",
    "item_id": "opaque id of a rating item (a hash, so the page never reveals the condition)",
    "participant_id": "rater id: Prolific PID, the URL's participant_id, lab-<hex> made by the page, sim-NNN (simulated) or as imported",
    "panel": "real (people) or simulated (TraceKD's synthetic raters, not people); never analysed together",
    "interpretability": "the rater's answer to how interpretable the reasoning is: 1 not at all to 5 completely",
    "cognitive_load": "the rater's answer to how much effort following the reasoning took: 1 very little to 5 very much",
}
"""Column meanings shared by this wing's tables (and any SQL model column of that name); those
shared across wings are `core.tables.MEANINGS`."""

RATING_ITEM_SETS = Table(
    name="rating_item_sets",
    columns="""
        item_set_version VARCHAR NOT NULL, dataset VARCHAR NOT NULL, conditions VARCHAR[] NOT NULL,
        trace_set_versions VARCHAR NOT NULL, seed INTEGER NOT NULL, per_condition INTEGER NOT NULL,
        attention_checks INTEGER NOT NULL, paired BOOLEAN NOT NULL, items INTEGER NOT NULL, created_at TIMESTAMP NOT NULL
    """,
    comment="versions of the items people rate (asset rating_items)",
    column_comments={
        "dataset": "the dataset whose trace sets the items were sampled from",
        "conditions": "the trace conditions rated (those that write a trace; solution_only has none)",
        "trace_set_versions": "JSON: condition -> version of the trace set its items come from",
        "seed": "the seed the items were sampled with",
        "per_condition": "items sampled per condition (the same questions in each, when paired)",
        "attention_checks": "attention-check items in the set",
        "paired": "whether every condition shows the same questions (differences then come from the traces)",
        "items": "items in the set, attention checks included",
        "created_at": "when the item set was stored (UTC)",
    },
)

RATING_ITEMS = Table(
    name="rating_items",
    columns="""
        item_set_version VARCHAR NOT NULL, item_id VARCHAR NOT NULL, dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        trace_set_version VARCHAR NOT NULL, example_id VARCHAR NOT NULL, facts VARCHAR NOT NULL, question VARCHAR NOT NULL,
        trace VARCHAR NOT NULL, answer VARCHAR NOT NULL, trace_words INTEGER NOT NULL, trace_corrupted BOOLEAN NOT NULL,
        attention_check BOOLEAN NOT NULL, expected_interpretability INTEGER, expected_cognitive_load INTEGER
    """,
    comment="traces shown to raters, one per item (asset rating_items)",
    column_comments={
        "condition": "trace condition of the item's trace; attention_check for an attention-check item",
        "trace_set_version": "version of the trace set the item's trace comes from",
        "example_id": "the training question the item shows",
        "facts": "the question's numbered facts, as the page shows them",
        "question": "the question, as the page shows it",
        "trace": "the trace raters see: the condition's training completion, unchanged; an attention check: its instruction",
        "answer": "the answer shown after the trace (the gold answer)",
        "trace_words": "length in words of the trace's reasoning (its <think> part; an attention check: its instruction)",
        "trace_corrupted": "whether a step the trace states differs from the question's gold step (incorrect, swapped)",
        "attention_check": "whether the item is an attention check rather than a trace",
        "expected_interpretability": "the interpretability an attention check asks for; NULL: not an attention check",
        "expected_cognitive_load": "the cognitive load an attention check asks for; NULL: not an attention check",
    },
)

RATING_SESSIONS = Table(
    name="rating_sessions",
    columns="""
        item_set_version VARCHAR NOT NULL, participant_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        study_id VARCHAR, session_id VARCHAR, token_sha256 VARCHAR NOT NULL, item_order VARCHAR[] NOT NULL,
        counterbalance_row INTEGER NOT NULL, started_at TIMESTAMP NOT NULL, completed_at TIMESTAMP
    """,
    comment="one rating session per participant and item set (the rating page)",
    column_comments={
        "platform": "how the participant arrived: prolific, url (?participant_id=) or lab (no parameters)",
        "study_id": "Prolific STUDY_ID from the study link; NULL: not given",
        "session_id": "Prolific SESSION_ID from the study link; NULL: not given",
        "token_sha256": "SHA-256 of the browser's session token (the token itself is never stored)",
        "item_order": "item ids in the order this participant is shown them",
        "counterbalance_row": "which balanced Latin square row ordered the conditions (sessions take rows in turn)",
        "started_at": "when the session started (UTC)",
        "completed_at": "when the last item was rated (UTC); NULL: not finished",
    },
)

RATINGS = Table(
    name="ratings",
    columns="""
        item_set_version VARCHAR NOT NULL, item_id VARCHAR NOT NULL, participant_id VARCHAR NOT NULL,
        panel VARCHAR NOT NULL, source VARCHAR NOT NULL, dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        trace_set_version VARCHAR NOT NULL, interpretability INTEGER NOT NULL, cognitive_load INTEGER NOT NULL,
        comment VARCHAR, submitted_at TIMESTAMP NOT NULL
    """,
    comment="people's ratings of traces, real or simulated panel (the rating page, tracekd ratings import)",
    column_comments={
        "source": "which rating source: rating page, import:<name or format:hash>, or the simulated panel",
        "dataset": "the dataset of the rated item",
        "condition": "trace condition of the rated item; attention_check for an attention-check item",
        "trace_set_version": "version of the trace set the rated trace comes from",
        "comment": "the rater's optional comment (at most 2,000 characters); NULL: none",
        "submitted_at": "when the rating was submitted or imported (UTC)",
    },
)

RATING_SUMMARY = Table(
    name="rating_summary",
    columns="""
        item_set_version VARCHAR NOT NULL, panel VARCHAR NOT NULL, dataset VARCHAR NOT NULL, condition VARCHAR NOT NULL,
        trace_set_version VARCHAR NOT NULL, scale VARCHAR NOT NULL, n_ratings INTEGER NOT NULL,
        n_participants INTEGER NOT NULL, mean DOUBLE, sd DOUBLE, ci_low DOUBLE, ci_high DOUBLE
    """,
    comment="mean ratings and CIs per condition and panel (asset rating_analysis)",
    column_comments={
        "trace_set_version": "version of the trace set the rated traces come from",
        "n_ratings": "ratings on the scale of this condition's items, excluded participants left out",
        "n_participants": "participants who rated this condition (excluded ones left out)",
        "mean": "mean rating on the scale (1-5)",
        "sd": "sample sd of the ratings; NULL: fewer than 2",
        "ci_low": "lower bound of the 95% t interval over participants' means; NULL: fewer than 2 participants",
        "ci_high": "upper bound of the 95% t interval over participants' means; NULL: fewer than 2 participants",
    },
)

RATING_TESTS = Table(
    name="rating_tests",
    columns="""
        item_set_version VARCHAR NOT NULL, panel VARCHAR NOT NULL, scale VARCHAR NOT NULL, test VARCHAR NOT NULL,
        groups VARCHAR NOT NULL, n INTEGER NOT NULL, statistic DOUBLE, p DOUBLE, p_holm DOUBLE, note VARCHAR
    """,
    comment="statistical tests between conditions' ratings (asset rating_analysis)",
    column_comments={
        "test": "krippendorff_alpha_ordinal (agreement), friedman (all conditions) or wilcoxon (a pair, signed-rank)",
        "groups": "the conditions the test compares, comma-separated",
        "n": "participants (raters for alpha) the test used",
        "statistic": "Krippendorff's alpha, Friedman's chi-square or Wilcoxon's W; NULL: undefined (see note)",
        "p": "p-value; NULL for alpha, or where the test is undefined (see note)",
        "p_holm": "Holm-corrected p over the pairwise Wilcoxon tests; NULL for the others",
        "note": "what the test ran on, or why it could not run",
    },
)

RATING_PARTICIPANTS = Table(
    name="rating_participants",
    columns="""
        item_set_version VARCHAR NOT NULL, panel VARCHAR NOT NULL, participant_id VARCHAR NOT NULL,
        rated INTEGER NOT NULL, attention_checks INTEGER NOT NULL, attention_failed INTEGER NOT NULL,
        excluded BOOLEAN NOT NULL
    """,
    comment="each participant's counts and whether they passed the attention checks (asset rating_analysis)",
    column_comments={
        "rated": "items rated, attention checks not counted",
        "attention_checks": "attention-check items the participant answered",
        "attention_failed": "attention checks answered otherwise than asked",
        "excluded": "whether the participant is left out of every statistic (failed an attention check)",
    },
)

TABLES = (RATING_ITEM_SETS, RATING_ITEMS, RATING_SESSIONS, RATINGS, RATING_SUMMARY, RATING_TESTS, RATING_PARTICIPANTS)
