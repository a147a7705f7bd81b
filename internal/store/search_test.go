package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// searchStore opens a store whose writer indexes pending items batch at
// a time once it has had nothing to write for an hour: not in a test.
func searchStore(t *testing.T, path string, batch int64) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{searchBatch: batch, searchIdle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// counts returns the pending rows and the index's matches for q.
func searchCounts(t *testing.T, s *Store, q string) (pending, indexed int) {
	t.Helper()
	ctx := context.Background()
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM search_pending").Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM items_fts WHERE items_fts MATCH ?", q).Scan(&indexed); err != nil {
		t.Fatal(err)
	}
	return pending, indexed
}

func search(t *testing.T, s *Store, q string) []string {
	t.Helper()
	items, err := s.Items(context.Background(), model.ItemQuery{Search: q, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
	}
	return titles
}

// TestSearchPending: new items wait outside the index, a search indexes
// them first, and the index stays consistent with items edited and
// deleted while they waited.
func TestSearchPending(t *testing.T) {
	ctx := context.Background()
	s := searchStore(t, filepath.Join(t.TempDir(), "s.db"), 1000)
	flood := newItem("a", "1", "Flood warning for the valley", t0)
	storm := newItem("a", "2", "Storm closes the harbor", t0.Add(time.Minute))
	fire := newItem("a", "3", "Fire crews contain the blaze", t0.Add(2*time.Minute))
	mustSave(t, s, update("a", t0, flood, storm, fire))
	if pending, indexed := searchCounts(t, s, "flood"); pending != 3 || indexed != 0 {
		t.Fatalf("after saving: %d pending, %d indexed; want 3 pending, none indexed", pending, indexed)
	}

	// Edited while pending: the trigger leaves the index alone, and the
	// bulk statement indexes the new title.
	storm.Title, storm.Summary = "Gale closes the harbor", "Ferries stay in port"
	rehash(&storm)
	if res := mustSave(t, s, update("a", t0.Add(time.Hour), flood, storm, fire)); res.Updated != 1 {
		t.Fatalf("second fetch: %s, want 1 updated", counts(res))
	}
	// Deleted while pending: only its pending row goes.
	if _, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 2, Now: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := searchCounts(t, s, "flood"); pending != 2 {
		t.Fatalf("after pruning one pending item: %d pending, want 2", pending)
	}

	if got := search(t, s, "harbor"); len(got) != 1 || got[0] != "Gale closes the harbor" {
		t.Errorf("search harbor = %q, want the edited title", got)
	}
	if got := search(t, s, "storm"); len(got) != 0 {
		t.Errorf("search storm (the title before the edit) = %q, want nothing", got)
	}
	if got := search(t, s, "flood"); len(got) != 0 {
		t.Errorf("search flood (the pruned item) = %q, want nothing", got)
	}
	if pending, indexed := searchCounts(t, s, "fire"); pending != 0 || indexed != 1 {
		t.Errorf("after a search: %d pending, %d indexed for fire; want 0, 1", pending, indexed)
	}

	// Indexed items edited and deleted go through the index as before.
	fire.Title = "Fire crews contain the wildfire"
	rehash(&fire)
	mustSave(t, s, update("a", t0.Add(2*time.Hour), storm, fire))
	if _, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 1, Now: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}
	if got := search(t, s, "wildfire"); len(got) != 1 {
		t.Errorf("search wildfire = %q, want the edited indexed item", got)
	}
}

// idleIndexed waits for the outcome of the batcher's next idle indexing.
func idleIndexed(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not index while idle")
		return nil
	}
}

// TestSearchIndexedWhenIdle: the writer indexes the pending items, a
// batch at a time, only once it has had nothing to write for a while.
func TestSearchIndexedWhenIdle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	busy := searchStore(t, path, 2)
	items := []model.Item{newItem("a", "1", "Flood one", t0), newItem("a", "2", "Flood two", t0), newItem("a", "3", "Flood three", t0)}
	mustSave(t, busy, update("a", t0, items...))
	if err := busy.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, indexed := searchCounts(t, busy, "flood"); pending != 3 || indexed != 0 {
		t.Fatalf("before the writer idles: %d pending, %d indexed; want 3, 0", pending, indexed)
	}
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}

	ch := make(chan error, 4)
	s, err := Open(ctx, path, Options{searchBatch: 2, searchIdle: time.Nanosecond, searchIndexed: ch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Counted at open; two batches: 2 items, then 1.
	for i := range 2 {
		if err := idleIndexed(t, ch); err != nil {
			t.Fatalf("idle indexing %d: %v", i+1, err)
		}
	}
	if pending, indexed := searchCounts(t, s, "flood"); pending != 0 || indexed != 3 {
		t.Errorf("after the writer idled: %d pending, %d indexed; want 0, 3", pending, indexed)
	}
	if got := s.searchPending.Load(); got != 0 {
		t.Errorf("searchPending = %d after indexing all, want 0", got)
	}
	mustSave(t, s, update("b", t0, newItem("b", "1", "Flood four", t0)))
	if err := idleIndexed(t, ch); err != nil {
		t.Fatal(err)
	}
	if pending, indexed := searchCounts(t, s, "flood"); pending != 0 || indexed != 4 {
		t.Errorf("after a new item and idling: %d pending, %d indexed; want 0, 4", pending, indexed)
	}
}

// TestSearchPendingSurvives: items pending when a Store stops, closed or
// not (a crash), stay pending for the next one, and another Store on the
// same file indexes them for its own search.
func TestSearchPendingSurvives(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	a := searchStore(t, path, 1000) // closed below too: Close may be called twice
	mustSave(t, a, update("a", t0, newItem("a", "1", "Flood warning", t0)))
	b := searchStore(t, path, 1000)
	if got := b.searchPending.Load(); got != 1 {
		t.Errorf("second store counted %d pending at open, want 1", got)
	}
	if got := search(t, b, "flood"); len(got) != 1 {
		t.Fatalf("search through the second store = %q, want the first store's pending item", got)
	}
	mustSave(t, a, update("a", t0.Add(time.Hour), newItem("a", "2", "Storm warning", t0)))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if pending, indexed := searchCounts(t, b, "storm"); pending != 1 || indexed != 0 {
		t.Errorf("after Close: %d pending, %d indexed; want 1, 0", pending, indexed)
	}
	if got := search(t, b, "storm"); len(got) != 1 {
		t.Errorf("search storm through the second store = %q, want the item the first left pending", got)
	}
}

// TestSearchHashSize: the index gathers 4 MiB of terms before it writes
// a segment (migration 9), so that a batch makes few segments to merge.
func TestSearchHashSize(t *testing.T) {
	s := openStore(t)
	var size int64
	if err := s.reader.QueryRowContext(context.Background(), "SELECT v FROM items_fts_config WHERE k = 'hashsize'").Scan(&size); err != nil {
		t.Fatalf("read the index's hashsize: %v", err)
	}
	if size != 4<<20 {
		t.Errorf("hashsize = %d, want %d", size, 4<<20)
	}
}

// levelsHandler records the level of every message that says msg.
type levelsHandler struct {
	mu     sync.Mutex
	msg    string
	levels []slog.Level
}

func (h *levelsHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelsHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelsHandler) WithGroup(string) slog.Handler            { return h }
func (h *levelsHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if strings.Contains(r.Message, h.msg) {
		h.levels = append(h.levels, r.Level)
	}
	return nil
}

// TestIdleIndexingFailureWarnsOnce: indexing that fails while the writer
// idles leaves the items pending, says so once as a warning and then at
// debug level, and waits for the next batch before it tries again.
func TestIdleIndexingFailureWarnsOnce(t *testing.T) {
	ctx := context.Background()
	h := &levelsHandler{msg: "indexing new items for search failed"}
	ch := make(chan error, 4)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"), Options{searchIdle: time.Nanosecond, searchIndexed: ch, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// Inserts never touch the index; only the bulk statement does.
	if _, err := s.writer.ExecContext(ctx, "DROP TABLE items_fts"); err != nil {
		t.Fatal(err)
	}
	for i, title := range []string{"Flood one", "Flood two", "Flood three"} {
		res := mustSave(t, s, update("a", t0.Add(time.Duration(i)*time.Hour), newItem("a", strconv.Itoa(i), title, t0)))
		if res.New != 1 {
			t.Fatalf("save %d: %s, want 1 new", i, counts(res))
		}
		if err := idleIndexed(t, ch); err == nil {
			t.Fatalf("idle indexing %d without an index succeeded", i)
		}
	}
	select {
	case err := <-ch:
		t.Fatalf("indexing retried without a new batch: %v", err)
	default:
	}
	var pending int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM search_pending").Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 3 {
		t.Errorf("%d items pending after failed indexing, want 3", pending)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if want := []slog.Level{slog.LevelWarn, slog.LevelDebug, slog.LevelDebug}; !slices.Equal(h.levels, want) {
		t.Errorf("failure messages at levels %v, want %v", h.levels, want)
	}
}

// TestSearchIndexesInChunks: a search takes in every waiting item, a
// chunk per transaction, however many chunks they make.
func TestSearchIndexesInChunks(t *testing.T) {
	s := searchStore(t, filepath.Join(t.TempDir(), "s.db"), 2)
	var items []model.Item
	for i := range 5 {
		items = append(items, newItem("a", strconv.Itoa(i), "Flood "+strconv.Itoa(i), t0))
	}
	mustSave(t, s, update("a", t0, items...))
	if got := search(t, s, "flood"); len(got) != 5 {
		t.Errorf("search flood = %q, want all 5 items", got)
	}
	if pending, indexed := searchCounts(t, s, "flood"); pending != 0 || indexed != 5 {
		t.Errorf("after the search: %d pending, %d indexed; want 0, 5", pending, indexed)
	}
}
