-- The leaderboard: one row per dataset x condition x student (its base model alongside). Answer and trace accuracy as the
-- mean over seeds with their sample sd (`runs` seeds), the mean of the per-run bootstrap 95%
-- interval bounds, the answer-accuracy delta against the solution-only student of the same dataset
-- and the same student, and the trace x answer association. Lineage: data source and content hash,
-- trace sets, revisions, scorers. `runs_stopped_early`: runs whose student its wall-time cap stopped before its
-- last step (tracekd run --max-seconds; training.max_seconds in the launchpad): not comparable with the others.
-- test: not_null dataset, condition, student, base_model, answer_accuracy
-- test: unique dataset, condition, student, base_model, eval_split
-- test: accepted_range answer_accuracy 0 1
-- column runs: evaluated runs pooled here (one per seed)
-- column n: test questions scored, summed over the runs
-- column answer_accuracy: mean over the runs (seeds) of the share of test questions answered right (0-1)
-- column answer_accuracy_sd: sample sd of answer_accuracy over the runs; NULL: one run
-- column answer_accuracy_ci_low: mean over the runs (seeds) of the lower bound of each run's bootstrap 95% interval of answer accuracy
-- column answer_accuracy_ci_high: mean over the runs (seeds) of the upper bound of each run's bootstrap 95% interval of answer accuracy
-- column trace_accuracy: mean over the runs (seeds) of the share of questions with both steps right (0-1); NULL: no steps written
-- column trace_accuracy_sd: sample sd of trace_accuracy over the runs; NULL: one run, or no steps written
-- column trace_accuracy_ci_low: mean over the runs (seeds) of the lower bound of each run's bootstrap 95% interval of trace accuracy
-- column trace_accuracy_ci_high: mean over the runs (seeds) of the upper bound of each run's bootstrap 95% interval of trace accuracy
-- column class_accuracy: mean over the runs (seeds) of the share of questions whose class step is gold (0-1); NULL: no steps written
-- column ir_exact_accuracy: mean over the runs (seeds) of the share of questions whose IR step is exactly the gold facts; NULL: no steps
-- column ir_f1: mean over the runs (seeds) of the IR step's mean F1 (0-1); NULL: no steps written
-- column trace_bleu: mean over the runs (seeds) of the generated traces' corpus BLEU-4 against gold (0-1); NULL: no trace written
-- column mean_trace_words: mean over the runs (seeds) of the generated traces' mean length in words; NULL: no trace written
-- column phi: mean over the runs (seeds) of phi (-1 to 1) of trace against answer correctness; NULL: undefined in every run
-- column phi_ci_low: mean over the runs (seeds) of the lower bound of each run's bootstrap 95% interval of phi
-- column phi_ci_high: mean over the runs (seeds) of the upper bound of each run's bootstrap 95% interval of phi
-- column chi2: mean over the runs (seeds) of the trace x answer chi-square (Pearson, 1 df); NULL: undefined in every run
-- column fisher_p: mean over the runs (seeds) of Fisher's exact p on the trace x answer table; NULL: no steps written
-- column share_both_correct: mean over the runs (seeds) of the share of questions with trace and answer both right; NULL: no steps
-- column p_answer_given_trace_correct: mean over the runs (seeds) of the answer accuracy where the trace was right; NULL: never right
-- column p_answer_given_trace_wrong: mean over the runs (seeds) of the answer accuracy where the trace was wrong; NULL: never wrong
-- column trace_set_versions: the runs' training trace set versions, comma-separated
-- column model_revisions: the runs' registry revisions, comma-separated
-- column scorer_versions: the runs' scorer versions, comma-separated
-- column dataset_sources: where the runs' test questions came from, comma-separated
-- column dataset_hashes: content hashes of the runs' datasets, comma-separated (more than one: not the same questions)
-- column runs_stopped_early: runs whose wall-time cap stopped training before its last step (not comparable with the others)
-- column answer_delta_vs_solution_only: answer_accuracy minus the same student's solution_only one (same base model); NULL: none
WITH stopped AS (
    SELECT revision, bool_or(json_extract_string(train_summary, '$.stopped_by_time_budget') = 'true') AS stopped_early
    FROM registry
    GROUP BY revision
),
per_condition AS (
    SELECT
        dataset,
        condition,
        student,
        base_model,
        eval_split,
        count(*) AS runs,
        sum(n) AS n,
        avg(answer_accuracy) AS answer_accuracy,
        stddev_samp(answer_accuracy) AS answer_accuracy_sd,
        avg(answer_accuracy_ci_low) AS answer_accuracy_ci_low,
        avg(answer_accuracy_ci_high) AS answer_accuracy_ci_high,
        avg(trace_accuracy) AS trace_accuracy,
        stddev_samp(trace_accuracy) AS trace_accuracy_sd,
        avg(trace_accuracy_ci_low) AS trace_accuracy_ci_low,
        avg(trace_accuracy_ci_high) AS trace_accuracy_ci_high,
        avg(class_accuracy) AS class_accuracy,
        avg(ir_exact_accuracy) AS ir_exact_accuracy,
        avg(ir_f1) AS ir_f1,
        avg(trace_bleu) AS trace_bleu,
        avg(mean_trace_words) AS mean_trace_words,
        avg(phi) AS phi,
        avg(phi_ci_low) AS phi_ci_low,
        avg(phi_ci_high) AS phi_ci_high,
        avg(chi2) AS chi2,
        avg(fisher_p) AS fisher_p,
        avg(share_both_correct) AS share_both_correct,
        avg(p_answer_given_trace_correct) AS p_answer_given_trace_correct,
        avg(p_answer_given_trace_wrong) AS p_answer_given_trace_wrong,
        max(chance_accuracy) AS chance_accuracy,
        max(majority_accuracy) AS majority_accuracy,
        string_agg(DISTINCT trace_set_version, ',') AS trace_set_versions,
        string_agg(DISTINCT model_revision, ',') AS model_revisions,
        string_agg(DISTINCT scorer_version, ',') AS scorer_versions,
        string_agg(DISTINCT dataset_source, ',') AS dataset_sources,
        string_agg(DISTINCT dataset_hash, ',') AS dataset_hashes,
        count(*) FILTER (WHERE stopped.stopped_early) AS runs_stopped_early
    FROM metrics
    LEFT JOIN stopped ON stopped.revision = metrics.model_revision
    GROUP BY dataset, condition, student, base_model, eval_split
)
SELECT
    c.*,
    c.answer_accuracy - s.answer_accuracy AS answer_delta_vs_solution_only
FROM per_condition AS c
LEFT JOIN per_condition AS s
    ON s.dataset = c.dataset
    AND s.student = c.student
    AND s.base_model = c.base_model
    AND s.eval_split = c.eval_split
    AND s.condition = 'solution_only'
ORDER BY c.dataset, c.student, c.base_model, c.condition
