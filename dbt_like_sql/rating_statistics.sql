-- The rating study's tests for the item set and panel shown in rating_comparison: per Likert scale,
-- Krippendorff's alpha (ordinal) across raters, the Friedman test across conditions and the pairwise
-- Wilcoxon signed-rank tests with Holm-corrected p, and how many participants failed an attention check
-- (left out of every statistic).
-- test: not_null item_set_version, panel, scale, test, n
-- column test: krippendorff_alpha_ordinal (agreement), friedman (all conditions) or wilcoxon (a pair, signed-rank)
-- column groups: the conditions the test compares, comma-separated
-- column n: participants (raters for alpha) the test used
-- column statistic: Krippendorff's alpha, Friedman's chi-square or Wilcoxon's W; NULL: undefined (see note)
-- column p: p-value; NULL for alpha, or where the test is undefined (see note)
-- column p_holm: Holm-corrected p over the pairwise Wilcoxon tests; NULL for the others
-- column participants: participants who rated the item set on this panel
-- column excluded_participants: of them, those left out of every statistic (failed an attention check)
-- column note: what the test ran on, or why it could not run
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
