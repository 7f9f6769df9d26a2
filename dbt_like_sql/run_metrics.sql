-- One row per evaluated student (dataset x condition x student x base model x seed) with its
-- lineage keys (the student's name in the experiment file among them), its registry backend and URI, and how its traces were
-- written: the per-run table to start any analysis from.
-- test: not_null dataset, condition, student, base_model, seed, model_revision, answer_accuracy
-- test: unique dataset, condition, student, base_model, seed
-- column trace_style: how the student's training traces are worded (sentences, compact); NULL: no trace set (untuned, published)
-- column registry_backend: where the student's revision lives: local, hub or external; NULL: not in the registry (untuned)
-- column registry_uri: where to find that revision; NULL: not in the registry (untuned)
-- column n: test questions scored in the run
-- column created_at: when the run's metrics were computed (UTC)
SELECT
    m.dataset,
    m.condition,
    m.base_model,
    m.seed,
    m.student,
    m.trace_set_version,
    t.style AS trace_style,
    m.model_revision,
    r.backend AS registry_backend,
    r.uri AS registry_uri,
    m.eval_split,
    m.scorer_version,
    m.dataset_source,
    m.dataset_hash,
    m.n,
    m.answer_accuracy,
    m.answer_accuracy_ci_low,
    m.answer_accuracy_ci_high,
    m.class_accuracy,
    m.ir_exact_accuracy,
    m.ir_precision,
    m.ir_recall,
    m.ir_f1,
    m.trace_accuracy,
    m.trace_bleu,
    m.mean_trace_words,
    m.chi2,
    m.fisher_p,
    m.phi,
    m.share_both_correct,
    m.created_at
FROM metrics AS m
LEFT JOIN registry AS r
    ON r.revision = m.model_revision
LEFT JOIN trace_sets AS t
    ON t.dataset = m.dataset
    AND t.condition = m.condition
    AND t.trace_set_version = m.trace_set_version
ORDER BY m.dataset, m.student, m.base_model, m.condition, m.seed
