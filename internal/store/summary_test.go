package store

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/syndic-dev/syndic/internal/model"
)

// TestSummaryStoredInBody: a new item's summary goes into its body
// (packItem), its summary column stays empty, and every way of reading
// the item, its head, a story candidate or the search index still sees
// the summary.
func TestSummaryStoredInBody(t *testing.T) {
	ctx := context.Background()
	s := searchStore(t, filepath.Join(t.TempDir(), "s.db"), 1000)
	it := newItem("a", "1", "Council meets", t0)
	it.Summary = "The harbor defenses were discussed at length."
	it.ContentHTML = "<p>" + it.Summary + "</p>" + strings.Repeat("<p>More of the story.</p>", 30)
	it.StoryKeys = []string{"shared"}
	rehash(&it)
	mustSave(t, s, update("a", t0, it))

	var summary string
	var body []byte
	if err := s.reader.QueryRowContext(ctx, "SELECT summary, content_html FROM items WHERE id = ?", it.ID).Scan(&summary, &body); err != nil {
		t.Fatal(err)
	}
	if summary != "" || !isPackedItem(body, true) {
		t.Fatalf("stored summary %q and body %.8q, want an empty column and packItem's BLOB", summary, body)
	}
	items, err := s.Items(ctx, model.ItemQuery{IncludeHidden: true})
	if err != nil || len(items) != 1 {
		t.Fatalf("Items = %d items, %v", len(items), err)
	}
	if items[0].Summary != it.Summary || items[0].ContentHTML != it.ContentHTML {
		t.Errorf("Items read summary %q and %d bytes of HTML, want %q and %d", items[0].Summary, len(items[0].ContentHTML), it.Summary, len(it.ContentHTML))
	}
	heads, err := s.ItemHeads(ctx, model.ItemQuery{IncludeHidden: true}, true)
	if err != nil || len(heads) != 1 || heads[0].Summary != it.Summary || heads[0].Title != it.Title {
		t.Errorf("ItemHeads(text) = %+v, %v", heads, err)
	}
	if got := search(t, s, "defenses"); !slices.Equal(got, []string{"Council meets"}) {
		t.Errorf("search for a word of the summary found %q", got)
	}

	// A story candidate carries the summary for SameStory to compare.
	var seen string
	other := newItem("b", "1", "Council meets", t0)
	other.StoryKeys = []string{"shared"}
	u := update("b", t0, other)
	u.SameStory = func(cand, _ *model.Item) bool { seen = cand.Summary; return true }
	if res := mustSave(t, s, u); res.Duplicate != 1 {
		t.Fatalf("second source: %s, want 1 duplicate", counts(res))
	}
	if seen != it.Summary {
		t.Errorf("SameStory saw the candidate's summary as %q, want %q", seen, it.Summary)
	}
}

// TestDamagedBodyNamed: a packed body that does not decode fails the
// readers of its summary, the search index's included, with an error that
// names the item.
func TestDamagedBodyNamed(t *testing.T) {
	ctx := context.Background()
	s := searchStore(t, filepath.Join(t.TempDir(), "s.db"), 1000)
	it := newItem("a", "1", "Council meets", t0)
	mustSave(t, s, update("a", t0, it))
	// The mark, a decoded length of 10, then a copy cut short.
	if _, err := s.writer.ExecContext(ctx, "UPDATE items SET content_html = x'ff0afe' WHERE id = ?", it.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexPending(ctx); err == nil || !strings.Contains(err.Error(), strconv.Quote(it.ID)) {
		t.Errorf("IndexPending = %v, want an error naming item %q", err, it.ID)
	}
	if _, err := s.ItemHeads(ctx, model.ItemQuery{IncludeHidden: true}, true); err == nil || !strings.Contains(err.Error(), strconv.Quote(it.ID)) {
		t.Errorf("ItemHeads(text) = %v, want an error naming item %q", err, it.ID)
	}
}

// TestSearchFollowsEdits: once indexed, an item whose text changes is
// found by its new words and not by its old ones, and a deleted one is
// found no more; the index check agrees throughout.
func TestSearchFollowsEdits(t *testing.T) {
	ctx := context.Background()
	s := searchStore(t, filepath.Join(t.TempDir(), "s.db"), 1000)
	it := newItem("a", "1", "Council meets", t0)
	it.Summary = "The harbor defenses were discussed."
	rehash(&it)
	mustSave(t, s, update("a", t0, it))
	if got := search(t, s, "harbor"); len(got) != 1 {
		t.Fatalf("search before the edit found %q", got)
	}
	it.Summary = "The bridge repairs were discussed."
	rehash(&it)
	if res := mustSave(t, s, update("a", t0.Add(time.Hour), it)); res.Updated != 1 {
		t.Fatalf("edit: %s, want 1 updated", counts(res))
	}
	if got := search(t, s, "harbor"); len(got) != 0 {
		t.Errorf("search for a word the edit removed found %q", got)
	}
	if got := search(t, s, "bridge"); len(got) != 1 {
		t.Errorf("search for a word the edit added found %q", got)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck after the edit = %q, %v", res, err)
	}
	if _, err := s.writer.ExecContext(ctx, "DELETE FROM items WHERE id = ?", it.ID); err != nil {
		t.Fatal(err)
	}
	if got := search(t, s, "bridge"); len(got) != 0 {
		t.Errorf("search found the deleted item: %q", got)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck after the delete = %q, %v", res, err)
	}
}

// TestIntegrityCheckFindsIndexGaps: an item with no index entry, and an
// entry with no item, are reported.
func TestIntegrityCheckFindsIndexGaps(t *testing.T) {
	ctx := context.Background()
	s := searchStore(t, filepath.Join(t.TempDir(), "s.db"), 1000)
	mustSave(t, s, update("a", t0, newItem("a", "1", "Council meets", t0), newItem("a", "2", "Storm warning", t0)))
	if err := s.IndexPending(ctx); err != nil {
		t.Fatal(err)
	}
	var rowid int64
	if err := s.reader.QueryRowContext(ctx, "SELECT rowid FROM items WHERE title = 'Storm warning'").Scan(&rowid); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DELETE FROM items_fts WHERE rowid = " + itoa(rowid),
		"INSERT INTO items_fts (rowid, title, summary) VALUES (999, 'ghost', '')",
	} {
		if _, err := s.writer.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.IntegrityCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res, "1 items have no entry and 1 entries have no item") {
		t.Errorf("IntegrityCheck() = %q, want the missing and the stray entry reported", res)
	}
}

// TestMigrateSummaryInBody opens a schema-11 database, whose items keep
// their summary in its column and their HTML as zstd or text, one indexed
// for search and one still pending, and checks that
// migration 12 keeps them readable and finds them by search again, and
// that an edit rewrites one in the new form.
func TestMigrateSummaryInBody(t *testing.T) {
	ctx := context.Background()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	html := strings.Repeat("<p>The harbor council met to discuss the flood defenses.</p>", 10)
	frame := enc.EncodeAll([]byte(html), nil)
	old := newItem("a", "1", "Old storm", t0)
	s := openOldSchema(t, 11,
		"INSERT INTO sources (id) VALUES ('a')",
		`INSERT INTO items (rowid, id, source_id, published, first_seen, updated, changed, content_hash, key, guid, title, summary, content_html)
			VALUES (7, '`+old.ID+`', 'a', 1, 1, 1, 1, 'h', 'guid:1', '1', 'Old storm', 'Levees held overnight.', x'`+hexString(frame)+`')`,
		`INSERT INTO items (rowid, id, source_id, published, first_seen, updated, changed, content_hash, key, title, summary, content_html)
			VALUES (8, 'a:2', 'a', 2, 2, 2, 2, 'h2', 'guid:2', 'Short one', 'Ferries resumed.', '<p>Ferries resumed.</p>')`,
		"INSERT INTO items_fts (rowid, title, summary) VALUES (7, 'Old storm', 'Levees held overnight.')",
		// Item 8 was still waiting for the index.
		"INSERT INTO search_pending (item_rowid) VALUES (8)",
	)
	if v, _ := s.SchemaVersion(ctx); v != LatestSchemaVersion() {
		t.Errorf("schema version %d, want %d", v, LatestSchemaVersion())
	}
	items, err := s.ItemsByID(ctx, []string{old.ID})
	if err != nil || items[old.ID].Summary != "Levees held overnight." || items[old.ID].ContentHTML != html {
		t.Fatalf("old item read back as %+v, %v", items[old.ID], err)
	}
	for q, want := range map[string]string{"levees": "Old storm", "ferries": "Short one", "storm": "Old storm"} {
		if got := search(t, s, q); !slices.Equal(got, []string{want}) {
			t.Errorf("search %q after the migration found %q, want %q", q, got, want)
		}
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}

	edited := newItem("a", "1", "Old storm", t0)
	edited.Summary = "Levees were breached."
	rehash(&edited)
	if res := mustSave(t, s, update("a", t0, edited)); res.Updated != 1 {
		t.Fatalf("edit: %s, want 1 updated", counts(res))
	}
	var summary string
	var body []byte
	if err := s.reader.QueryRowContext(ctx, "SELECT summary, content_html FROM items WHERE rowid = 7").Scan(&summary, &body); err != nil {
		t.Fatal(err)
	}
	if summary != "" || !isPackedItem(body, true) {
		t.Errorf("edited row holds summary %q and body %.8q, want the new form", summary, body)
	}
	if got := search(t, s, "breached"); !slices.Equal(got, []string{"Old storm"}) {
		t.Errorf("search for the edited summary found %q", got)
	}
	if got := search(t, s, "overnight"); len(got) != 0 {
		t.Errorf("search for the old summary found %q", got)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
