-- Who rated the latest item set of each dataset: participants per panel, and how many were left out of the
-- rating statistics and why (a participant who fails any attention check is left out). The report states it
-- under the rating table.
-- test: not_null dataset, panel, item_set_version, participants, excluded
-- test: unique dataset, panel
-- column participants: participants who rated the item set on this panel
-- column excluded: participants left out of every rating statistic (they failed an attention check)
-- column failed_an_attention_check: participants who failed at least one attention check
WITH latest AS (
    SELECT dataset, arg_max(item_set_version, created_at) AS item_set_version
    FROM rating_item_sets
    GROUP BY dataset
)
SELECT
    l.dataset,
    p.panel,
    p.item_set_version,
    count(*) AS participants,
    count(*) FILTER (WHERE p.excluded) AS excluded,
    count(*) FILTER (WHERE p.attention_failed > 0) AS failed_an_attention_check
FROM rating_participants AS p
JOIN latest AS l ON l.item_set_version = p.item_set_version
GROUP BY l.dataset, p.panel, p.item_set_version
ORDER BY l.dataset, p.panel
