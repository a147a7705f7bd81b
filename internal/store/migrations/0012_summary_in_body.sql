-- 0012_summary_in_body: a new item's summary is stored inside its
-- content_html, with the HTML, in one S2 block (store/compress.go); its
-- summary column is left empty. Compressing the pair with S2 costs a third
-- of the CPU zstd took for the HTML alone, for about the same bytes.
-- Rows written before keep their summary column and their HTML as it was.
--
-- The full-text index could read the summary from items (external
-- content) and be handed the old values to delete an entry; SQL cannot
-- read a summary out of an S2 block. It becomes contentless, with
-- contentless_delete so that an entry is deleted by rowid alone (which
-- needs the per-row size table that columnsize = 0 used to drop), and is
-- filled by store/search.go through syndic_item_summary, a function the
-- store registers. No trigger calls that function, so the sqlite3 shell
-- can still delete and edit items.
--
-- Every item goes back to search_pending: the index is rebuilt in bulk
-- by the next indexing (search.go), not by this migration.

DROP TRIGGER items_fts_delete;
DROP TRIGGER items_fts_update;
DROP TABLE items_fts;

CREATE VIRTUAL TABLE items_fts USING fts5 (
	title,
	summary,
	content = '',
	contentless_delete = 1
);
INSERT INTO items_fts (items_fts, rank) VALUES ('hashsize', 4194304);

-- The index entry goes only if the item was indexed, then its pending
-- row, if any.
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
	DELETE FROM items_fts
	WHERE rowid = old.rowid
		AND NOT EXISTS (SELECT 1 FROM search_pending WHERE item_rowid = old.rowid);
	DELETE FROM search_pending WHERE item_rowid = old.rowid;
END;

-- A changed title or body (which holds the summary) takes the item out of
-- the index and queues it to be indexed again as it reads now.
CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, content_html ON items
WHEN NOT EXISTS (SELECT 1 FROM search_pending WHERE item_rowid = old.rowid)
BEGIN
	DELETE FROM items_fts WHERE rowid = old.rowid;
	INSERT INTO search_pending (item_rowid) VALUES (new.rowid);
END;

INSERT OR IGNORE INTO search_pending (item_rowid) SELECT rowid FROM items;
