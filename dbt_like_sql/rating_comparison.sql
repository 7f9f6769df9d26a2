-- The rating study beside the models: per dataset and trace condition, the mean interpretability and
-- cognitive load (1-5, with 95% CIs over participants) from the latest item set of the dataset, next to
-- the answer accuracy of that condition's students and the reference study's published means. Real
-- ratings are shown wherever an item set has any; otherwise the simulated panel's, labelled `simulated`
-- in `panel` (the two are never mixed). Lineage: item set and the rated trace set; the students' trace sets
-- are in condition_comparison.
-- test: not_null dataset, condition, panel, item_set_version, interpretability_mean, cognitive_load_mean
-- test: unique dataset, condition, student
-- test: accepted_range interpretability_mean 1 5
-- test: accepted_range cognitive_load_mean 1 5
WITH latest AS (
    SELECT dataset, arg_max(item_set_version, created_at) AS item_set_version
    FROM rating_item_sets
    GROUP BY dataset
),
shown AS (
    SELECT s.item_set_version, CASE WHEN bool_or(s.panel = 'real') THEN 'real' ELSE 'simulated' END AS panel
    FROM rating_summary AS s
    JOIN latest AS l ON l.item_set_version = s.item_set_version
    GROUP BY s.item_set_version
),
per_condition AS (
    SELECT
        s.dataset,
        s.condition,
        s.panel,
        s.item_set_version,
        any_value(s.trace_set_version) AS rated_trace_set_version,
        max(s.n_participants) AS participants,
        max(CASE WHEN s.scale = 'interpretability' THEN s.mean END) AS interpretability_mean,
        max(CASE WHEN s.scale = 'interpretability' THEN s.ci_low END) AS interpretability_ci_low,
        max(CASE WHEN s.scale = 'interpretability' THEN s.ci_high END) AS interpretability_ci_high,
        max(CASE WHEN s.scale = 'cognitive_load' THEN s.mean END) AS cognitive_load_mean,
        max(CASE WHEN s.scale = 'cognitive_load' THEN s.ci_low END) AS cognitive_load_ci_low,
        max(CASE WHEN s.scale = 'cognitive_load' THEN s.ci_high END) AS cognitive_load_ci_high
    FROM rating_summary AS s
    JOIN shown AS w ON w.item_set_version = s.item_set_version AND w.panel = s.panel
    GROUP BY s.dataset, s.condition, s.panel, s.item_set_version
)
SELECT
    p.dataset,
    p.condition,
    p.panel,
    p.participants,
    p.interpretability_mean,
    p.interpretability_ci_low,
    p.interpretability_ci_high,
    p.cognitive_load_mean,
    p.cognitive_load_ci_low,
    p.cognitive_load_ci_high,
    c.student,
    c.answer_accuracy,
    c.trace_accuracy,
    ri.mean AS reference_interpretability,
    rc.mean AS reference_cognitive_load,
    coalesce(ri.source, rc.source) AS reference_source,
    p.item_set_version,
    p.rated_trace_set_version
FROM per_condition AS p
LEFT JOIN condition_comparison AS c ON c.dataset = p.dataset AND c.condition = p.condition
LEFT JOIN reference_ratings AS ri ON ri.condition = p.condition AND ri.scale = 'interpretability'
LEFT JOIN reference_ratings AS rc ON rc.condition = p.condition AND rc.scale = 'cognitive_load'
ORDER BY p.dataset, p.condition, c.student
