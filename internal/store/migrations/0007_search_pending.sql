-- 0007_search_pending: new items are indexed for search in bulk instead of
-- at every commit (store/search.go). FTS5 writes a segment per statement
-- and merges segments as they pile up, so indexing each batch's few
-- items on its own made the index rewrite its segments again and again:
-- at 10,000 sources a churn poll spent 3.8 s of CPU merging segments for
-- 50,000 new items. A new item's rowid waits in search_pending until
-- enough have gathered, a search needs them, or the process closes the
-- database; the index is then filled in one statement.
--
-- An item still pending is not in the index, so the triggers that keep
-- the index in step with items leave it alone: deleting it only drops
-- its pending row, and an update changes nothing the index holds (the
-- bulk statement reads the item as it is then).

CREATE TABLE search_pending (
	item_rowid INTEGER NOT NULL PRIMARY KEY
) STRICT;

DROP TRIGGER items_fts_delete;
DROP TRIGGER items_fts_update;

-- One trigger, two statements in order: the index entry goes only if the
-- item was indexed, then its pending row, if any.
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
	INSERT INTO items_fts (items_fts, rowid, title, summary)
	SELECT 'delete', old.rowid, old.title, old.summary
	WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE item_rowid = old.rowid);
	DELETE FROM search_pending WHERE item_rowid = old.rowid;
END;

CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary ON items
WHEN NOT EXISTS (SELECT 1 FROM search_pending WHERE item_rowid = old.rowid)
BEGIN
	INSERT INTO items_fts (items_fts, rowid, title, summary)
	VALUES ('delete', old.rowid, old.title, old.summary);
	INSERT INTO items_fts (rowid, title, summary)
	VALUES (new.rowid, new.title, new.summary);
END;
