-- 0002_lean_story_keys: story keys were a third of the database and most
-- of the writer's time at a first ingest (a title has up to 23 keys). A
-- key row now holds only what a lookup needs: the key and its item. The
-- source and first-seen date come from the item itself, and the foreign
-- key and its index on item_rowid are gone: Prune drops the keys of
-- removed items in one pass, together with those outside the dedup window.

CREATE TABLE story_keys_lean (
	key_hash   INTEGER NOT NULL,
	item_rowid INTEGER NOT NULL,
	PRIMARY KEY (key_hash, item_rowid)
) STRICT, WITHOUT ROWID;

INSERT INTO story_keys_lean (key_hash, item_rowid)
SELECT key_hash, item_rowid
FROM story_keys
ORDER BY key_hash, item_rowid;

DROP TABLE story_keys;

ALTER TABLE story_keys_lean RENAME TO story_keys;
