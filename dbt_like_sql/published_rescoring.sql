-- Published students (another study's outputs, imported as external students): the trace-correct x
-- answer-correct 2x2 table of every trace-writing published student under each scoring variant,
-- pooled over its files, beside the study's own published counts. Variants: `tracekd` (TraceKD's
-- scorers: exact class label, exact gold fact set, the dataset's exact-match answer rule, an
-- unfinished answer is no answer), one choice changed at a time (`answer=official`: CoTempQA's
-- official entity-set match, the study's `acc`; `answer=f1`: token F1 >= 0.5; `facts=contains`;
-- `facts=subset`; `facts=any`; `cut_short=lenient`), `authors' rule, re-run` (the study's trace rule as its script
-- runs it, on these lines) and `published table` (the counts the study published; its
-- `categories` say which relations they pool). `changed` counts the lines whose (trace, answer)
-- verdict differs from the `tracekd` variant.
-- test: not_null dataset, condition, student, base_model, variant, n
-- test: unique dataset, condition, student, base_model, variant
-- column variant: the scoring variant: tracekd, one choice changed, the authors' rule re-run, or the published table
-- column ord: display order of the variant (1 tracekd ... 9 published table)
-- column n: scored lines in the table (the published table: its total)
-- column trace_ok_answer_ok: lines with the trace right and the answer right under the variant
-- column trace_ok_answer_wrong: lines with the trace right and the answer wrong under the variant
-- column trace_wrong_answer_ok: lines with the trace wrong and the answer right under the variant
-- column trace_wrong_answer_wrong: lines with the trace wrong and the answer wrong under the variant
-- column changed: lines whose (trace, answer) verdict differs from the tracekd variant's; NULL: the published table
-- column categories: the relations the published counts pool, comma-separated; NULL: not the published table
-- column source: citation of the published counts; NULL: not the published table
-- column answer_accuracy: share of the table's lines with the answer right under the variant (0-1)
-- column trace_accuracy: share of the table's lines with the trace right under the variant (0-1)
-- column p_answer_given_trace_correct: answer accuracy where the trace is right under the variant; NULL: never right
-- column p_answer_given_trace_wrong: answer accuracy where the trace is wrong under the variant; NULL: never wrong
WITH scored AS (
    SELECT *
    FROM external_lines
    WHERE status = 'scored' AND class_ok IS NOT NULL
),
variants AS (
    SELECT dataset, condition, student, base_model, 1 AS ord, 'tracekd' AS variant,
        class_ok AND ir_exact AS trace_ok, answer_em AS answer_ok, class_ok AND ir_exact AS base_trace, answer_em AS base_answer
    FROM scored
    UNION ALL
    SELECT dataset, condition, student, base_model, 2, 'answer=official', class_ok AND ir_exact, answer_official,
        class_ok AND ir_exact, answer_em
    FROM scored WHERE answer_official IS NOT NULL
    UNION ALL
    SELECT dataset, condition, student, base_model, 3, 'answer=f1', class_ok AND ir_exact, answer_f1 >= 0.5,
        class_ok AND ir_exact, answer_em
    FROM scored
    UNION ALL
    SELECT dataset, condition, student, base_model, 4, 'facts=contains', class_ok AND ir_contains, answer_em,
        class_ok AND ir_exact, answer_em
    FROM scored
    UNION ALL
    SELECT dataset, condition, student, base_model, 5, 'facts=subset', class_ok AND ir_subset, answer_em,
        class_ok AND ir_exact, answer_em
    FROM scored
    UNION ALL
    SELECT dataset, condition, student, base_model, 6, 'facts=any', class_ok AND ir_any, answer_em,
        class_ok AND ir_exact, answer_em
    FROM scored
    UNION ALL
    SELECT dataset, condition, student, base_model, 7, 'cut_short=lenient', class_ok AND ir_exact, answer_em_lenient,
        class_ok AND ir_exact, answer_em
    FROM scored
    UNION ALL
    SELECT dataset, condition, student, base_model, 8, 'authors'' rule, re-run', authors_class_ok AND authors_ir_ok, answer_official,
        class_ok AND ir_exact, answer_em
    FROM scored WHERE authors_evaluated
),
counted AS (
    SELECT
        dataset, condition, student, base_model, variant, any_value(ord) AS ord,
        count(*) AS n,
        count(*) FILTER (WHERE trace_ok AND answer_ok) AS trace_ok_answer_ok,
        count(*) FILTER (WHERE trace_ok AND NOT answer_ok) AS trace_ok_answer_wrong,
        count(*) FILTER (WHERE NOT trace_ok AND answer_ok) AS trace_wrong_answer_ok,
        count(*) FILTER (WHERE NOT trace_ok AND NOT answer_ok) AS trace_wrong_answer_wrong,
        count(*) FILTER (WHERE trace_ok <> base_trace OR answer_ok <> base_answer) AS changed,
        NULL::VARCHAR AS categories,
        NULL::VARCHAR AS source
    FROM variants
    GROUP BY dataset, condition, student, base_model, variant
),
published AS (
    SELECT DISTINCT
        s.dataset, s.condition, s.student, s.base_model, 'published table' AS variant, 9 AS ord,
        r.n_step_ok_answer_ok + r.n_step_ok_answer_wrong + r.n_step_wrong_answer_ok + r.n_step_wrong_answer_wrong AS n,
        r.n_step_ok_answer_ok AS trace_ok_answer_ok, r.n_step_ok_answer_wrong AS trace_ok_answer_wrong,
        r.n_step_wrong_answer_ok AS trace_wrong_answer_ok, r.n_step_wrong_answer_wrong AS trace_wrong_answer_wrong,
        NULL AS changed, r.categories, r.source
    FROM counted AS s
    JOIN reference_contingency AS r
        ON r.dataset = s.dataset AND r.condition = s.condition AND r.base_model = s.base_model AND r.step = 'trace'
)
SELECT
    *,
    (trace_ok_answer_ok + trace_wrong_answer_ok) / n AS answer_accuracy,
    (trace_ok_answer_ok + trace_ok_answer_wrong) / n AS trace_accuracy,
    trace_ok_answer_ok / nullif(trace_ok_answer_ok + trace_ok_answer_wrong, 0) AS p_answer_given_trace_correct,
    trace_wrong_answer_ok / nullif(trace_wrong_answer_ok + trace_wrong_answer_wrong, 0) AS p_answer_given_trace_wrong
FROM (SELECT * FROM counted UNION ALL BY NAME SELECT * FROM published)
ORDER BY dataset, base_model, condition, student, ord
