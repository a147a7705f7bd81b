-- 0008_cover_selection: the per-source index also carries story_id and
-- changed, so that a selection's count and latest change of the items
-- alone in their story (store/selection.go, aloneSummary) read the index
-- alone instead of every item row. On 500,000 items that scan read the
-- whole 1.2 GB table at serve's first request and at every rebuild of a
-- large output. The columns keep their order, so every query that used
-- the index before still does.
DROP INDEX items_source_published;
CREATE INDEX items_source_published ON items (source_id, published, id, hidden, story_id, changed);
