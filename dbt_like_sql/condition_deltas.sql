-- Each condition's student against the solution-only student of the same dataset, student name,
-- base model and seed, on the same test questions: the answer-accuracy delta and McNemar's test on the paired
-- answers (`only_this_right`, `only_solution_only_right`: the discordant pairs; exact binomial below 25
-- discordant pairs, else chi-square with continuity correction).
-- test: not_null dataset, condition, student, base_model, seed, n, mcnemar_p
-- test: unique dataset, condition, student, base_model, seed
-- test: accepted_range mcnemar_p 0 1
-- column solution_only_revision: registry revision of the solution_only student it is paired with
-- column n: test questions both students answered (the pairs)
-- column answer_accuracy: this student's share of the paired questions answered right (0-1)
-- column solution_only_accuracy: the solution_only student's share of the paired questions answered right (0-1)
-- column only_this_right: test questions this condition's student got right and the solution-only student got wrong
-- column only_solution_only_right: test questions the solution-only student got right and this condition's student got wrong
-- column answer_delta: answer_accuracy minus solution_only_accuracy
-- column mcnemar_p: McNemar p on the discordant pairs (exact binomial below 25 of them, else chi-square with continuity correction)
WITH paired AS (
    SELECT
        p.dataset,
        p.condition,
        p.student,
        p.base_model,
        p.seed,
        p.model_revision,
        s.model_revision AS solution_only_revision,
        p.answer_correct AS answer_ok,
        s.answer_correct AS solution_only_ok
    FROM predictions AS p
    JOIN predictions AS s
        ON s.dataset = p.dataset
        AND s.student = p.student
        AND s.base_model = p.base_model
        AND s.seed = p.seed
        AND s.eval_split = p.eval_split
        AND s.example_id = p.example_id
        AND s.condition = 'solution_only'
    WHERE p.condition <> 'solution_only'
),
counted AS (
    SELECT
        dataset,
        condition,
        student,
        base_model,
        seed,
        any_value(model_revision) AS model_revision,
        any_value(solution_only_revision) AS solution_only_revision,
        count(*) AS n,
        avg(answer_ok::INTEGER) AS answer_accuracy,
        avg(solution_only_ok::INTEGER) AS solution_only_accuracy,
        count(*) FILTER (WHERE answer_ok AND NOT solution_only_ok) AS only_this_right,
        count(*) FILTER (WHERE solution_only_ok AND NOT answer_ok) AS only_solution_only_right
    FROM paired
    GROUP BY dataset, condition, student, base_model, seed
)
SELECT
    *,
    answer_accuracy - solution_only_accuracy AS answer_delta,
    mcnemar_p(only_this_right, only_solution_only_right) AS mcnemar_p
FROM counted
ORDER BY dataset, student, base_model, seed, condition
