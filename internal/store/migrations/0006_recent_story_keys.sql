-- 0006_recent_story_keys: new story keys go to recent_story_keys, a table
-- small enough that a batch's keys touch few of its pages, and are moved
-- into story_keys in bulk, in key order, whenever it holds mergeKeys of
-- them (store/storykeys.go). Keys are hashes, so inserting a batch's few
-- thousand straight into story_keys dirtied a page of it for nearly every
-- key, and a first ingest of 200,000 items wrote 3.8 GB of WAL for a
-- 0.5 GB database. all_story_keys is what lookups read: both tables.

CREATE TABLE recent_story_keys (
	key_hash   INTEGER NOT NULL,
	item_rowid INTEGER NOT NULL,
	PRIMARY KEY (key_hash, item_rowid)
) STRICT, WITHOUT ROWID;

CREATE VIEW all_story_keys AS
SELECT key_hash, item_rowid FROM story_keys
UNION ALL
SELECT key_hash, item_rowid FROM recent_story_keys;
