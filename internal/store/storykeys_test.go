package store

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFlushKeys writes story keys through keyBuffer.flush and reads them
// back: several rows of one hash, the extreme hashes, and a key already
// there.
func TestFlushKeys(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	want := []storyKey{
		{hash: math.MinInt64, rowid: 1, sketch: math.MinInt64},
		{hash: -42, rowid: 7, sketch: 12345},
		{hash: -42, rowid: 3},
		{hash: 0, rowid: 2, sketch: -1},
		{hash: 99, rowid: 5, sketch: 5},
		{hash: 99, rowid: 4, sketch: 4},
		{hash: 99, rowid: 6},
		{hash: math.MaxInt64, rowid: math.MaxInt64, sketch: math.MaxInt64},
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO recent_story_keys VALUES (99, 5, 5)"); err != nil {
		t.Fatal(err)
	}
	// More than one statement's worth, the last one short.
	for i := range 2*keysPerInsert + 7 {
		want = append(want, storyKey{hash: int64(1000 + i%300), rowid: int64(100 + i), sketch: int64(i % 5)})
	}
	var kb keyBuffer
	for _, k := range want {
		kb.add(k)
	}
	if err := kb.flush(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := kb.flush(ctx, tx); err != nil { // nothing buffered
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT key_hash, item_rowid, coalesce(title_sketch, 0), typeof(key_hash), typeof(item_rowid), typeof(title_sketch) FROM recent_story_keys ORDER BY 1, 2")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []storyKey
	for rows.Next() {
		var k storyKey
		var typHash, typRowid, typSketch string
		if err := rows.Scan(&k.hash, &k.rowid, &k.sketch, &typHash, &typRowid, &typSketch); err != nil {
			t.Fatal(err)
		}
		if typHash != "integer" || typRowid != "integer" {
			t.Errorf("key %d, rowid %d stored as %s, %s", k.hash, k.rowid, typHash, typRowid)
		}
		if want := map[bool]string{true: "null", false: "integer"}[k.sketch == 0]; typSketch != want {
			t.Errorf("sketch %d of key %d stored as %s, want %s", k.sketch, k.hash, typSketch, want)
		}
		got = append(got, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b storyKey) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.rowid, b.rowid))
	})
	if !slices.Equal(got, want) {
		t.Errorf("stored keys\n%v\nwant\n%v", got, want)
	}
}

// TestBulkInsertsNeedNoStatementJournal guards the form of the statements
// that write many rows into a table already there (see insertKeysSQL):
// INSERT OR IGNORE, and no SQL function in the program SQLite compiles.
func TestBulkInsertsNeedNoStatementJournal(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for name, q := range map[string]string{
		"insertKeysSQL":          insertKeysSQL("recent_story_keys", false),
		"insertKeysSQL (before)": insertKeysSQL("recent_story_keys", true),
		"mergeKeysSQL (to mid)":  mergeKeysSQL("recent_story_keys", "mid_story_keys"),
		"mergeKeysSQL (to main)": mergeKeysSQL("mid_story_keys", "story_keys"),
	} {
		if !strings.HasPrefix(strings.TrimSpace(q), "INSERT OR IGNORE ") {
			t.Errorf("%s is not an INSERT OR IGNORE: %s", name, q)
		}
		args := make([]any, strings.Count(q, "?"))
		rows, err := s.writer.QueryContext(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ops := 0
		for rows.Next() {
			var addr, p1, p2, p3 int64
			var op string
			var p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ops++
			if op == "Function" || op == "PureFunc" {
				t.Errorf("%s calls an SQL function (%s %s)", name, op, asBytes(p4))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows.Close()
		if ops == 0 {
			t.Errorf("%s: EXPLAIN listed no opcodes", name)
		}
	}
}

func asBytes(v any) []byte {
	switch v := v.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	return nil
}

// TestMaintainFailureWarnsOnce: a merge of the recent story keys that
// fails after a commit leaves the fetch saved and the keys where they
// were, says so once as a warning, and then only at debug level while it
// keeps failing.
func TestMaintainFailureWarnsOnce(t *testing.T) {
	ctx := context.Background()
	h := &levelsHandler{msg: "story key merge failed"}
	s, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"), Options{mergeKeys: 1, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// New keys go to recent_story_keys; only the merge writes here.
	if _, err := s.writer.ExecContext(ctx, `
		CREATE TRIGGER full_disk BEFORE INSERT ON mid_story_keys
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	for i, title := range []string{"Flood one", "Flood two", "Flood three"} {
		it := newItem("a", strconv.Itoa(i), title, t0)
		it.StoryKeys = []string{"t:" + title}
		if res := mustSave(t, s, update("a", t0.Add(time.Duration(i)*time.Hour), it)); res.New != 1 {
			t.Fatalf("save %d: %s, want 1 new", i, counts(res))
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var recent, merged int
	if err := s.reader.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM recent_story_keys), (SELECT count(*) FROM story_keys)").Scan(&recent, &merged); err != nil {
		t.Fatal(err)
	}
	if recent != 3 || merged != 0 {
		t.Errorf("after failed merges: %d recent keys, %d merged; want 3, 0", recent, merged)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if want := []slog.Level{slog.LevelWarn, slog.LevelDebug, slog.LevelDebug}; !slices.Equal(h.levels, want) {
		t.Errorf("failure messages at levels %v, want %v", h.levels, want)
	}
}
