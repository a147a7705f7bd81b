-- 0003_block_story_keys: story keys changed scheme. A long title now has
-- 4 to 7 block keys (two thirds of the title each) instead of one deletion
-- key per word, so the table is rebuilt: the keys are dropped here and
-- recomputed from every item's title and canonical URL by rekeyStories
-- (rekey.go), in the same transaction.

DELETE FROM story_keys;
