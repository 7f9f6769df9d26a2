-- The reference study's published numbers next to what TraceKD measured for the same dataset,
-- condition and metric (every base model measured here; none when the dataset or condition was
-- not run). The reference rows come from tracekd_ops/report/data/reference_results.csv, with their source.
-- test: not_null dataset, condition, reference_model, reference_value, source
-- column metric: the published measure, named as TraceKD's metrics column (answer_accuracy)
-- column reference_model: the base model of the reference study's student (Hugging Face id)
-- column reference_value: the published value, as a share (0-1)
-- column measured_student: a TraceKD student of the same dataset and condition; NULL: none measured
-- column measured_model: its base model; NULL: none measured
-- column measured_value: its value of the metric, mean over seeds; NULL: none measured
-- column measured_runs: runs (seeds) in measured_value; NULL: none measured
-- column source: citation: the paper and table the published value was entered from
SELECT
    r.dataset,
    r.condition,
    r.metric,
    r.base_model AS reference_model,
    r.value AS reference_value,
    c.student AS measured_student,
    c.base_model AS measured_model,
    CASE r.metric WHEN 'answer_accuracy' THEN c.answer_accuracy END AS measured_value,
    c.runs AS measured_runs,
    r.source
FROM reference_results AS r
LEFT JOIN condition_comparison AS c
    ON c.dataset = r.dataset
    AND c.condition = r.condition
ORDER BY r.dataset, r.condition, r.base_model, c.base_model
