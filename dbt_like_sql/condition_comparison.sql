-- One row per dataset x condition x base model: answer and trace accuracy averaged over seeds,
-- the answer-accuracy delta against the solution-only student of the same dataset and base model,
-- and the pooled trace x answer association. Lineage: the trace set versions and revisions it covers.
WITH per_condition AS (
    SELECT
        dataset,
        condition,
        base_model,
        eval_split,
        count(*) AS runs,
        sum(n) AS n,
        avg(answer_accuracy) AS answer_accuracy,
        avg(trace_accuracy) AS trace_accuracy,
        avg(class_accuracy) AS class_accuracy,
        avg(ir_exact_accuracy) AS ir_exact_accuracy,
        avg(phi) AS phi,
        avg(chi2) AS chi2,
        avg(p_answer_given_trace_correct) AS p_answer_given_trace_correct,
        avg(p_answer_given_trace_wrong) AS p_answer_given_trace_wrong,
        max(chance_accuracy) AS chance_accuracy,
        max(majority_accuracy) AS majority_accuracy,
        string_agg(DISTINCT trace_set_version, ',') AS trace_set_versions,
        string_agg(DISTINCT model_revision, ',') AS model_revisions,
        string_agg(DISTINCT scorer_version, ',') AS scorer_versions
    FROM metrics
    GROUP BY dataset, condition, base_model, eval_split
)
SELECT
    c.*,
    c.answer_accuracy - s.answer_accuracy AS answer_delta_vs_solution_only
FROM per_condition AS c
LEFT JOIN per_condition AS s
    ON s.dataset = c.dataset
    AND s.base_model = c.base_model
    AND s.eval_split = c.eval_split
    AND s.condition = 'solution_only'
ORDER BY c.dataset, c.base_model, c.condition
