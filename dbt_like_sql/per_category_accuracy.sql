-- Accuracy by question category (bAbI task, CoTempQA relation, MS MARCO query type) for every
-- dataset x condition x student, pooled over seeds: answer, class-step, IR-step and trace.
-- test: not_null dataset, condition, student, base_model, category, n
-- test: unique dataset, condition, student, base_model, category
-- test: accepted_range answer_accuracy 0 1
-- column n: predictions in the category, pooled over seeds (questions x seeds)
-- column seeds: seeds pooled
-- column answer_accuracy: share of the category's predictions answered right (0-1)
-- column class_accuracy: share of the category's predictions with the class step right (0-1); NULL: no steps written
-- column ir_exact_accuracy: share of the category's predictions listing exactly the gold facts (0-1); NULL: no steps written
-- column trace_accuracy: share of the category's predictions with both steps right (0-1); NULL: no steps written
SELECT
    dataset,
    condition,
    student,
    base_model,
    category,
    count(*) AS n,
    count(DISTINCT seed) AS seeds,
    avg(answer_correct::INTEGER) AS answer_accuracy,
    avg(class_correct::INTEGER) AS class_accuracy,
    avg(ir_exact::INTEGER) AS ir_exact_accuracy,
    avg(trace_correct::INTEGER) AS trace_accuracy
FROM predictions
GROUP BY dataset, condition, student, base_model, category
ORDER BY dataset, student, base_model, condition, category
