-- 0001_init: the first schema. It exists to hold everything syndic must
-- remember between runs: per-source fetch state (the database is the
-- scheduler's memory), the items with their stable public ids, the keys
-- that link one story across sources, tombstones that keep pruned items
-- from coming back, and a full-text index over titles and summaries.
--
-- Times are INTEGER unix milliseconds UTC; 0 means "never" / unset.
-- Lists (alternates, categories) are JSON arrays, NULL when empty.

CREATE TABLE sources (
	id                 TEXT    NOT NULL PRIMARY KEY,
	url                TEXT    NOT NULL DEFAULT '',
	feed_title         TEXT    NOT NULL DEFAULT '',
	site_url           TEXT    NOT NULL DEFAULT '',
	etag               TEXT    NOT NULL DEFAULT '',
	last_modified      TEXT    NOT NULL DEFAULT '',
	last_fetch         INTEGER NOT NULL DEFAULT 0,
	last_success       INTEGER NOT NULL DEFAULT 0,
	status             TEXT    NOT NULL DEFAULT '',
	error_class        TEXT    NOT NULL DEFAULT '',
	error              TEXT    NOT NULL DEFAULT '',
	consecutive_errors INTEGER NOT NULL DEFAULT 0,
	next_fetch         INTEGER NOT NULL DEFAULT 0,
	next_fetch_reason  TEXT    NOT NULL DEFAULT '',
	redirect_url       TEXT    NOT NULL DEFAULT '',
	alternates         TEXT,
	orphaned           INTEGER NOT NULL DEFAULT 0,
	version            INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Small columns come first so that lookups reading only them stay on the
-- row's first page; content_html, the bulk of a row, comes last.
--
-- rowid is declared so that it is stable across VACUUM: the FTS index and
-- story_keys refer to it.
--
-- story_id is NULL when the item started its own story (the common case),
-- which keeps both the row and the story index small.
--
-- One permalink often serves as key, guid, link and canonical URL; it is
-- stored once: guid is NULL when key = 'guid:' || guid, link is NULL when
-- it equals the guid, canonical_url when it equals the link.
--
-- An item's identity within its source is (source_id, key); id is derived
-- from exactly that pair (model.ItemID), so the UNIQUE index on id alone
-- enforces it without a second index over the long keys.
CREATE TABLE items (
	rowid         INTEGER NOT NULL PRIMARY KEY,
	id            TEXT    NOT NULL UNIQUE,
	source_id     TEXT    NOT NULL REFERENCES sources (id),
	published     INTEGER NOT NULL,
	first_seen    INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	changed       INTEGER NOT NULL,
	featured      INTEGER NOT NULL DEFAULT 0,
	hidden        INTEGER NOT NULL DEFAULT 0,
	story_id      TEXT,
	content_hash  TEXT    NOT NULL,
	key           TEXT    NOT NULL,
	guid          TEXT,
	guid_is_link  INTEGER NOT NULL DEFAULT 0,
	link          TEXT,
	canonical_url TEXT,
	title         TEXT    NOT NULL DEFAULT '',
	author        TEXT    NOT NULL DEFAULT '',
	categories    TEXT,
	summary       TEXT    NOT NULL DEFAULT '',
	-- TEXT as received, or a BLOB of raw DEFLATE for longer bodies
	-- (see store/compress.go): HTML is most of the bytes.
	content_html  ANY     NOT NULL DEFAULT ''
) STRICT;

-- The listing indexes carry hidden so that a page of items is chosen from
-- the index alone and only the rows on the page are read.
--
-- Per-source listing, counting and retention by count.
CREATE INDEX items_source_published ON items (source_id, published, id, hidden);
-- The newest-first order of every output, cursor paging and retention by age.
CREATE INDEX items_published ON items (published, id, hidden);
-- Curated outputs list only featured items: keep them one short scan away.
CREATE INDEX items_featured ON items (published, id, hidden, source_id) WHERE featured = 1;
-- Items that joined another item's story.
CREATE INDEX items_story ON items (story_id) WHERE story_id IS NOT NULL;

-- story_keys indexes new items by their dedup keys so that a later item of
-- another source can find the story it belongs to. A key is stored as the
-- first 64 bits of its SHA-256 (key_hash): keys are long URLs and titles,
-- only equality matters, and a chance collision still has to pass the
-- caller's same-story check. Rows older than the dedup window are useless
-- and Prune may drop them.
CREATE TABLE story_keys (
	key_hash   INTEGER NOT NULL,
	item_rowid INTEGER NOT NULL REFERENCES items (rowid) ON DELETE CASCADE,
	source_id  TEXT    NOT NULL,
	first_seen INTEGER NOT NULL,
	PRIMARY KEY (key_hash, item_rowid)
) STRICT, WITHOUT ROWID;

-- The foreign key's cascade looks rows up by item.
CREATE INDEX story_keys_item ON story_keys (item_rowid);

-- tombstones remember pruned items while their feed still lists them, so
-- that retention is not undone by the next fetch.
CREATE TABLE tombstones (
	source_id  TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	removed_at INTEGER NOT NULL,
	PRIMARY KEY (source_id, key)
) STRICT, WITHOUT ROWID;

-- Full-text search over what a reader sees in a list: title and summary.
-- content_html is left out on purpose (it would double the database).
-- External content: the text lives once, in items. columnsize=0 drops the
-- per-row size table that only bm25 ranking needs; results are ordered by
-- date, not rank.
CREATE VIRTUAL TABLE items_fts USING fts5 (
	title,
	summary,
	content = 'items',
	content_rowid = 'rowid',
	columnsize = 0
);

-- There is no insert trigger: SaveFetch, the only writer of new items,
-- indexes a fetch's new items in one statement, because FTS5 writes an
-- index segment per statement and a trigger would make that one per item.
-- Deletes and updates are rarer and stay in step by trigger.
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
	INSERT INTO items_fts (items_fts, rowid, title, summary)
	VALUES ('delete', old.rowid, old.title, old.summary);
END;

CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary ON items BEGIN
	INSERT INTO items_fts (items_fts, rowid, title, summary)
	VALUES ('delete', old.rowid, old.title, old.summary);
	INSERT INTO items_fts (rowid, title, summary)
	VALUES (new.rowid, new.title, new.summary);
END;
