import html

from tests.html_tables import misaligned_tables
from tracekd_ops.report.render import ReportData, figures_markdown, headline_lines, markdown_summary, render_html

ROWS = [
    {"dataset": "synthetic", "condition": "correct", "student": "s-a", "base_model": "tiny", "runs": 2, "runs_stopped_early": 0, "n": 300, "answer_accuracy": 0.6,
     "answer_accuracy_ci_low": 0.55, "answer_accuracy_ci_high": 0.65, "answer_accuracy_sd": 0.01, "trace_accuracy": 0.9,
     "trace_bleu": 0.8, "chance_accuracy": 0.28, "majority_accuracy": 0.29, "answer_delta_vs_solution_only": 0.01,
     "phi": 0.2, "chi2": 12.0, "fisher_p": 0.001, "share_both_correct": 0.55, "p_answer_given_trace_correct": 0.62,
     "p_answer_given_trace_wrong": 0.4, "eval_split": "test", "trace_set_versions": "abc", "model_revisions": "r1",
     "scorer_versions": "s1"},
    {"dataset": "synthetic", "condition": "solution_only", "student": "s-a", "base_model": "tiny", "runs": 2, "runs_stopped_early": 0, "n": 300, "answer_accuracy": 0.55,
     "answer_accuracy_ci_low": None, "answer_accuracy_ci_high": None, "trace_accuracy": None, "chance_accuracy": 0.28,
     "majority_accuracy": 0.29, "answer_delta_vs_solution_only": 0.0, "phi": None, "chi2": None,
     "p_answer_given_trace_correct": None, "p_answer_given_trace_wrong": None, "eval_split": "test",
     "trace_set_versions": "def", "model_revisions": "r2", "scorer_versions": "s1"},
]  # fmt: skip
CONSTRUCTION = [
    {"dataset": "synthetic", "condition": "teacher", "style": "sentences", "questions": 120, "traces": 90,
     "left_out_count": 30, "corrupted_rows": 0, "teacher_kept_rate": 0.75, "mean_trace_words": 41.5,
     "mean_completion_tokens": 63.2, "settings": '{"seed": 0}', "trace_set_version": "v-teach"},
]  # fmt: skip
CONTINGENCY = [
    {"dataset": "synthetic", "condition": "correct", "base_model": "tiny", "step": step, "step_ok_answer_ok": 150,
     "step_ok_answer_wrong": 120, "step_wrong_answer_ok": 30, "step_wrong_answer_wrong": 300 - 300 + 0}
    for step in ("class", "ir", "trace")
]  # fmt: skip
RUNS = [{"dataset": "synthetic", "condition": "correct", "trace_accuracy": 0.9, "answer_accuracy": 0.6},
        {"dataset": "synthetic", "condition": "correct", "trace_accuracy": 0.88, "answer_accuracy": 0.61}]  # fmt: skip
CATEGORIES = [{"dataset": "synthetic", "condition": c, "student": "s-a", "category": k, "answer_accuracy": 0.5}
              for c in ("correct", "solution_only") for k in ("single-supporting-fact", "yes-no-questions")]  # fmt: skip
DELTAS = [{"dataset": "synthetic", "condition": "correct", "base_model": "tiny", "seed": 0, "n": 300, "answer_accuracy": 0.6,
           "solution_only_accuracy": 0.55, "answer_delta": 0.05, "only_this_right": 30, "only_solution_only_right": 15, "mcnemar_p": 0.0374}]  # fmt: skip
REFERENCE = [{"dataset": "babi", "condition": "correct", "reference_model": "meta-llama/Llama-3.2-1B-Instruct",
              "reference_value": 0.944, "measured_model": None, "measured_value": None,
              "source": "Reference study (QLoRA students, bAbI exact match)"}]  # fmt: skip


BASELINES = [{"dataset": "synthetic", "category": "single-supporting-fact", "n": 100, "chance_accuracy": 0.167, "majority_accuracy": 0.19},
             {"dataset": "synthetic", "category": "yes-no-questions", "n": 100, "chance_accuracy": 0.5, "majority_accuracy": 0.52}]  # fmt: skip


RATINGS = [
    {"dataset": "synthetic", "condition": c, "panel": panel, "participants": 20, "interpretability_mean": m,
     "interpretability_ci_low": m - 0.2, "interpretability_ci_high": m + 0.2, "cognitive_load_mean": 2.5,
     "cognitive_load_ci_low": 2.3, "cognitive_load_ci_high": 2.7, "answer_accuracy": a, "reference_interpretability": ref,
     "reference_cognitive_load": None, "item_set_version": "items-v1", "rated_trace_set_version": "abc"}
    for c, m, a, ref, panel in (("correct", 4.2, 0.6, 4.86, "simulated"), ("incorrect", 3.1, 0.5, None, "simulated"))
]  # fmt: skip
RATING_TESTS = [{"panel": "simulated", "scale": "interpretability", "test": "friedman", "groups": "correct,incorrect",
                 "n": 20, "statistic": 12.5, "p": 0.0004, "p_holm": None, "note": "participant means"}]  # fmt: skip


def full_report() -> ReportData:
    return ReportData(ROWS, CONSTRUCTION, CONTINGENCY, RUNS, CATEGORIES, DELTAS, REFERENCE, BASELINES, {"scorer": "s1"})


def test_headline_states_accuracy_against_chance_and_the_association():
    correct, solution = headline_lines(ROWS)
    assert "answer accuracy 0.600" in correct and "chance 0.280" in correct and "significant at 5%" in correct
    assert "not significant" not in correct and "chi²" not in solution


def test_html_is_one_offline_file_with_every_figure_and_section():
    page = render_html(full_report())
    assert page.count("data:image/png;base64,") == 4  # accuracy bars, heatmaps, scatter, category bars
    assert "Human ratings" not in page  # no rating study yet: no section
    assert "http" not in page
    for section in ("How the training traces were built", "Step × answer tables", "Trace accuracy against answer accuracy",
                    "Answer accuracy per category", "Against solution-only", "Reference study, side by side", "Lineage"):  # fmt: skip
        assert section in page
    for value in ("abc", "r1", "s1", "solution_only", "0.280", "0.550–0.650", "0.037", "0.944", "v-teach", "QLoRA students"):
        assert value in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page  # laid out for a phone's width
    for term in ("IR step", "trace BLEU", "phi", "chi²", "Fisher p", "both right", "95% CI", "Δ vs solution-only", "tiny-llama-from-config",
                 "sft-N", "stopped early (--max-seconds)", "McNemar p"):  # fmt: skip
        assert f"<dt>{html.escape(term)}</dt>" in page, term
    assert "[1] S. Bhambri, U. Biswas, S. Kambhampati" in page and "issue" not in page.lower()
    # each category's own chance and majority stand in one row with every student's accuracy on it
    assert "<tr><td>synthetic</td><td>yes-no-questions</td><td>100</td><td>0.500</td><td>0.520</td><td>0.500</td><td>0.500</td></tr>" in page


def test_ratings_section_sets_interpretability_against_accuracy_and_labels_a_simulated_panel():
    from dataclasses import replace

    panels = [{"dataset": "synthetic", "panel": "simulated", "item_set_version": "items-v1", "participants": 24, "excluded": 2,
               "failed_an_attention_check": 2}]  # fmt: skip
    page = render_html(replace(full_report(), ratings=RATINGS, rating_tests=RATING_TESTS, rating_panels=panels))
    assert "synthetic, simulated panel: 24 participants rated item set items-v1; 2 left out of the statistics (2 failed an attention check)." in page
    assert page.count("data:image/png;base64,") == 5  # + the trade-off plot
    section = page[page.index("Human ratings"):page.index("Reference study, side by side")]
    assert "Simulated panel:" in section and section.count("simulated (not people)") == 2
    for value in ("4.200", "4.000–4.400", "4.860", "items-v1", "friedman", "&lt; 0.001"):  # a p-value below 0.001 says so
        assert value in section
    real = render_html(replace(full_report(), ratings=[{**r, "panel": "real"} for r in RATINGS], rating_tests=RATING_TESTS))
    assert "Simulated panel" not in real and "not people" not in real


def test_every_table_of_the_report_has_as_many_cells_in_each_row_as_headers():
    """Parsed as a browser reads it, with every section filled in (ratings too) and with none: a
    value under the wrong heading would tie a metric to the wrong lineage."""
    from dataclasses import replace

    panels = [{"dataset": "synthetic", "panel": "real", "item_set_version": "items-v1", "participants": 3, "excluded": 1,
               "failed_an_attention_check": 1}]  # fmt: skip
    full = render_html(replace(full_report(), ratings=RATINGS, rating_tests=RATING_TESTS, rating_panels=panels))
    assert full.count("<table") >= 8 and misaligned_tables(full) == []
    assert misaligned_tables(render_html(ReportData(ROWS))) == []
    assert misaligned_tables("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td></tr></table>") == ["table 1: header of 2 cells, rows of [1]"]


def test_sections_without_rows_say_so_instead_of_breaking():
    page = render_html(ReportData(ROWS))
    assert page.count("data:image/png;base64,") == 1 and page.count("(nothing to plot yet)") == 3
    assert "How the training traces were built" not in page and "Reference study" not in page


def test_markdown_summary_carries_the_tables():
    summary = markdown_summary(full_report())
    lines = summary.split("\n\n")[0].splitlines()
    assert len(lines) == 4 and len({line.count(" | ") for line in lines if not line.startswith("|---")}) == 1
    assert "| synthetic | correct | s-a | tiny | 2 | 0 | 300 | 0.600 | 0.550–0.650 |" in summary
    for heading in ("How the training traces were built", "McNemar", "Reference study", "**Lineage** (code versions: scorer `s1`)"):
        assert heading in summary
    assert "| synthetic | correct | s-a | tiny | test | abc | r1 | s1 |" in summary


def test_a_condition_trained_on_far_fewer_traces_is_flagged_in_both_reports():
    """As seen with the local teacher: 16 teacher traces against 18,000 for the others."""
    from tracekd_ops.report.render import unequal_trace_sets

    construction = [{**CONSTRUCTION[0], "traces": 16}, {**CONSTRUCTION[0], "condition": "correct", "traces": 18_000},
                    {**CONSTRUCTION[0], "condition": "swapped", "traces": 1_800}, {**CONSTRUCTION[0], "dataset": "babi", "traces": 16}]  # fmt: skip
    (note,) = unequal_trace_sets(construction)  # 1,800 is a tenth (not below it); babi's 16 is its own largest
    assert note.startswith("synthetic/teacher trained on 16 traces against 18,000")
    data = ReportData(ROWS, construction)
    assert f"Unequal: {note}." in markdown_summary(data)
    assert "<strong>Unequal:</strong> synthetic/teacher trained on 16 traces" in render_html(data)
    assert "Unequal" not in markdown_summary(full_report())


def test_the_terminal_summary_fits_the_terminal():
    from tracekd_ops.report.cells import terminal_table

    for width in (60, 100, 200):  # narrow: a row at a time; wide: one line a row; never cut at the edge
        summary = markdown_summary(full_report(), table=lambda rows, columns: terminal_table(rows, columns, width=width))
        assert max(len(line) for line in summary.splitlines()) <= width
        assert "0.550–0.650" in summary and "solution_only" in summary and "(--max-seconds)" in summary
    rows = [{"n": 300, "accuracy": 0.5, "p": 0.0001, "missing": None}]
    cells = [cell.strip() for cell in terminal_table(rows, width=80).splitlines()[2].strip("|").split("|")]
    assert cells == ["300", "0.500", "< 0.001", "–"]
    vertical = terminal_table(rows, width=20).splitlines()
    assert [cell.strip() for cell in vertical[2].strip("|").split("|")] == ["n", "300"]


def test_the_reading_leaves_out_and_names_the_conditions_it_calls_not_comparable():
    from tracekd_ops.report.render import reading

    leaderboard = [{"dataset": "synthetic", "condition": c, "fisher_p": 0.01, "runs_stopped_early": int(c == "incorrect")}
                   for c in ("correct", "incorrect", "teacher")]  # fmt: skip
    deltas = [{"dataset": "synthetic", "condition": c, "mcnemar_p": 0.001} for c in ("correct", "incorrect", "teacher")]
    construction = [{"dataset": "synthetic", "condition": c, "traces": 7 if c == "teacher" else 500} for c in ("correct", "incorrect", "teacher")]
    line = reading(leaderboard, deltas, construction=construction)
    assert line.startswith("1 of 1 conditions differ from solution-only at 5% (McNemar: synthetic/correct)")
    assert "in 1 of 1 trace-writing conditions" in line
    assert line.endswith("Left out as not comparable: synthetic/incorrect (stopped early), synthetic/teacher (7 traces).")


def test_rating_cis_stay_on_the_scale_and_few_raters_are_marked():
    from tracekd_ops.report.tables import rating_rows

    row = {**RATINGS[0], "participants": 2, "interpretability_ci_low": -3.103, "interpretability_ci_high": 9.603}
    shown = rating_rows([row])[0]
    assert shown["interpretability_ci"] == "1.000–5.000 (n < 10)"


def test_a_hostile_name_is_escaped_wherever_the_page_shows_it():
    """Names come from whoever loaded the data: the template escapes every value (autoescape),
    in the headline, the tables, the lineage, the glossary and the code versions alike."""
    hostile = "<script>alert(1)</script>"
    rows = [{**ROWS[0], "dataset": hostile, "condition": f"c{hostile}"}, ROWS[1]]
    data = ReportData(rows, [{**CONSTRUCTION[0], "condition": hostile}], code_versions={hostile: hostile},
                      condition_meanings={hostile: hostile})  # fmt: skip
    page = render_html(data, title=hostile)
    assert "<script" not in page.lower()
    escaped = html.escape(hostile, quote=False)
    assert page.count(escaped) >= 10 and f"<td>{escaped}</td>" in page and f"<code>{escaped}</code>" in page
    assert f"<dt>condition {escaped}</dt>" in page and f"<title>{escaped}</title>" in page
    assert misaligned_tables(page) == []


def test_the_key_figures_are_markdown_images_for_the_asset_page():
    import base64

    markdown = figures_markdown(full_report())
    images = [part.split(")", 1)[0] for part in markdown.split("](data:image/png;base64,")[1:]]
    assert len(images) == 2 and all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert figures_markdown(ReportData(ROWS)).count("data:image/png") == 1  # no contingency rows: no heatmap, no empty image

