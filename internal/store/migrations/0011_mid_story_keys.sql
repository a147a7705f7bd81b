-- 0011_mid_story_keys: recent story keys move into mid_story_keys, and
-- only every midKeys of them into story_keys (store/storykeys.go). A move
-- into story_keys rewrites nearly every page of it however few keys it
-- brings, so moving 65,536 at a time rewrote the whole table 37 times in a
-- first ingest of 500,000 items: 6.7 s of the writer's time and a quarter
-- of the pages it wrote to the WAL. all_story_keys reads all three tables.

CREATE TABLE mid_story_keys (
	key_hash     INTEGER NOT NULL,
	item_rowid   INTEGER NOT NULL,
	title_sketch INTEGER,
	PRIMARY KEY (key_hash, item_rowid)
) STRICT, WITHOUT ROWID;

DROP VIEW all_story_keys;

CREATE VIEW all_story_keys AS
SELECT key_hash, item_rowid, title_sketch FROM story_keys
UNION ALL
SELECT key_hash, item_rowid, title_sketch FROM mid_story_keys
UNION ALL
SELECT key_hash, item_rowid, title_sketch FROM recent_story_keys;
