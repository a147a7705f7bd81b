-- 0009_search_hash_size: FTS5 gathers the terms of the rows it indexes in
-- memory and writes them out as a new segment each time they pass
-- hashsize, 1 MiB by default, then merges the segments as they pile up.
-- A batch of 16,384 new items (store/search.go) made about ten segments
-- and their merges; with 4 MiB it makes two or three. A first ingest of
-- 500x50 took 3.4% less time (2.86 s against 2.96 s, three runs each) for
-- about 2 MB more peak RSS while a batch is indexed; 8 MiB saved no more
-- and cost 4-10 MB.
INSERT INTO items_fts (items_fts, rank) VALUES ('hashsize', 4194304);
