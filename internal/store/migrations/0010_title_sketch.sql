-- 0010_title_sketch: every story key carries the title sketch of its item
-- (dedup.TitleSketch), so that a lookup can turn down the candidates whose
-- titles differ too much for SameStory without reading their rows
-- (dedup.MaySameStory). Formulaic headlines share block keys: at 10,000
-- sources x 50 farm feeds, 97% of the candidates a first ingest read were
-- such, and reading them was a fifth of its CPU. Keys stored before this
-- migration have no sketch (NULL) and are read as before.

ALTER TABLE story_keys ADD COLUMN title_sketch INTEGER;
ALTER TABLE recent_story_keys ADD COLUMN title_sketch INTEGER;

DROP VIEW all_story_keys;

CREATE VIEW all_story_keys AS
SELECT key_hash, item_rowid, title_sketch FROM story_keys
UNION ALL
SELECT key_hash, item_rowid, title_sketch FROM recent_story_keys;
