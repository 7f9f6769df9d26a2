-- One row per dataset x trace condition: how its current training traces were built. Counts,
-- questions left out (and why), the corruption settings of `incorrect`, the teacher's kept rate
-- for the teacher conditions, the mean trace length in words and in the students' tokens, and how
-- many examples students left out for being longer than their context (never cut).
-- column trace_set_version: content hash of the trace set (its questions' prompts and completions)
-- column questions: training questions the set was built from
-- column traces: traces in the set
-- column left_out_count: training questions the condition could not use
-- column left_out: JSON: those questions by reason (no gold fact, teacher wrong, ...)
-- column settings: JSON of the settings that shaped the set: seed, style, and the corruption rule for incorrect
-- column teacher_kept_rate: share of training questions with a kept teacher trace (0-1); NULL: not a teacher condition
-- column teacher_model: the teacher model that wrote the traces; NULL: not a teacher condition
-- column mean_trace_words: mean length in words of the set's traces (the <think> part); NULL: no traces
-- column mean_completion_tokens: mean over its students of their mean completion length in tokens; NULL: no student trained
-- column dropped_too_long: most examples one student left out for exceeding its context (never cut); 0: none
-- column students: student revisions trained on this trace set
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
