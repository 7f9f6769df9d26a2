-- The leaderboard: one row per dataset x condition x student (its base model alongside). Answer and trace accuracy as the
-- mean over seeds with their sample sd (`runs` seeds), the mean of the per-run bootstrap 95%
-- interval bounds, the answer-accuracy delta against the solution-only student of the same dataset
-- and the same student, and the trace x answer association. Lineage: data source and content hash,
-- trace sets, revisions, scorers. `runs_stopped_early`: runs whose student its wall-time cap stopped before its
-- last step (tracekd run --max-seconds; training.max_seconds in the launchpad): not comparable with the others.
-- test: not_null dataset, condition, student, base_model, answer_accuracy
-- test: unique dataset, condition, student, base_model, eval_split
-- test: accepted_range answer_accuracy 0 1
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
