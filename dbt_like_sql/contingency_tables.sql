-- The three step x answer 2x2 tables of every run (answer x class step, answer x IR step, answer x
-- full trace), pooled over seeds per dataset x condition x student: cell counts, the share of
-- problems with step and answer both right, and the conditional answer accuracies. Per-run chi-square,
-- Fisher and phi are in the `contingency` table.
-- test: not_null dataset, condition, student, base_model, step, n
-- test: unique dataset, condition, student, base_model, step
-- column runs: runs (seeds) pooled
-- column n: questions in the table, summed over the runs
-- column step_ok_answer_ok: questions with the step right and the answer right, summed over the runs
-- column step_ok_answer_wrong: questions with the step right and the answer wrong, summed over the runs
-- column step_wrong_answer_ok: questions with the step wrong and the answer right, summed over the runs
-- column step_wrong_answer_wrong: questions with the step wrong and the answer wrong, summed over the runs
-- column share_both_correct: share of the pooled questions with the step and the answer both right (0-1)
-- column p_answer_given_step_correct: pooled answer accuracy where the step was right; NULL: never right
-- column p_answer_given_step_wrong: pooled answer accuracy where the step was wrong; NULL: never wrong
-- column mean_chi2: mean of the runs' chi-squares (Pearson, 1 df); NULL: undefined in every run
-- column mean_phi: mean of the runs' phi (-1 to 1); NULL: undefined in every run
-- column min_fisher_p: the smallest of the runs' Fisher exact p-values
-- column any_small_cells: whether any run's table has an expected count below 5 (then read Fisher's p)
SELECT
    dataset,
    condition,
    student,
    base_model,
    step,
    count(*) AS runs,
    sum(n) AS n,
    sum(n_step_ok_answer_ok) AS step_ok_answer_ok,
    sum(n_step_ok_answer_wrong) AS step_ok_answer_wrong,
    sum(n_step_wrong_answer_ok) AS step_wrong_answer_ok,
    sum(n_step_wrong_answer_wrong) AS step_wrong_answer_wrong,
    sum(n_step_ok_answer_ok) / sum(n) AS share_both_correct,
    sum(n_step_ok_answer_ok) / nullif(sum(n_step_ok_answer_ok + n_step_ok_answer_wrong), 0) AS p_answer_given_step_correct,
    sum(n_step_wrong_answer_ok) / nullif(sum(n_step_wrong_answer_ok + n_step_wrong_answer_wrong), 0) AS p_answer_given_step_wrong,
    avg(chi2) AS mean_chi2,
    avg(phi) AS mean_phi,
    min(fisher_p) AS min_fisher_p,
    bool_or(small_cells) AS any_small_cells
FROM contingency
GROUP BY dataset, condition, student, base_model, step
ORDER BY dataset, student, base_model, condition, step
