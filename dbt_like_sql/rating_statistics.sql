-- The rating study's tests for the item set and panel shown in rating_comparison: per Likert scale,
-- Krippendorff's alpha (ordinal) across raters, the Friedman test across conditions and the pairwise
-- Wilcoxon signed-rank tests with Holm-corrected p, and how many participants failed an attention check
-- (left out of every statistic).
-- test: not_null item_set_version, panel, scale, test, n
WITH shown AS (
    SELECT DISTINCT item_set_version, panel FROM rating_comparison
),
excluded AS (
    SELECT item_set_version, panel, count(*) AS participants, count(*) FILTER (WHERE excluded) AS excluded_participants
    FROM rating_participants
    GROUP BY item_set_version, panel
)
SELECT
    t.item_set_version,
    t.panel,
    t.scale,
    t.test,
    t.groups,
    t.n,
    t.statistic,
    t.p,
    t.p_holm,
    e.participants,
    e.excluded_participants,
    t.note
FROM rating_tests AS t
JOIN shown AS s ON s.item_set_version = t.item_set_version AND s.panel = t.panel
LEFT JOIN excluded AS e ON e.item_set_version = t.item_set_version AND e.panel = t.panel
ORDER BY t.item_set_version, t.scale, t.test DESC, t.groups
