package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckpointInterval(t *testing.T) {
	for _, tt := range []struct{ pages, want int64 }{
		{0, checkpointPages},
		{walSafetyMinPages, checkpointPages},
		{16000, 2000},
		{walSafetyMaxPages, 4 * checkpointPages},
		{1 << 30, 4 * checkpointPages},
	} {
		if got := checkpointInterval(tt.pages); got != tt.want {
			t.Errorf("checkpointInterval(%d) = %d, want %d", tt.pages, got, tt.want)
		}
	}
	c := &checkpointer{}
	c.resize(40000)
	if got := c.every.Load(); got != 4*checkpointPages {
		t.Errorf("after resize(40000) every = %d, want %d", got, 4*checkpointPages)
	}
	fixed := &checkpointer{fixed: true}
	fixed.every.Store(7)
	fixed.resize(40000)
	if got := fixed.every.Load(); got != 7 {
		t.Errorf("a test's interval became %d after resize, want 7", got)
	}
	var none *checkpointer
	none.resize(40000) // read-only stores have no checkpointer
}

func TestCheckpointerWakesEveryNPages(t *testing.T) {
	c := &checkpointer{wake: make(chan struct{}, 1)}
	c.every.Store(10)
	woken := func() bool {
		select {
		case <-c.wake:
			return true
		default:
			return false
		}
	}
	c.wrote(4)
	c.wrote(5)
	if woken() {
		t.Fatal("woken after 9 of 10 pages")
	}
	c.wrote(1)
	if !woken() {
		t.Fatal("not woken after 10 pages")
	}
	c.wrote(25)
	c.wrote(12) // woken already: the wake-up is not queued twice
	if !woken() || woken() {
		t.Fatal("want exactly one wake-up after 37 more pages")
	}
	c.wrote(0)
	c.wrote(-3)
	if woken() {
		t.Fatal("woken by nothing written")
	}
	var none *checkpointer
	none.wrote(100) // a read-only store has none
}

// TestCheckpointerCopiesTheWAL checks that commits wake the checkpointer,
// that its checkpoint copies what they wrote into the database, and that
// the writer's own autocheckpoint is only a safety net.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	ran := make(chan checkpointResult, 64)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "syndic.db"), Options{checkpointEvery: 1, checkpointRan: ran})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	var auto int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != walSafetyMinPages {
		t.Errorf("writer's wal_autocheckpoint = %d, want %d", auto, walSafetyMinPages)
	}

	for i := range 3 {
		it := newItem("a", fmt.Sprint(i), fmt.Sprintf("Story number %d", i), t0)
		mustSave(t, s, update("a", t0.Add(time.Duration(i)*time.Minute), it))
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case res := <-ran:
			if res.err != nil {
				t.Fatalf("checkpoint: %v", res.err)
			}
			if res.frames > 0 && res.copied == res.frames {
				return // everything written so far is in the database
			}
		case <-deadline:
			t.Fatal("no checkpoint copied the WAL")
		}
	}
}

// TestCheckpointerTruncatesWhenIdle checks that once commits pause after a
// checkpoint, the checkpointer empties the WAL file, which SQLite otherwise
// keeps at its largest size while the database is open.
func TestCheckpointerTruncatesWhenIdle(t *testing.T) {
	ctx := context.Background()
	ran := make(chan checkpointResult, 64)
	path := filepath.Join(t.TempDir(), "syndic.db")
	s, err := Open(ctx, path, Options{checkpointEvery: 1, checkpointIdle: time.Millisecond, checkpointRan: ran})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		it := newItem("a", fmt.Sprint(i), fmt.Sprintf("Story number %d", i), t0)
		mustSave(t, s, update("a", t0.Add(time.Duration(i)*time.Minute), it))
	}
	grown, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if grown.Size() == 0 {
		t.Fatal("WAL file empty after three commits")
	}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case res := <-ran:
			if !res.truncated {
				continue
			}
			if res.err != nil {
				t.Fatalf("truncating checkpoint: %v", res.err)
			}
			fi, err := os.Stat(path + "-wal")
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != 0 {
				t.Fatalf("WAL file %d bytes after the truncating checkpoint (%d before), want 0", fi.Size(), grown.Size())
			}
			// The database is whole without the log.
			var n int
			if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil || n != 3 {
				t.Fatalf("items after truncation: %d, %v; want 3", n, err)
			}
			return
		case <-deadline:
			t.Fatal("no truncating checkpoint after commits paused")
		}
	}
}

func TestWriterCacheBytes(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct{ db, want int64 }{
		{0, 2 * mib},
		{10 * mib, 2 * mib},
		{64 * mib, 4 * mib},
		{65 * mib, 4 * mib}, // whole MiB only
		{100 * mib, 6 * mib},
		{512 * mib, 32 * mib},
		{1 << 40, 32 * mib},
	} {
		if got := writerCacheBytes(tc.db); got != tc.want {
			t.Errorf("writerCacheBytes(%d MiB) = %d MiB, want %d MiB", tc.db/mib, got/mib, tc.want/mib)
		}
	}
	for _, tc := range []struct{ pages, want int64 }{
		{0, 8000}, {5000, 8000}, {20000, 20000}, {68000, 32000},
	} {
		if got := walSafetyPages(tc.pages); got != tc.want {
			t.Errorf("walSafetyPages(%d) = %d, want %d", tc.pages, got, tc.want)
		}
	}
	if pageSlots*pageSize < writerCacheMax+readers*(1<<20) {
		t.Errorf("%d page slots cannot hold the largest writer cache and the readers'", pageSlots)
	}
}

// TestWriterSized checks that Open sizes the writer's page cache for the
// database (SQLite's default, 2,000 KiB, is not a size it picks), and that
// the batcher's look applies a new cache size and autocheckpoint.
func TestWriterSized(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "syndic.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cacheKiB := func() int64 {
		t.Helper()
		var n int64
		if err := s.writer.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return -n
	}
	if got := cacheKiB(); got != writerCacheMin>>10 {
		t.Fatalf("writer cache %d KiB after Open, want %d", got, writerCacheMin>>10)
	}
	// A size that no longer fits the database is replaced at the
	// batcher's next look, as a grown database's would be.
	if _, err := s.writer.ExecContext(ctx, "PRAGMA cache_size = -8192"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 12345"); err != nil {
		t.Fatal(err)
	}
	// The look follows the wake-up of a batch's callers; the batch after
	// it starts once the look is done.
	for range sizeEvery + 1 {
		mustSave(t, s, update("a", t0))
	}
	if got := cacheKiB(); got != writerCacheMin>>10 {
		t.Errorf("writer cache %d KiB after %d batches, want %d", got, sizeEvery, writerCacheMin>>10)
	}
	var auto int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != walSafetyMinPages {
		t.Errorf("writer autocheckpoint %d pages after %d batches, want %d", auto, sizeEvery, walSafetyMinPages)
	}
}

// TestCheckpointerTruncateGivesWay checks that a truncating checkpoint
// that a reader of the log holds up gives up soon, leaving the file for
// the next pause, and that the writer goes on meanwhile.
func TestCheckpointerTruncateGivesWay(t *testing.T) {
	ctx := context.Background()
	ran := make(chan checkpointResult, 64)
	path := filepath.Join(t.TempDir(), "syndic.db")
	s, err := Open(ctx, path, Options{checkpointEvery: 1 << 30, checkpointIdle: time.Millisecond, checkpointRan: ran})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSave(t, s, update("a", t0, newItem("a", "1", "Story number one", t0)))
	// A reader whose snapshot holds the first commit's frames.
	tx, err := s.reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, update("a", t0.Add(time.Minute), newItem("a", "2", "Story number two", t0)))
	s.ckpt.wake <- struct{}{}               // a checkpoint, then the idle truncation
	deadline := time.After(5 * time.Second) // the writer's busy timeout is 10 s
	for {
		select {
		case res := <-ran:
			if !res.truncated && res.err == nil {
				continue // the PASSIVE checkpoint
			}
			if res.err == nil {
				t.Fatal("the WAL was truncated under a reader of it")
			}
			mustSave(t, s, update("a", t0.Add(2*time.Minute), newItem("a", "3", "Story number three", t0)))
			return
		case <-deadline:
			t.Fatal("the truncating checkpoint waited for the reader for 5 s")
		}
	}
}
