-- 0004_item_raw_hash: the hash of the feed fields an item's content hash
-- derives from, taken before conversion (model.Item.RawHash). When a
-- feed lists an item again with the same raw hash, the parser skips
-- converting it (Store.KnownItems). NULL for items stored before: they
-- are converted as always until their content changes.

ALTER TABLE items ADD COLUMN raw_hash INTEGER;
