package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/keyindex"
	"github.com/syndic-dev/syndic/internal/model"
)

// loggedKeys reads story_key_log: its (key hash, item rowid) pairs.
func loggedKeys(t *testing.T, s *Store) map[[2]int64]bool {
	t.Helper()
	rows, err := s.reader.QueryContext(context.Background(), "SELECT item_rowid, key_hashes FROM story_key_log")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[[2]int64]bool{}
	for rows.Next() {
		var rowid int64
		var blob []byte
		if err := rows.Scan(&rowid, &blob); err != nil {
			t.Fatal(err)
		}
		if len(blob)%8 != 0 {
			t.Fatalf("key_hashes of item %d: %d bytes, not a multiple of 8", rowid, len(blob))
		}
		for _, h := range decodeKeyHashes(nil, blob) {
			got[[2]int64{h, rowid}] = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestKeyLogRows writes keys through keyBuffer.flush and reads the log
// back: one row per headline in the order added, the extreme values, a
// hash repeated within a headline kept once, and more rows than one
// statement takes.
func TestKeyLogRows(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	hash := func(k string) int64 {
		switch k {
		case "min":
			return math.MinInt64
		case "max":
			return math.MaxInt64
		}
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	type row struct {
		rowid, firstSeen, sketch int64
		keys                     []string
	}
	rows := []row{
		{1, 10, math.MinInt64, []string{"min", "-42", "min"}},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, []string{"max"}},
		{3, 0, 0, []string{"", "0"}},
	}
	for i := range 2*logRowsPerInsert + 7 {
		rows = append(rows, row{int64(100 + i), int64(i), int64(i % 5), []string{strconv.Itoa(1000 + i%300), strconv.Itoa(i)}})
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var kb keyBuffer
	for _, r := range rows {
		kb.add(r.rowid, "a", r.firstSeen, r.sketch, r.keys, hash)
	}
	kb.add(5, "a", 1, 1, []string{""}, hash) // no keys: no row
	if err := kb.flush(ctx, tx); err != nil {
		t.Fatal(err)
	}
	var n, last int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*), max(seq) FROM story_key_log").Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	if n != int64(len(rows)) || kb.last != last {
		t.Fatalf("%d rows, last seq %d (flush said %d); want %d rows", n, last, kb.last, len(rows))
	}
	got, err := tx.QueryContext(ctx, "SELECT item_rowid, first_seen, title_sketch, key_hashes, typeof(title_sketch) FROM story_key_log ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	for i := 0; got.Next(); i++ {
		var r row
		var blob []byte
		var typ string
		if err := got.Scan(&r.rowid, &r.firstSeen, &r.sketch, &blob, &typ); err != nil {
			t.Fatal(err)
		}
		var want []int64
		for _, k := range rows[i].keys {
			if k != "" && !slices.Contains(want, hash(k)) {
				want = append(want, hash(k))
			}
		}
		if r.rowid != rows[i].rowid || r.firstSeen != rows[i].firstSeen || r.sketch != rows[i].sketch || typ != "integer" || !slices.Equal(decodeKeyHashes(nil, blob), want) {
			t.Errorf("row %d = %d %d %d (%s) %v, want %+v with hashes %v", i, r.rowid, r.firstSeen, r.sketch, typ, decodeKeyHashes(nil, blob), rows[i], want)
		}
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestStoryIndexReadFromLog: a story saved by one process is found by
// the next, which reads the log once, at its first lookup; a process
// that saves no new items never reads it.
func TestStoryIndexReadFromLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syndic.db")
	open := func() *Store {
		s, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	now := t0.Add(time.Minute)
	a := open()
	first := storyFetch("first", now)
	a.runBatch([]*saveReq{first})
	if first.err != nil {
		t.Fatal(first.err)
	}
	a.Close()

	b := open()
	mustSave(t, b, update("first", now)) // no items
	if b.stories.loaded {
		t.Error("the index was read for a fetch without items")
	}
	late := storyFetch("late", now)
	b.runBatch([]*saveReq{late})
	if late.err != nil || late.res.Duplicate != 1 {
		t.Fatalf("late fetch: %s, %v; want its item to join the story saved before", counts(late.res), late.err)
	}
	if items, keys := b.stories.idx.Len(); items != 2 || keys != 2 {
		t.Errorf("index holds %d items and %d keys, want 2 and 2", items, keys)
	}
	if items, bytes := b.StoryIndexSize(); items != 2 || bytes <= 0 {
		t.Errorf("StoryIndexSize() = %d, %d; want 2 items in some memory", items, bytes)
	}
	b.Close()
	if items, bytes := b.StoryIndexSize(); items != 0 || bytes != 0 {
		t.Errorf("StoryIndexSize() after Close = %d, %d; want 0, 0", items, bytes)
	}
}

// TestStoryIndexCatchesUp: another process commits a story after this
// Store read its index; the writer must see the foreign commit and read
// the rows it appended before it looks the next fetch's keys up.
func TestStoryIndexCatchesUp(t *testing.T) {
	a, b := openShared(t)
	now := t0.Add(time.Minute)
	warm := storyFetch("warm", now)
	warm.u.Items[0].StoryKeys = []string{"p:unrelated"}
	a.runBatch([]*saveReq{warm}) // reads a's index
	if warm.err != nil || !a.stories.loaded {
		t.Fatalf("warm-up: %v, index read %v", warm.err, a.stories.loaded)
	}
	first := storyFetch("first", now)
	b.runBatch([]*saveReq{first})
	late := storyFetch("late", now)
	a.runBatch([]*saveReq{late})
	if first.err != nil || late.err != nil {
		t.Fatalf("errors: %v, %v", first.err, late.err)
	}
	if late.res.Duplicate != 1 {
		t.Errorf("late fetch: %s, want its item to join the story the other store wrote", counts(late.res))
	}
	if items, _ := a.stories.idx.Len(); items != 3 {
		t.Errorf("a's index holds %d items, want 3 (its own two and the other store's)", items)
	}
	// b's index was read before a's late commit: b catches up too.
	again := storyFetch("again", now)
	b.runBatch([]*saveReq{again})
	if again.err != nil || again.res.Duplicate != 1 {
		t.Errorf("again: %s, %v; want a duplicate", counts(again.res), again.err)
	}
	if items, _ := b.stories.idx.Len(); items != 4 {
		t.Errorf("b's index holds %d items, want 4", items)
	}
}

// TestStoryIndexRolledBack: keys of a transaction that rolls back never
// reach the index.
func TestStoryIndexRolledBack(t *testing.T) {
	s := openStore(t)
	now := t0.Add(time.Minute)
	warm := storyFetch("warm", now)
	warm.u.Items[0].StoryKeys = []string{"p:unrelated"}
	s.runBatch([]*saveReq{warm})
	bad := storyFetch("bad", now)
	bad.u.Items = append(bad.u.Items, newItem("bad", "2", "Another", t0))
	bad.u.Items[1].ID = "bad:0000" // not model.ItemID of its key: the fetch fails
	s.runBatch([]*saveReq{bad})
	if bad.err == nil {
		t.Fatal("the bad fetch was saved")
	}
	if items, _ := s.stories.idx.Len(); items != 1 {
		t.Errorf("index holds %d items after a rolled-back fetch, want 1", items)
	}
	late := storyFetch("late", now)
	s.runBatch([]*saveReq{late})
	if late.err != nil || late.res.Duplicate != 0 {
		t.Errorf("late fetch: %s, %v; want no story to join", counts(late.res), late.err)
	}
}

// TestStoryIndexTidy: once more than half of the index is older than the
// dedup window, the writer reads it again, from a log Prune emptied of
// those rows; a lookup reaching further back than the index was read for
// reads it again too.
func TestStoryIndexTidy(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	save := func(source string, at time.Time, title string, keys ...string) model.SaveResult {
		t.Helper()
		it := newItem(source, "1", title, t0)
		it.StoryKeys = keys
		u := update(source, at, it)
		u.DedupWindow = time.Hour
		return mustSave(t, s, u)
	}
	for i := range 3 {
		save(fmt.Sprint("old", i), t0, "Old story", fmt.Sprint("p:old", i))
	}
	later := t0.Add(2 * time.Hour)
	if _, err := s.Prune(ctx, PrunePolicy{DedupWindow: time.Hour, Now: later}); err != nil {
		t.Fatal(err)
	}
	save("new", later, "New story", "p:new")
	if items, _ := s.stories.idx.Len(); items != 0 {
		t.Errorf("index holds %d items after the three old ones aged out, want 0 (read again)", items)
	}
	if res := save("next", later.Add(time.Minute), "New story", "p:new"); res.Duplicate != 1 {
		t.Errorf("next: %s, want a duplicate of new", counts(res))
	}
	if items, _ := s.stories.idx.Len(); items != 2 {
		t.Errorf("index holds %d items, want 2", items)
	}
	// A wider window reaches back past what the index was read for.
	it := newItem("wide", "1", "Old story", t0)
	it.StoryKeys = []string{"p:new"}
	u := update("wide", later.Add(2*time.Minute), it)
	u.DedupWindow = 24 * time.Hour
	if res := mustSave(t, s, u); res.Duplicate != 1 {
		t.Errorf("wide: %s, want a duplicate", counts(res))
	}
	if s.stories.since != ms(later.Add(2*time.Minute).Add(-24*time.Hour)) {
		t.Errorf("index read from %d, want the wider window's start", s.stories.since)
	}
}

// TestKeyWants: a key hash remembers every distinct sketch of the new
// items that carry it, a canonical-URL key lets every candidate through,
// and a hash no new item carries lets none through.
func TestKeyWants(t *testing.T) {
	hash := func(k string) int64 { return int64(len(k)) }
	same := func(candidate, item int64) bool { return candidate == item }
	w := newKeyWants(3)
	w.add(&model.Item{StoryKeys: []string{"p:aa", ""}, TitleSketch: 5}, hash)
	w.add(&model.Item{StoryKeys: []string{"p:bb"}, TitleSketch: 7}, hash) // same hash, another sketch
	w.add(&model.Item{StoryKeys: []string{"p:cc"}, TitleSketch: 7}, hash) // a sketch already there
	w.add(&model.Item{StoryKeys: []string{"u:https://x"}, TitleSketch: 9}, hash)
	if got := w[4]; got.first != 5 || !slices.Equal(got.more, []int64{7}) {
		t.Errorf("sketches of hash 4 = %+v, want 5 then [7]", got)
	}
	for _, tc := range []struct {
		hash, sketch int64
		want         bool
	}{
		{4, 5, true},
		{4, 7, true},
		{4, 6, false},
		{4, 0, true}, // a candidate without a sketch is always read
		{11, 123, true},
		{99, 5, false},
	} {
		if got := w.worth(tc.hash, tc.sketch, same); got != tc.want {
			t.Errorf("worth(%d, %d) = %v, want %v", tc.hash, tc.sketch, got, tc.want)
		}
	}
}

// TestLogInsertNeedsNoStatementJournal guards the form of insertLogSQL:
// INSERT OR IGNORE, and no SQL function in the program SQLite compiles
// (see flushKeys on the statement journal).
func TestLogInsertNeedsNoStatementJournal(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for _, n := range []int{1, logRowsPerInsert} {
		q := insertLogSQL(n)
		if !strings.HasPrefix(q, "INSERT OR IGNORE ") {
			t.Errorf("insertLogSQL(%d) is not an INSERT OR IGNORE: %s", n, q)
		}
		rows, err := s.writer.QueryContext(ctx, "EXPLAIN "+q, make([]any, 4*n)...)
		if err != nil {
			t.Fatal(err)
		}
		ops := 0
		for rows.Next() {
			var addr, p1, p2, p3 int64
			var op string
			var p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			ops++
			if op == "Function" || op == "PureFunc" {
				t.Errorf("insertLogSQL(%d) calls an SQL function (%s %v)", n, op, p4)
			}
		}
		rows.Close()
		if ops == 0 {
			t.Errorf("insertLogSQL(%d): EXPLAIN listed no opcodes", n)
		}
	}
}

// TestMigrateStoryKeyLog opens a schema-12 database with keys in all
// three key tables and checks that migration 13 logs them, a row per item
// and sketch, drops the tables, and that an item saved after the upgrade
// joins a story saved before it.
func TestMigrateStoryKeyLog(t *testing.T) {
	ctx := context.Background()
	s := openOldSchema(t, 12,
		"INSERT INTO sources (id) VALUES ('a')",
		`INSERT INTO items (rowid, id, source_id, published, first_seen, updated, changed, content_hash, key, title)
			VALUES
			(7, 'a:1', 'a', 1, 5, 1, 1, 'h', 'guid:1', 'Flood warning'),
			(8, 'a:2', 'a', 1, 6, 1, 1, 'h', 'guid:2', 'Storm')`,
		"INSERT INTO items_fts (rowid, title, summary) VALUES (7, 'Flood warning', ''), (8, 'Storm', '')",
		// Item 7: two keys of one headline in two tables, and a key of
		// its edited headline (another sketch); item 8: one key; item 9
		// is gone.
		"INSERT INTO story_keys (key_hash, item_rowid, title_sketch) VALUES (42, 7, 100), (50, 9, 1)",
		"INSERT INTO mid_story_keys (key_hash, item_rowid, title_sketch) VALUES (-43, 7, 100)",
		"INSERT INTO recent_story_keys (key_hash, item_rowid, title_sketch) VALUES (44, 7, 101), (45, 8, NULL)",
	)
	rows, err := s.reader.QueryContext(ctx, "SELECT item_rowid, first_seen, title_sketch, key_hashes FROM story_key_log ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var rowid, firstSeen, sketch int64
		var blob []byte
		if err := rows.Scan(&rowid, &firstSeen, &sketch, &blob); err != nil {
			t.Fatal(err)
		}
		hs := decodeKeyHashes(nil, blob)
		slices.Sort(hs)
		got = append(got, fmt.Sprint(rowid, " ", firstSeen, " ", sketch, " ", hs))
	}
	rows.Close()
	want := []string{"7 5 100 [-43 42]", "7 5 101 [44]", "8 6 0 [45]"}
	if !slices.Equal(got, want) {
		t.Errorf("log after migration:\n got %q\nwant %q", got, want)
	}
	for _, table := range []string{"story_keys", "mid_story_keys", "recent_story_keys", "all_story_keys"} {
		var n int
		if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = ?", table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s still there after the migration (%d, %v)", table, n, err)
		}
	}
	// An item of another source with key 44 (hash 44 here) joins item 7.
	it := newItem("b", "1", "Flood warning", time.UnixMilli(10))
	it.StoryKeys = []string{"k44"}
	u := update("b", time.UnixMilli(10), it)
	u.SameStory = func(_, _ *model.Item) bool { return true }
	u.MaySameStory = nil
	s.stories.forget()
	r := newReq(s, u)
	r.pre.keyHashes["k44"] = 44
	s.runBatch([]*saveReq{r})
	if r.err != nil || r.res.Duplicate != 1 {
		t.Errorf("item after the migration: %s, %v; want it to join item 7", counts(r.res), r.err)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}
}

// TestStoryIndexAfterForeignPrune: another process prunes the log's last
// rows, then appends; this Store replays only what was appended since,
// without reading again what its index holds.
func TestStoryIndexAfterForeignPrune(t *testing.T) {
	ctx := context.Background()
	a, b := openShared(t)
	now := t0.Add(time.Minute)
	first := storyFetch("first", now)
	a.runBatch([]*saveReq{first})
	if first.err != nil || !a.stories.loaded {
		t.Fatalf("first: %v, index read %v", first.err, a.stories.loaded)
	}
	// b drops every key (its window ends after them), then saves a story.
	if _, err := b.Prune(ctx, PrunePolicy{DedupWindow: time.Hour, Now: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := len(loggedKeys(t, b)); n != 0 {
		t.Fatalf("%d keys left after the prune, want 0", n)
	}
	// a notices the prune at its next write (a fetch without items).
	mustSave(t, a, update("first", now))
	second := storyFetch("second", now)
	b.runBatch([]*saveReq{second})
	late := storyFetch("late", now)
	a.runBatch([]*saveReq{late})
	if second.err != nil || late.err != nil {
		t.Fatalf("errors: %v, %v", second.err, late.err)
	}
	if late.res.Duplicate != 1 {
		t.Errorf("late: %s, want a duplicate", counts(late.res))
	}
	if items, _ := a.stories.idx.Len(); items != 3 {
		t.Errorf("a's index holds %d items, want 3 (first, second, late: none twice)", items)
	}
}

// BenchmarkStoryIndexRead reads a log of 100,000 items with five keys
// each into the index, as the first fetch with new items does.
func BenchmarkStoryIndexRead(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	recs := make([]keyRecord, 100_000)
	for i := range recs {
		h := int64(uint64(i) * 0x9e3779b97f4a7c15)
		recs[i] = keyRecord{item: keyindex.Item{Rowid: int64(i + 1), FirstSeen: 1, Sketch: h}, hashes: []int64{h, h + 1, h + 2, h + 3, h + 4}}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := appendKeyLog(ctx, tx, recs)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	var x storyIndex
	defer x.forget()
	for b.Loop() {
		err := s.read(ctx, func(tx *sql.Tx) error { return x.load(ctx, tx, 0) })
		if err != nil {
			b.Fatal(err)
		}
	}
	if items, _ := x.idx.Len(); items != len(recs) {
		b.Fatalf("read %d items, want %d", items, len(recs))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/item")
}
