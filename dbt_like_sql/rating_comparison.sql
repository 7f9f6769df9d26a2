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
-- column participants: participants whose ratings count (those who failed an attention check left out)
-- column interpretability_mean: mean interpretability rating of the condition's traces (1 not at all to 5 completely)
-- column interpretability_ci_low: lower bound of its 95% t interval over participants' means; NULL: fewer than 2 participants
-- column interpretability_ci_high: upper bound of its 95% t interval over participants' means; NULL: fewer than 2 participants
-- column cognitive_load_mean: mean cognitive load rating of the condition's traces (1 very little to 5 very much effort)
-- column cognitive_load_ci_low: lower bound of its 95% t interval over participants' means; NULL: fewer than 2 participants
-- column cognitive_load_ci_high: upper bound of its 95% t interval over participants' means; NULL: fewer than 2 participants
-- column student: the student whose accuracy is shown (experiment-file name); NULL: no student of this condition evaluated
-- column answer_accuracy: that student's answer accuracy, mean over seeds (condition_comparison); NULL: none evaluated
-- column trace_accuracy: that student's trace accuracy, mean over seeds; NULL: none evaluated, or no steps written
-- column reference_interpretability: the reference study's published mean interpretability (1-5); NULL: none for this condition
-- column reference_cognitive_load: the reference study's published mean cognitive load (1-5); NULL: none for this condition
-- column reference_source: citation of the reference means; NULL: none for this condition
-- column rated_trace_set_version: version of the trace set whose traces were rated
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
