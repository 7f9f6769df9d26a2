-- One row per dataset x trace condition: how its current training traces were built. Counts,
-- questions left out (and why), the corruption settings of `incorrect`, the teacher's kept rate
-- for the teacher conditions, the mean trace length in words and in the students' tokens, and how
-- many examples students left out for being longer than their context (never cut).
SELECT
    t.dataset,
    t.condition,
    t.trace_set_version,
    t.style,
    t.questions,
    t.rows AS traces,
    t.questions - t.rows AS left_out_count,
    t.left_out,
    t.corrupted_rows,
    t.settings,
    CAST(json_extract(t.teacher, '$.kept_rate') AS DOUBLE) AS teacher_kept_rate,
    json_extract_string(t.teacher, '$.teacher_model') AS teacher_model,
    t.mean_trace_words,
    avg(CAST(json_extract(r.train_summary, '$.mean_completion_tokens') AS DOUBLE)) AS mean_completion_tokens,
    max(coalesce(CAST(json_extract(r.train_summary, '$.dropped_too_long') AS INTEGER), 0)) AS dropped_too_long,
    count(r.revision) AS students
FROM trace_sets AS t
LEFT JOIN registry AS r
    ON r.dataset = t.dataset
    AND r.condition = t.condition
    AND r.trace_set_version = t.trace_set_version
GROUP BY ALL
ORDER BY t.dataset, t.condition
