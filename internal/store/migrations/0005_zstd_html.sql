-- 0005_zstd_html: item HTML written from now on is compressed with zstd
-- instead of DEFLATE (see store/compress.go). Nothing is rewritten: BLOBs
-- already stored stay DEFLATE and read as before. The version exists so
-- that an older syndic, which cannot read zstd, refuses this database
-- instead of failing on its newer items.
SELECT 1;
