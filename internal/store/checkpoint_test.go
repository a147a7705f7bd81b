package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckpointerWakesEveryNPages(t *testing.T) {
	c := &checkpointer{every: 10, wake: make(chan struct{}, 1)}
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
	if auto != walSafetyPages {
		t.Errorf("writer's wal_autocheckpoint = %d, want %d", auto, walSafetyPages)
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
