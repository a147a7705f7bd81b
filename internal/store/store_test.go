package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// t0 is the tests' clock: fixed, so that results do not depend on today.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "syndic.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// newItem builds a parsed item the way the parser and dedup would.
func newItem(source, key, title string, published time.Time) model.Item {
	link := "https://" + source + ".example/" + key
	it := model.Item{
		ID:           model.ItemID(source, "guid:"+key),
		SourceID:     source,
		Key:          "guid:" + key,
		GUID:         key,
		Link:         link,
		CanonicalURL: link,
		Title:        title,
		Summary:      "Summary of " + title,
		ContentHTML:  "<p>" + title + "</p>",
		Published:    published,
	}
	rehash(&it)
	return it
}

func rehash(it *model.Item) {
	sum := sha256.Sum256([]byte(it.Title + "\x00" + it.Summary))
	it.ContentHash = hex.EncodeToString(sum[:16])
}

func update(source string, now time.Time, items ...model.Item) model.FetchUpdate {
	if items == nil {
		items = []model.Item{}
	}
	return model.FetchUpdate{
		SourceID:    source,
		Now:         now,
		State:       model.SourceState{SourceID: source, URL: "https://" + source + ".example/feed", Status: model.StatusOK, LastFetch: now, LastSuccess: now},
		Items:       items,
		DedupWindow: 48 * time.Hour,
	}
}

func mustSave(t testing.TB, s *Store, u model.FetchUpdate) model.SaveResult {
	t.Helper()
	res, err := s.SaveFetch(context.Background(), u)
	if err != nil {
		t.Fatalf("SaveFetch(%s): %v", u.SourceID, err)
	}
	return res
}

func mustItem(t *testing.T, s *Store, id string) model.Item {
	t.Helper()
	it, err := s.Item(context.Background(), id)
	if err != nil {
		t.Fatalf("Item(%q): %v", id, err)
	}
	return it
}

func ids(items []model.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func counts(r model.SaveResult) string {
	return fmt.Sprintf("new=%d updated=%d unchanged=%d duplicate=%d", r.New, r.Updated, r.Unchanged, r.Duplicate)
}

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dir with space?", "x.db")
	if _, err := Open(ctx, path, Options{}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
	path = filepath.Join(t.TempDir(), "odd name?#.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got, want := LatestSchemaVersion(), 1; got < want {
		t.Errorf("LatestSchemaVersion() = %d, want >= %d", got, want)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v, LatestSchemaVersion(); got != want {
		t.Errorf("SchemaVersion() = %d, want %d", got, want)
	}
	var mode string
	if err := s.reader.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var fk int
	if err := s.reader.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Errorf("reader foreign_keys = %d, want 1", fk)
	}
	if _, err := s.reader.ExecContext(ctx, "DELETE FROM sources"); err == nil {
		t.Error("a reader connection could write")
	}
	mustSave(t, s, update("a", t0, newItem("a", "1", "One", t0)))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if n, err := s.ItemCount(ctx); err != nil || n != 1 {
		t.Errorf("ItemCount() after reopen = %d, %v; want 1", n, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}
	if err := s.Optimize(ctx); err != nil {
		t.Errorf("Optimize: %v", err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Errorf("Checkpoint: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "syndic.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	newer := LatestSchemaVersion() + 1
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	for _, ro := range []bool{false, true} {
		_, err = Open(ctx, path, Options{ReadOnly: ro})
		var ve *VersionError
		if !errors.As(err, &ve) {
			t.Fatalf("Open(ReadOnly=%v) error = %v, want *VersionError", ro, err)
		}
		if ve.Have != newer || ve.Know != LatestSchemaVersion() {
			t.Errorf("VersionError = %+v", ve)
		}
		want := fmt.Sprintf("database schema version %d is newer than this syndic (knows %d): upgrade syndic or restore a backup", newer, newer-1)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, filepath.Join(dir, "missing.db"), Options{ReadOnly: true}); err == nil {
		t.Error("read-only Open of a missing file succeeded")
	}
	path := filepath.Join(dir, "syndic.db")
	w, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mustSave(t, w, update("a", t0, newItem("a", "1", "One", t0)))

	r, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open: %v", err)
	}
	defer r.Close()
	items, err := r.Items(ctx, model.ItemQuery{})
	if err != nil || len(items) != 1 {
		t.Errorf("Items() = %d items, %v; want 1", len(items), err)
	}
	if _, err := r.SaveFetch(ctx, update("a", t0)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SaveFetch on read-only store: %v, want ErrReadOnly", err)
	}
	if err := r.SetFeatured(ctx, items[0].ID, true, t0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SetFeatured on read-only store: %v, want ErrReadOnly", err)
	}
	if res, err := r.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}
}

func TestSaveFetchCounts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	pub := t0.Add(-time.Hour)
	a1, a2, a3 := newItem("a", "1", "One", pub), newItem("a", "2", "Two", pub.Add(time.Minute)), newItem("a", "3", "Three", time.Time{})

	res := mustSave(t, s, update("a", t0, a1, a2, a3, a1))
	if got, want := counts(res), "new=3 updated=0 unchanged=0 duplicate=0"; got != want {
		t.Errorf("first save: %s, want %s", got, want)
	}
	if got, want := res.NewIDs, []string{a1.ID, a2.ID, a3.ID}; !slices.Equal(got, want) {
		t.Errorf("NewIDs = %v, want %v", got, want)
	}
	st, err := s.SourceState(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 3 || st.Version != 1 || st.Status != model.StatusOK || !st.LastFetch.Equal(t0) {
		t.Errorf("state after first save = %+v", st)
	}

	// The same document again, later, with a bumped date on a1 that the
	// caller's hash ignores: nothing changes.
	t1 := t0.Add(time.Hour)
	var before, after int64
	if err := s.writer.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		t.Fatal(err)
	}
	a1b := a1
	a1b.Published = pub.Add(time.Minute)
	a3b := a3
	res = mustSave(t, s, update("a", t1, a1b, a2, a3b))
	if got, want := counts(res), "new=0 updated=0 unchanged=3 duplicate=0"; got != want {
		t.Errorf("second save: %s, want %s", got, want)
	}
	if err := s.writer.QueryRowContext(ctx, "SELECT total_changes()").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if got, want := after-before, int64(1); got != want {
		t.Errorf("rows written by an unchanged save = %d, want %d (the source row only)", got, want)
	}
	if got := mustItem(t, s, a3.ID).Published; !got.Equal(t0) {
		t.Errorf("undated item published = %v, want first-seen %v", got, t0)
	}
	if got := mustItem(t, s, a1.ID).Published; !got.Equal(pub) {
		t.Errorf("unchanged item published = %v, want %v", got, pub)
	}

	// A real change of a2 and of undated a3.
	t2 := t0.Add(2 * time.Hour)
	a2c := a2
	a2c.Title = "Two, corrected"
	a2c.Published = time.Time{}
	rehash(&a2c)
	a3c := a3
	a3c.Summary = "new text"
	rehash(&a3c)
	res = mustSave(t, s, update("a", t2, a1, a2c, a3c))
	if got, want := counts(res), "new=0 updated=2 unchanged=1 duplicate=0"; got != want {
		t.Errorf("third save: %s, want %s", got, want)
	}
	got := mustItem(t, s, a2.ID)
	if got.Title != "Two, corrected" || !got.Published.Equal(a2.Published) || !got.FirstSeen.Equal(t0) ||
		!got.Updated.Equal(t2) || !got.Changed.Equal(t2) || got.ContentHash != a2c.ContentHash {
		t.Errorf("updated item = %+v", got)
	}
	if got := mustItem(t, s, a3.ID).Published; !got.Equal(t0) {
		t.Errorf("updated undated item published = %v, want first-seen %v", got, t0)
	}
	// A new date on an update wins.
	a2d := a2c
	a2d.Summary = "again"
	a2d.Published = pub.Add(-time.Hour)
	rehash(&a2d)
	mustSave(t, s, update("a", t2, a2d))
	if got := mustItem(t, s, a2.ID).Published; !got.Equal(a2d.Published) {
		t.Errorf("published after dated update = %v, want %v", got, a2d.Published)
	}
	if st, _ := s.SourceState(ctx, "a"); st.Version != 3 {
		t.Errorf("version = %d, want 3", st.Version)
	}

	// A 304 records state only.
	u := update("a", t2.Add(time.Hour))
	u.Items = nil
	u.State.Status = model.StatusNotModified
	if res := mustSave(t, s, u); counts(res) != "new=0 updated=0 unchanged=0 duplicate=0" {
		t.Errorf("304 save: %s", counts(res))
	}
	if st, _ := s.SourceState(ctx, "a"); st.Status != model.StatusNotModified || st.Version != 3 || st.Items != 3 {
		t.Errorf("state after 304 = %+v", st)
	}
}

func TestItemRoundTrip(t *testing.T) {
	s := openStore(t)
	it := newItem("a", "rt", "Round trip", t0.Add(-time.Hour).Add(123*time.Millisecond))
	it.GUIDIsLink = true
	it.Author = "Ann"
	it.Categories = []string{"x", "y z"}
	it.StoryKeys = []string{"url:x"}
	mustSave(t, s, update("a", t0, it))
	got := mustItem(t, s, it.ID)
	want := it
	want.StoryKeys = nil
	want.StoryID = it.ID
	want.FirstSeen, want.Updated, want.Changed = t0, t0, t0
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Item() =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := s.Item(context.Background(), "a:nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Item(missing) error = %v, want ErrNotFound", err)
	}
}

func TestSourceStates(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if err := s.SyncSources(ctx, map[string]string{"b": "https://b/feed", "a": "https://a/feed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SourceState(ctx, "zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SourceState(missing) = %v, want ErrNotFound", err)
	}
	st := model.SourceState{
		SourceID:          "a",
		URL:               "https://a/feed",
		FeedTitle:         "A",
		SiteURL:           "https://a/",
		ETag:              `"e"`,
		LastModified:      "Sat, 01 Mar 2025 12:00:00 GMT",
		LastFetch:         t0,
		Status:            model.StatusError,
		ErrorClass:        model.ErrClassNotAFeed,
		Error:             "not a feed",
		ConsecutiveErrors: 2,
		NextFetch:         t0.Add(time.Hour),
		NextFetchReason:   model.DeferBackoff,
		RedirectURL:       "https://a/new",
		Alternates:        []string{"https://a/rss", "https://a/atom"},
	}
	if err := s.SaveState(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := s.SourceState(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", st) {
		t.Errorf("SourceState() =\n%+v\nwant\n%+v", got, st)
	}
	mustSave(t, s, update("b", t0, newItem("b", "1", "B1", t0)))

	// a moves to a new URL: its validators go. b leaves the config.
	if err := s.SyncSources(ctx, map[string]string{"a": "https://a/moved", "c": "https://c/feed"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.SourceStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, st := range all {
		summary = append(summary, fmt.Sprintf("%s %s etag=%q orphaned=%v items=%d version=%d", st.SourceID, st.URL, st.ETag, st.Orphaned, st.Items, st.Version))
	}
	want := []string{
		`a https://a/moved etag="" orphaned=false items=0 version=0`,
		`b https://b.example/feed etag="" orphaned=true items=1 version=1`,
		`c https://c/feed etag="" orphaned=false items=0 version=0`,
	}
	if !slices.Equal(summary, want) {
		t.Errorf("SourceStates() =\n%s\nwant\n%s", strings.Join(summary, "\n"), strings.Join(want, "\n"))
	}
	versions, err := s.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(versions); got != "map[a:0 b:1 c:0]" {
		t.Errorf("Versions() = %s", got)
	}
	// b comes back.
	if err := s.SyncSources(ctx, map[string]string{"a": "https://a/moved", "b": "https://b.example/feed"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.SourceState(ctx, "b"); st.Orphaned {
		t.Error("b still orphaned after it came back")
	}
	if st, _ := s.SourceState(ctx, "c"); !st.Orphaned {
		t.Error("c not orphaned")
	}
}

func TestStoryLinking(t *testing.T) {
	tests := []struct {
		name      string
		source    string        // of the second item
		after     time.Duration // second item's fetch after the first's
		keys      []string
		sameStory func(candidate, item *model.Item) bool
		wantDup   bool
	}{
		{name: "other source within window", source: "b", after: 47 * time.Hour, keys: []string{"url:x"}, wantDup: true},
		{name: "any shared key", source: "b", after: time.Hour, keys: []string{"other", "title:x"}, wantDup: true},
		{name: "other source outside window", source: "b", after: 49 * time.Hour, keys: []string{"url:x"}},
		{name: "same source", source: "a", after: time.Hour, keys: []string{"url:x"}},
		{name: "no shared key", source: "b", after: time.Hour, keys: []string{"url:y"}},
		{name: "vetoed", source: "b", after: time.Hour, keys: []string{"url:x"},
			sameStory: func(c, it *model.Item) bool { return c.Title == it.Title }},
		{name: "confirmed", source: "b", after: time.Hour, keys: []string{"url:x"},
			sameStory: func(c, it *model.Item) bool { return c.SourceID == "a" && it.SourceID == "b" }, wantDup: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			first := newItem("a", "first", "First", t0)
			first.StoryKeys = []string{"url:x", "title:x"}
			mustSave(t, s, update("a", t0, first))

			second := newItem(tt.source, "second", "Second", t0)
			second.StoryKeys = tt.keys
			u := update(tt.source, t0.Add(tt.after), second)
			u.SameStory = tt.sameStory
			res := mustSave(t, s, u)
			if got := res.Duplicate == 1; got != tt.wantDup {
				t.Errorf("Duplicate = %d, want dup %v", res.Duplicate, tt.wantDup)
			}
			wantStory := second.ID
			if tt.wantDup {
				wantStory = first.ID
			}
			if got := mustItem(t, s, second.ID).StoryID; got != wantStory {
				t.Errorf("StoryID = %q, want %q", got, wantStory)
			}
			stories, err := s.StorySources(ctx, []string{first.ID, second.ID})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{first.ID: {"a"}, second.ID: {tt.source}}
			if tt.wantDup {
				want = map[string][]string{first.ID: {"a", "b"}}
			}
			if fmt.Sprint(stories) != fmt.Sprint(want) {
				t.Errorf("StorySources() = %v, want %v", stories, want)
			}
		})
	}
}

func TestStoryChainAndHidden(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := newItem("a", "1", "A", t0)
	a.StoryKeys = []string{"k"}
	mustSave(t, s, update("a", t0, a))
	b := newItem("b", "1", "B", t0)
	b.StoryKeys = []string{"k"}
	mustSave(t, s, update("b", t0.Add(time.Minute), b))
	// c matches b's key only; it joins b's story, which is a's.
	b2 := newItem("b", "2", "B2", t0)
	b2.StoryKeys = []string{"j"}
	c := newItem("c", "1", "C", t0)
	c.StoryKeys = []string{"j", "k"}
	mustSave(t, s, update("b", t0.Add(2*time.Minute), b2))
	res := mustSave(t, s, update("c", t0.Add(3*time.Minute), c))
	if res.Duplicate != 1 {
		t.Errorf("Duplicate = %d, want 1", res.Duplicate)
	}
	if got := mustItem(t, s, c.ID).StoryID; got != a.ID {
		t.Errorf("c.StoryID = %q, want the earliest candidate's story %q", got, a.ID)
	}
	if err := s.SetHidden(ctx, b.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	stories, err := s.StorySources(ctx, []string{a.ID, "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(stories), fmt.Sprint(map[string][]string{a.ID: {"a", "c"}}); got != want {
		t.Errorf("StorySources() = %s, want %s", got, want)
	}
}

func TestSaveFetchFailureWritesNothing(t *testing.T) {
	good := newItem("a", "good", "Good", t0)
	tests := []struct {
		name string
		mod  func(u *model.FetchUpdate, cancel context.CancelFunc)
	}{
		{name: "empty id", mod: func(u *model.FetchUpdate, _ context.CancelFunc) {
			bad := newItem("a", "bad", "Bad", t0)
			bad.ID = ""
			u.Items = append(u.Items, bad)
		}},
		{name: "wrong id", mod: func(u *model.FetchUpdate, _ context.CancelFunc) {
			bad := newItem("a", "bad", "Bad", t0)
			bad.ID = "a:0000"
			u.Items = append(u.Items, bad)
		}},
		{name: "empty key", mod: func(u *model.FetchUpdate, _ context.CancelFunc) {
			bad := newItem("a", "bad", "Bad", t0)
			bad.Key = ""
			u.Items = append(u.Items, bad)
		}},
		{name: "cancelled mid-transaction", mod: func(u *model.FetchUpdate, cancel context.CancelFunc) {
			dup := newItem("a", "dup", "Dup", t0)
			dup.StoryKeys = []string{"shared"}
			u.Items = append(u.Items, dup)
			u.SameStory = func(_, _ *model.Item) bool { cancel(); return false }
		}},
		{name: "cancelled before", mod: func(_ *model.FetchUpdate, cancel context.CancelFunc) { cancel() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			other := newItem("b", "x", "Other", t0)
			other.StoryKeys = []string{"shared"}
			mustSave(t, s, update("b", t0, other))

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			u := update("a", t0.Add(time.Minute), good)
			tt.mod(&u, cancel)
			if _, err := s.SaveFetch(ctx, u); err == nil {
				t.Fatal("SaveFetch succeeded")
			}
			bg := context.Background()
			if _, err := s.SourceState(bg, "a"); !errors.Is(err, ErrNotFound) {
				t.Errorf("state written: SourceState error = %v", err)
			}
			if n, _ := s.ItemCount(bg); n != 1 {
				t.Errorf("ItemCount() = %d, want 1 (the other source's)", n)
			}
			// The store still works.
			if res := mustSave(t, s, update("a", t0.Add(time.Minute), good)); res.New != 1 {
				t.Errorf("retry: %s", counts(res))
			}
		})
	}
}

func TestTombstones(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	old := newItem("a", "old", "Old", t0.Add(-time.Hour))
	cur := newItem("a", "cur", "Cur", t0)
	mustSave(t, s, update("a", t0, cur, old))
	res, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 1, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 1 || res.Tombstones != 1 {
		t.Fatalf("Prune() = %+v", res)
	}
	// Still listed: stays out.
	r := mustSave(t, s, update("a", t0.Add(time.Hour), cur, old))
	if got, want := counts(r), "new=0 updated=0 unchanged=2 duplicate=0"; got != want {
		t.Errorf("save while tombstoned: %s, want %s", got, want)
	}
	if _, err := s.Item(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("tombstoned item came back: %v", err)
	}
	// A 304 keeps the tombstone.
	u := update("a", t0.Add(2*time.Hour))
	u.Items = nil
	mustSave(t, s, u)
	if r := mustSave(t, s, update("a", t0.Add(3*time.Hour), cur, old)); r.New != 0 {
		t.Errorf("tombstone lost on a save without items: %s", counts(r))
	}
	// The feed drops it: so does the store.
	mustSave(t, s, update("a", t0.Add(4*time.Hour), cur))
	var n int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM tombstones").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("tombstones left = %d, want 0", n)
	}
	// And should it come back after all, it is new again.
	if r := mustSave(t, s, update("a", t0.Add(5*time.Hour), cur, old)); r.New != 1 {
		t.Errorf("re-listed item: %s, want new=1", counts(r))
	}
}

func TestMigrationsSayWhy(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != LatestSchemaVersion() || len(ms) == 0 {
		t.Fatalf("%d migrations, LatestSchemaVersion() = %d", len(ms), LatestSchemaVersion())
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %s has number %d, want %d", m.name, m.version, i+1)
		}
		if !strings.HasPrefix(m.sql, "-- ") {
			t.Errorf("migration %s does not start with a comment saying why it exists", m.name)
		}
	}
}

// TestSameStoryAskedOnce: SameStory is asked about each candidate once,
// earliest first, until it accepts one. Here it turns source a's item
// down the first time only: asked twice, the new item would join a's
// story.
func TestSameStoryAskedOnce(t *testing.T) {
	s := openStore(t)
	a := newItem("a", "1", "Story", t0)
	a.StoryKeys = []string{"k"}
	mustSave(t, s, update("a", t0, a))
	b := newItem("b", "1", "Story", t0)
	b.StoryKeys = []string{"k"}
	ub := update("b", t0.Add(time.Minute), b)
	ub.SameStory = func(c, it *model.Item) bool { return false }
	mustSave(t, s, ub)

	c := newItem("c", "1", "Story", t0)
	c.StoryKeys = []string{"k"}
	uc := update("c", t0.Add(2*time.Minute), c)
	var mu sync.Mutex
	asked := map[string]int{}
	uc.SameStory = func(cand, it *model.Item) bool {
		mu.Lock()
		defer mu.Unlock()
		asked[cand.SourceID]++
		return cand.SourceID == "b" || asked[cand.SourceID] > 1
	}
	if res := mustSave(t, s, uc); res.Duplicate != 1 {
		t.Fatalf("save of c: %s, want 1 duplicate", counts(res))
	}
	if got := mustItem(t, s, c.ID).StoryID; got != b.ID {
		t.Errorf("c joined story %q (asked %v), want b's %q", got, asked, b.ID)
	}
	if asked["a"] != 1 {
		t.Errorf("SameStory asked about a's item %d times, want once", asked["a"])
	}
}

// NeverStored lets prepare skip looking up the source's items; it is a
// hint, and a wrong one costs only that lookup: the writer still finds
// the stored items within its transaction.
func TestNeverStoredIsAHint(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	pub := t0.Add(-time.Hour)
	a1, a2 := newItem("a", "1", "One", pub), newItem("a", "2", "Two", pub)
	mustSave(t, s, update("a", t0, a1, a2))

	u := update("a", t0.Add(time.Hour), a1, a2)
	if p := s.prepare(ctx, &u); !p.unchanged[a1.ID] || !p.unchanged[a2.ID] {
		t.Fatalf("prepare without the hint: unchanged = %v, want both items", p.unchanged)
	}
	u.NeverStored = true
	if p := s.prepare(ctx, &u); len(p.unchanged) != 0 {
		t.Fatalf("prepare with NeverStored: unchanged = %v, want the lookup skipped", p.unchanged)
	}

	a2c := a2
	a2c.Title = "Two, corrected"
	rehash(&a2c)
	a3 := newItem("a", "3", "Three", pub)
	u = update("a", t0.Add(time.Hour), a1, a2c, a3)
	u.NeverStored = true
	res := mustSave(t, s, u)
	if got, want := counts(res), "new=1 updated=1 unchanged=1 duplicate=0"; got != want {
		t.Errorf("save with a wrong NeverStored: %s, want %s", got, want)
	}
	if got := mustItem(t, s, a2.ID).Title; got != "Two, corrected" {
		t.Errorf("updated title = %q", got)
	}
}

// TestReadQueriesPrepared: every statement a fetch runs on a reader is
// prepared once at Open. One that failed to prepare would still work,
// unprepared, so only this test would notice.
func TestReadQueriesPrepared(t *testing.T) {
	s := openStore(t)
	for _, q := range readQueries {
		if s.readStmts[q] == nil {
			t.Errorf("not prepared on the reader pool:%s", q)
		}
	}
	if len(s.readStmts) != len(readQueries) {
		t.Errorf("%d statements prepared, want %d", len(s.readStmts), len(readQueries))
	}
}

// TestMemoryPath: ":memory:" is a throwaway database that the writer and
// the readers share, that leaves no file where the process runs, and
// that Close removes.
func TestMemoryPath(t *testing.T) {
	ctx := context.Background()
	cwd := t.TempDir()
	t.Chdir(cwd)
	s, err := Open(ctx, MemoryPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(s.path)
	if !strings.HasPrefix(filepath.Base(dir), "syndic-memory-") {
		t.Errorf("throwaway database at %s, want a directory of its own", s.path)
	}
	it := newItem("a", "1", "Flood warning for the valley", t0)
	mustSave(t, s, update("a", t0, it))
	if got := mustItem(t, s, it.ID).Title; got != it.Title {
		t.Errorf("item read back through a reader: %q", got)
	}
	if got := search(t, s, "flood"); len(got) != 1 {
		t.Errorf("search = %q, want the item", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, %s: %v; want it removed", dir, err)
	}
	if left, _ := os.ReadDir(cwd); len(left) != 0 {
		t.Errorf("files left where the process runs: %v", left)
	}
	if _, err := Open(ctx, MemoryPath, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "nothing to read") {
		t.Errorf("read-only throwaway database: %v, want a refusal", err)
	}
}
