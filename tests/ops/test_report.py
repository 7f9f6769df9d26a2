from tracekd_ops.report import headline_lines, markdown_summary, render_html

ROWS = [
    {"dataset": "synthetic", "condition": "correct", "n": 300, "answer_accuracy": 0.6, "trace_accuracy": 0.9,
     "chance_accuracy": 0.28, "majority_accuracy": 0.29, "answer_delta_vs_solution_only": 0.01, "phi": 0.2,
     "chi2": 12.0, "p_answer_given_trace_correct": 0.62, "p_answer_given_trace_wrong": 0.4, "base_model": "tiny",
     "eval_split": "test", "trace_set_versions": "abc", "model_revisions": "r1", "scorer_versions": "s1"},
    {"dataset": "synthetic", "condition": "solution_only", "n": 300, "answer_accuracy": 0.55, "trace_accuracy": None,
     "chance_accuracy": 0.28, "majority_accuracy": 0.29, "answer_delta_vs_solution_only": 0.0, "phi": None,
     "chi2": None, "p_answer_given_trace_correct": None, "p_answer_given_trace_wrong": None, "base_model": "tiny",
     "eval_split": "test", "trace_set_versions": "def", "model_revisions": "r2", "scorer_versions": "s1"},
]  # fmt: skip


def test_headline_states_accuracy_against_chance_and_the_association():
    correct, solution = headline_lines(ROWS)
    assert "answer accuracy 0.600" in correct and "chance 0.280" in correct and "significant at 5%" in correct
    assert "not significant" not in correct and "chi²" not in solution


def test_html_is_one_offline_file_with_plot_and_lineage():
    page = render_html(ROWS)
    assert page.count("data:image/png;base64,") == 1 and "http" not in page
    for value in ("abc", "r1", "s1", "solution_only", "0.280"):
        assert value in page


def test_markdown_summary_has_one_row_per_condition_and_intact_columns():
    lines = markdown_summary(ROWS).splitlines()
    assert len(lines) == 4 and len({line.count(" | ") for line in lines if not line.startswith("|---")}) == 1


CONSTRUCTION = [
    {"dataset": "synthetic", "condition": "teacher", "style": "sentences", "questions": 120, "traces": 90,
     "left_out_count": 30, "corrupted_rows": 0, "teacher_kept_rate": 0.75, "mean_trace_words": 41.5,
     "mean_completion_tokens": 63.2, "settings": '{"seed": 0}', "trace_set_version": "v-teach"},
]  # fmt: skip


def test_report_says_how_each_conditions_traces_were_built():
    page = render_html(ROWS, CONSTRUCTION)
    assert "How the training traces were built" in page
    for value in ("v-teach", "0.750", "41.500", "63.200", "90"):
        assert value in page
    summary = markdown_summary(ROWS, CONSTRUCTION)
    assert "How the training traces were built" in summary and "| teacher | sentences | 120 | 90 | 30 |" in summary
    assert "How the training traces were built" not in render_html(ROWS)
