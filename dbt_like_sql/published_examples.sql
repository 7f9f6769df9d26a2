-- Published students: example lines for each kind of verdict that a scoring choice turns around
-- (the IR step by the study's rule against TraceKD's exact gold fact set; the answer by the
-- official entity-set match against TraceKD's exact match; a generation cut short before its
-- answer closed), two per kind, with the generation, the gold answers and what was read from it.
-- test: not_null kind, student, base_model, condition, file, line
-- column kind: the verdict a scoring choice turns around on this line (IR rule, answer match, or cut short)
-- column line: 1-based line (or record) number in the file
-- column generation_end: the last 400 characters of the generation
WITH kinds AS (
    SELECT
        l.*,
        CASE
            WHEN l.authors_evaluated AND l.authors_ir_ok AND NOT l.ir_exact THEN 'IR step right by the study''s rule, wrong by the gold facts'
            WHEN l.authors_evaluated AND NOT l.authors_ir_ok AND l.ir_exact THEN 'IR step wrong by the study''s rule, right by the gold facts'
        END AS ir_kind,
        CASE
            WHEN l.answer_official AND NOT l.answer_em THEN 'answer right by the official match, wrong by exact match'
            WHEN NOT l.answer_official AND l.answer_em THEN 'answer wrong by the official match, right by exact match'
        END AS answer_kind,
        CASE WHEN l.cut_short THEN 'generation cut short before its answer closed' END AS cut_kind
    FROM external_lines AS l
    WHERE l.status = 'scored'
),
tagged AS (
    SELECT *, ir_kind AS kind FROM kinds WHERE ir_kind IS NOT NULL
    UNION ALL
    SELECT *, answer_kind FROM kinds WHERE answer_kind IS NOT NULL
    UNION ALL
    SELECT *, cut_kind FROM kinds WHERE cut_kind IS NOT NULL
),
picked AS (
    SELECT *, row_number() OVER (PARTITION BY kind ORDER BY cut_short, condition, base_model, file, line) AS nth
    FROM tagged
)
SELECT
    k.kind,
    k.student,
    k.base_model,
    k.condition,
    k.file,
    k.line,
    k.example_id,
    p.gold_fact_ids,
    p.parsed_fact_ids,
    p.gold_answers,
    p.parsed_answer,
    right(p.output, 400) AS generation_end
FROM picked AS k
JOIN predictions AS p
    ON p.dataset = k.dataset AND p.condition = k.condition AND p.student = k.student AND p.base_model = k.base_model
    AND p.seed = k.seed AND p.example_id = k.example_id
WHERE k.nth <= 2
ORDER BY k.kind, k.nth
