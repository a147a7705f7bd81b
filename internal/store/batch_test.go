package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/dedup"
	"github.com/syndic-dev/syndic/internal/model"
)

// newReq builds a queued SaveFetch as SaveFetch would.
func newReq(s *Store, u model.FetchUpdate) *saveReq {
	ctx := context.Background()
	return &saveReq{ctx: ctx, u: u, pre: s.prepare(ctx, &u), done: make(chan struct{})}
}

func TestBatchIsolatesAFailingFetch(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	now := t0.Add(time.Minute)

	a := newItem("a", "1", "Storm hits the northern coast overnight", t0)
	a.StoryKeys = []string{"u:https://example.com/storm", "t:storm"}
	bad := newItem("b", "x", "Bad", t0)
	bad.ID = "b:0000" // not model.ItemID of its key
	c := newItem("c", "1", "Storm hits the northern coast overnight", t0)
	c.StoryKeys = []string{"t:storm"}

	reqs := []*saveReq{
		newReq(s, update("a", now, a)),
		newReq(s, update("b", now, bad)),
		newReq(s, update("c", now.Add(time.Second), c)),
	}
	s.runBatch(reqs)

	for _, r := range reqs {
		select {
		case <-r.done:
		default:
			t.Fatalf("request of %s not done", r.u.SourceID)
		}
	}
	if reqs[0].err != nil || reqs[0].res.New != 1 {
		t.Errorf("source a: %s, %v; want 1 new", counts(reqs[0].res), reqs[0].err)
	}
	if reqs[1].err == nil || !strings.Contains(reqs[1].err.Error(), "b:0000") {
		t.Errorf("source b: error %v, want one naming item b:0000", reqs[1].err)
	}
	if reqs[2].err != nil || reqs[2].res.New != 1 || reqs[2].res.Duplicate != 1 {
		t.Errorf("source c: %s, %v; want 1 new joining a's story", counts(reqs[2].res), reqs[2].err)
	}
	if _, err := s.SourceState(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("state of the failed fetch written: %v", err)
	}
	if got := mustItem(t, s, c.ID).StoryID; got != a.ID {
		t.Errorf("c's story = %q, want %q", got, a.ID)
	}
	if keys := len(loggedKeys(t, s)); keys != 3 {
		t.Errorf("story keys stored = %d, want 3", keys)
	}
}

// TestBatchFindsStoriesOfEarlierFetches puts two sources' fetches of one
// story in one transaction: the second must find the first's keys before
// they are written.
func TestBatchFindsStoriesOfEarlierFetches(t *testing.T) {
	s := openStore(t)
	now := t0.Add(time.Minute)
	a := newItem("a", "1", "Flood warning for the river valley tonight", t0)
	a.StoryKeys = []string{"t:flood"}
	b := newItem("b", "1", "Flood warning for the river valley tonight", t0)
	b.StoryKeys = []string{"t:flood"}
	ua, ub := update("a", now, a), update("b", now, b)
	ua.DedupWindow, ub.DedupWindow = time.Hour, time.Hour
	reqs := []*saveReq{newReq(s, ua), newReq(s, ub)}
	s.runBatch(reqs)
	for _, r := range reqs {
		if r.err != nil {
			t.Fatalf("source %s: %v", r.u.SourceID, r.err)
		}
	}
	if reqs[1].res.Duplicate != 1 {
		t.Errorf("source b: %s, want its item to join a's story", counts(reqs[1].res))
	}
}

func TestBatchSkipsCancelledFetches(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := newReq(s, update("a", t0, newItem("a", "1", "One", t0)))
	r.ctx = ctx
	ok := newReq(s, update("b", t0, newItem("b", "1", "Two", t0)))
	s.runBatch([]*saveReq{r, ok})
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled fetch: %v, want context.Canceled", r.err)
	}
	if ok.err != nil || ok.res.New != 1 {
		t.Errorf("other fetch: %s, %v", counts(ok.res), ok.err)
	}
	if n, _ := s.ItemCount(context.Background()); n != 1 {
		t.Errorf("ItemCount() = %d, want 1", n)
	}
}

func TestSaveFetchAfterClose(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.SaveFetch(context.Background(), update("a", t0, newItem("a", "1", "One", t0)))
	if err == nil {
		t.Fatal("SaveFetch after Close succeeded")
	}
}

// openOldSchema writes a database at schema version with the first
// version migrations and rows, and opens it, which migrates it to the
// latest schema.
func openOldSchema(t *testing.T, version int, rows ...string) *Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", version))
	db, err := sql.Open("sqlite", dsn(path, connWriter))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range ms[:version] {
		stmts = append(stmts, m.sql)
	}
	stmts = append(stmts, fmt.Sprintf("PRAGMA user_version = %d", version))
	for _, q := range append(stmts, rows...) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open schema-%d database: %v", version, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMigrateLeanStoryKeys opens a database written at schema version 1
// and checks that its story keys survive migration 0002 and still link
// stories.
func TestMigrateLeanStoryKeys(t *testing.T) {
	ctx := context.Background()
	s := openOldSchema(t, 1,
		"INSERT INTO sources (id) VALUES ('a')",
		`INSERT INTO items (rowid, id, source_id, published, first_seen, updated, changed, content_hash, key, title)
			VALUES (7, 'a:1', 'a', 1, 1, 1, 1, 'h', 'k', 'Old storm')`,
		"INSERT INTO items_fts (rowid, title, summary) VALUES (7, 'Old storm', '')",
		"INSERT INTO story_keys (key_hash, item_rowid, source_id, first_seen) VALUES (42, 7, 'a', 1)",
	)
	if v, _ := s.SchemaVersion(ctx); v != LatestSchemaVersion() {
		t.Errorf("schema version %d, want %d", v, LatestSchemaVersion())
	}
	// Migration 3 replaced the key of schema 1 with the item's own.
	want := map[[2]int64]bool{{storyKeyHash(dedup.StoryKeys("Old storm", "", "")[0]), 7}: true}
	if got := loggedKeys(t, s); !maps.Equal(got, want) {
		t.Errorf("story keys = %v, want %v", got, want)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}
}

// TestMigrateBlockStoryKeys opens a schema-2 database, whose keys follow
// the old scheme, and checks that migration 3 gives every item the keys
// of the new one, so that an edited headline saved after the upgrade
// joins a story saved before it.
func TestMigrateBlockStoryKeys(t *testing.T) {
	const title = "Council approves new rail plan after long debate in city hall"
	s := openOldSchema(t, 2,
		"INSERT INTO sources (id) VALUES ('a')",
		// Item 7: canonical URL and link repeat the guid (stored NULL);
		// item 8: a canonical URL of its own; item 9: no URL at all.
		`INSERT INTO items (rowid, id, source_id, published, first_seen, updated, changed, content_hash, key, guid, link, canonical_url, title)
			VALUES
			(7, 'a:1', 'a', 1, 1, 1, 1, 'h', 'guid:https://a.example/1', NULL, NULL, NULL, '`+title+`'),
			(8, 'a:2', 'a', 1, 1, 1, 1, 'h', 'guid:2', NULL, 'https://a.example/2?utm_source=x', 'https://a.example/2', 'Storm closes schools'),
			(9, 'a:3', 'a', 1, 1, 1, 1, 'h', 'hash:3', '', '', '', 'Five word title goes here')`,
		"INSERT INTO story_keys (key_hash, item_rowid) VALUES (42, 7), (43, 8)",
	)
	want := map[[2]int64]bool{}
	for rowid, k := range map[int64][]string{
		7: dedup.StoryKeys(title, "", "https://a.example/1"),
		8: dedup.StoryKeys("Storm closes schools", "", "https://a.example/2"),
		9: dedup.StoryKeys("Five word title goes here", "", ""),
	} {
		for _, k := range k {
			want[[2]int64{storyKeyHash(k), rowid}] = true
		}
	}
	if got := loggedKeys(t, s); !maps.Equal(got, want) {
		t.Errorf("story keys after migration:\n got %v\nwant %v", got, want)
	}

	// first_seen 1 is 1970: the window must reach back to it.
	it := newItem("b", "1", strings.Replace(title, "approves", "backs", 1), time.UnixMilli(2))
	it.StoryKeys = dedup.StoryKeys(it.Title, "", it.CanonicalURL)
	u := update("b", time.UnixMilli(2), it)
	u.SameStory = func(_, _ *model.Item) bool { return true }
	if res := mustSave(t, s, u); res.Duplicate != 1 {
		t.Errorf("edited headline after the migration: %s, want a duplicate", counts(res))
	}
}

// TestCandidatesPerKeyBounded checks that a key shared by many items of
// other sources brings at most maxCandidatesPerKey candidates, the most
// recent ones.
func TestCandidatesPerKeyBounded(t *testing.T) {
	s := openStore(t)
	for i := range maxCandidatesPerKey + 5 {
		it := newItem(fmt.Sprint("s", i), "1", fmt.Sprint("Headline number ", i), t0)
		it.StoryKeys = []string{"p:shared"}
		mustSave(t, s, update(fmt.Sprint("s", i), t0.Add(time.Duration(i)*time.Minute), it))
	}
	var reads int
	it := newItem("new", "1", "Something else", t0)
	it.StoryKeys = []string{"p:shared"}
	u := update("new", t0.Add(time.Hour), it)
	u.DedupWindow = 24 * time.Hour
	u.SameStory = func(_, _ *model.Item) bool { reads++; return false }
	if res := mustSave(t, s, u); res.New != 1 || res.Duplicate != 0 {
		t.Fatalf("save: %s", counts(res))
	}
	if reads != maxCandidatesPerKey {
		t.Errorf("SameStory called %d times, want %d", reads, maxCandidatesPerKey)
	}
}

// TestFillBatchOneFetchPerSource checks the batch bounds, and that a
// second fetch of a source waits for the next batch.
func TestFillBatchOneFetchPerSource(t *testing.T) {
	req := func(source string, items int) *saveReq {
		return &saveReq{u: model.FetchUpdate{SourceID: source, Items: make([]model.Item, items)}}
	}
	queue := []*saveReq{req("b", 1), req("c", 1), req("a", 1), req("d", 1)}
	poll := func() *saveReq {
		if len(queue) == 0 {
			return nil
		}
		r := queue[0]
		queue = queue[1:]
		return r
	}
	reqs, next := fillBatch(req("a", 1), poll)
	if len(reqs) != 3 || next == nil || next.u.SourceID != "a" || len(queue) != 1 {
		t.Errorf("batch of %d, next %v, %d left: want a, b, c, then a", len(reqs), next, len(queue))
	}
	queue = nil
	for i := range maxBatchFetches + 5 {
		queue = append(queue, req(fmt.Sprint(i), 1))
	}
	if reqs, next := fillBatch(req("x", 1), poll); len(reqs) != maxBatchFetches || next != nil {
		t.Errorf("batch of %d fetches, next %v: want %d, nil", len(reqs), next, maxBatchFetches)
	}
	queue = []*saveReq{req("b", maxBatchItems), req("c", 1)}
	if reqs, _ := fillBatch(req("a", 1), poll); len(reqs) != 2 {
		t.Errorf("batch of %d fetches past %d items, want 2", len(reqs), maxBatchItems)
	}
}

// TestBatchSameSourceTwice saves many fetches of one source at once, each
// changing the item the one before inserted, beside fetches of other
// sources, and checks that the full-text index stays whole and finds
// the item's last title.
func TestBatchSameSourceTwice(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			// Item 1 gets a new title each time; item i+2 is new.
			one := newItem("a", "1", fmt.Sprintf("Harbor report number %d", i), t0)
			fresh := newItem("a", fmt.Sprint(i+2), fmt.Sprintf("Market note %d", i), t0)
			if _, err := s.SaveFetch(ctx, update("a", t0.Add(time.Duration(i)*time.Second), one, fresh)); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			other := newItem(fmt.Sprint("o", i), "1", "Other source item", t0)
			if _, err := s.SaveFetch(ctx, update(fmt.Sprint("o", i), t0, other)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("IntegrityCheck() = %q, %v", res, err)
	}
	var title string
	if err := s.reader.QueryRowContext(ctx, "SELECT title FROM items WHERE id = ?", model.ItemID("a", "guid:1")).Scan(&title); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexPending(ctx); err != nil { // new items wait for the index (search.go)
		t.Fatal(err)
	}
	var hits int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM items_fts WHERE items_fts MATCH ?", `"`+title+`"`).Scan(&hits); err != nil {
		t.Fatal(err)
	}
	if hits != 1 {
		t.Errorf("search for the stored title %q: %d hits, want 1", title, hits)
	}
}

// TestWriterStatementsPreparedOnce checks that the batcher's statements
// are prepared on the writer connection after the first transaction that
// meets them, and that later transactions use those instead of preparing
// their own.
func TestWriterStatementsPreparedOnce(t *testing.T) {
	s := openStore(t)
	mustSave(t, s, update("a", t0, newItem("a", "1", "First headline", t0)))
	s.stmts.mu.Lock()
	prepared := len(s.stmts.stmts)
	s.stmts.mu.Unlock()
	if prepared == 0 {
		t.Fatal("no statements prepared on the writer after a fetch")
	}
	mustSave(t, s, update("a", t0.Add(time.Minute), newItem("a", "2", "Second headline", t0)))
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if len(s.stmts.stmts) != prepared || len(s.stmts.learned) != 0 {
		t.Errorf("after a second fetch: %d statements (want %d), %d queries learned (want 0)", len(s.stmts.stmts), prepared, len(s.stmts.learned))
	}
}
