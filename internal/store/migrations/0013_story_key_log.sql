-- 0013_story_key_log: story keys move from three tables indexed by key
-- into a log of one row per item (and per changed headline), which the
-- writer reads into memory (store/storyindex.go) and looks candidates up
-- in there. At 10,000 sources x 50 items, inserting the keys, moving them
-- between story_keys, mid_story_keys and recent_story_keys and looking
-- them up cost 15% of a first ingest's CPU; the log is appended to in
-- rowid order and read whole once per process.
--
-- seq orders the log: a process that holds the index replays the rows
-- other processes appended after the last one it read (AUTOINCREMENT, so
-- that a seq is never given twice, even after Prune empties the log).
-- key_hashes holds the item's story key hashes, 8 bytes each, big-endian:
-- the first 64 bits of the SHA-256 of each dedup key. title_sketch is
-- dedup.TitleSketch of the headline the keys are of, 0 when unknown.
--
-- The Go step of this migration (store/rekey.go) copies the keys stored
-- by the tables before it into the log, then drops them.

CREATE TABLE story_key_log (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	item_rowid   INTEGER NOT NULL,
	first_seen   INTEGER NOT NULL,
	title_sketch INTEGER NOT NULL,
	key_hashes   BLOB    NOT NULL
) STRICT;
