-- Published students, one row each: where their outputs came from, how many lines were scored,
-- left out (and why is in `external_lines`) or cut short before their answer closed, the study's
-- own summary of its files (`reported_acc`: CoTempQA's official exact match, in percent, over all
-- lines) beside TraceKD's re-run of that same metric (`recomputed_acc`) and TraceKD's own answer and
-- trace accuracy, how the lines matched the loaded dataset, and the IR and class steps by the
-- study's rule against TraceKD's (with how many lines its row lookup sent to another question).
-- test: not_null dataset, condition, student, base_model, model_revision, lines
-- test: unique dataset, condition, student, base_model, seed
-- column source_name: where the outputs came from (credentials removed; git:<repo>@<commit> for a repository)
-- column files: output files of this student
-- column categories: the CoTempQA relations of its files, comma-separated ((per line): lines name their own)
-- column lines: lines in its files
-- column scored: lines scored
-- column left_out: lines left out (why: external_lines.reason)
-- column cut_short: scored lines whose generation did not close its answer (or its trace)
-- column reported_acc: the study's own acc of its files (official exact match, percent), line-weighted; NULL: no summaries
-- column recomputed_acc: TraceKD's re-run of that acc on the same lines (percent), line-weighted; NULL: not CoTempQA
-- column files_acc_reproduced: files whose re-run acc equals the study's reported one exactly
-- column questions: distinct questions scored
-- column repeated_lines: lines left out as a repeat of an earlier line's question
-- column matched_dataset: lines whose question, answers and gold facts match the loaded dataset's
-- column differ_from_dataset: lines whose question is in the loaded dataset but whose answers or gold facts differ
-- column not_in_dataset: lines whose question is not in the loaded dataset
-- column official_accuracy_distinct: CoTempQA's official exact match over the distinct questions scored (0-1); NULL: not CoTempQA
-- column ir_right: scored lines whose IR step lists exactly the gold facts
-- column authors_ir_right: lines whose IR step is right by the study's rule (any looked-up fact quoted)
-- column class_verdicts_differ: lines where the study's class verdict differs from TraceKD's
-- column authors_evaluated: lines the study's script scores (it skips those without a trace)
-- column authors_other_row: lines whose re-run row lookup found another question's row
-- column authors_lookups: lines whose row lookup was re-run (the study's gold CSVs were there)
WITH files AS (
    SELECT
        dataset, condition, student, base_model, seed,
        any_value(model_revision) AS model_revision,
        any_value(source_name) AS source_name,
        any_value(scorer_version) AS scorer_version,
        count(*) AS files,
        string_agg(category, ',' ORDER BY category) AS categories,
        sum(lines) AS lines,
        sum(scored) AS scored,
        sum(left_out) AS left_out,
        sum(cut_short) AS cut_short,
        sum(lines * CAST(json_extract(reported, '$.acc') AS DOUBLE)) / nullif(sum(lines) FILTER (WHERE reported IS NOT NULL), 0) AS reported_acc,
        sum(lines * CAST(json_extract(recomputed_official, '$.acc') AS DOUBLE)) / nullif(sum(lines) FILTER (WHERE recomputed_official IS NOT NULL), 0) AS recomputed_acc,
        count(*) FILTER (WHERE reported IS NOT NULL AND json_extract(reported, '$.acc') = json_extract(recomputed_official, '$.acc')) AS files_acc_reproduced
    FROM external_files
    GROUP BY dataset, condition, student, base_model, seed
),
lines AS (
    SELECT
        dataset, condition, student, base_model, seed,
        count(DISTINCT example_id) FILTER (WHERE status = 'scored') AS questions,
        count(*) FILTER (WHERE dataset_check LIKE 'matched%') AS matched_dataset,
        count(*) FILTER (WHERE dataset_check LIKE '%differ%') AS differ_from_dataset,
        count(*) FILTER (WHERE dataset_check = 'not in the loaded dataset') AS not_in_dataset,
        count(*) FILTER (WHERE status = 'left out' AND reason LIKE 'the same question as%') AS repeated_lines,
        avg(answer_official::INTEGER) FILTER (WHERE status = 'scored') AS official_accuracy_distinct,
        count(*) FILTER (WHERE ir_exact) AS ir_right,
        count(*) FILTER (WHERE authors_ir_ok) AS authors_ir_right,
        count(*) FILTER (WHERE authors_class_ok <> class_ok) AS class_verdicts_differ,
        count(*) FILTER (WHERE authors_evaluated) AS authors_evaluated,
        count(*) FILTER (WHERE authors_own_row = false) AS authors_other_row,
        count(*) FILTER (WHERE authors_own_row IS NOT NULL) AS authors_lookups
    FROM external_lines
    GROUP BY dataset, condition, student, base_model, seed
)
SELECT
    f.*,
    l.questions,
    l.repeated_lines,
    l.matched_dataset,
    l.differ_from_dataset,
    l.not_in_dataset,
    l.official_accuracy_distinct,
    l.ir_right,
    l.authors_ir_right,
    l.class_verdicts_differ,
    l.authors_evaluated,
    l.authors_other_row,
    l.authors_lookups,
    m.answer_accuracy,
    m.trace_accuracy,
    m.class_accuracy,
    m.ir_exact_accuracy
FROM files AS f
JOIN lines AS l USING (dataset, condition, student, base_model, seed)
LEFT JOIN metrics AS m USING (dataset, condition, student, base_model, seed)
ORDER BY f.dataset, f.base_model, f.condition, f.student
