package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openAsync(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{AsyncStateSaves: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// TestAsyncStateSaves checks that state-only saves return before their
// commit, that Flush waits for them, and that saves with items still
// return their result.
func TestAsyncStateSaves(t *testing.T) {
	ctx := context.Background()
	s := openAsync(t, filepath.Join(t.TempDir(), "a.db"))
	defer s.Close()
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := update(fmt.Sprint("s", i), t0, nil...)
			u.Items = nil // a 304
			u.State.ETag = fmt.Sprint(`"e`, i, `"`)
			if _, err := s.SaveFetch(ctx, u); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	res := mustSave(t, s, update("items", t0, newItem("items", "1", "A headline", t0)))
	if res.New != 1 {
		t.Errorf("save with items: %s, want 1 new", counts(res))
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	states, err := s.FetchStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, want := states[fmt.Sprint("s", i)].ETag, fmt.Sprint(`"e`, i, `"`); got != want {
			t.Fatalf("source s%d: ETag %q after Flush, want %q", i, got, want)
		}
	}
}

// TestAsyncStateSavesWrittenOnClose closes the store with state saves
// still queued, without Flush: Close writes them.
func TestAsyncStateSavesWrittenOnClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s := openAsync(t, path)
	const n = 300
	for i := range n {
		u := update(fmt.Sprint("s", i), t0)
		u.Items = nil
		if _, err := s.SaveFetch(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	u := update("late", t0)
	u.Items = nil
	if _, err := s.SaveFetch(ctx, u); err == nil {
		t.Error("SaveFetch after Close succeeded")
	}
	s = openAsync(t, path)
	defer s.Close()
	states, err := s.FetchStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != n {
		t.Errorf("%d states after Close, want %d", len(states), n)
	}
}

// TestAsyncStateSaveErrors makes some state saves fail and checks that
// Flush reports them by source, while the others land.
func TestAsyncStateSaveErrors(t *testing.T) {
	ctx := context.Background()
	s := openAsync(t, filepath.Join(t.TempDir(), "a.db"))
	defer s.Close()
	_, err := s.writer.ExecContext(ctx, `
		CREATE TRIGGER fail_bad BEFORE INSERT ON sources WHEN NEW.id LIKE 'bad%'
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"good1", "bad1", "good2", "bad2"} {
		u := update(id, t0.Add(time.Second))
		u.Items = nil
		if _, err := s.SaveFetch(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), `"bad1"`) || !strings.Contains(err.Error(), `"bad2"`) || strings.Contains(err.Error(), "good") {
		t.Errorf("Flush() = %v, want the errors of bad1 and bad2", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Errorf("second Flush() = %v, want nil", err)
	}
	states, _ := s.FetchStates(ctx)
	if _, ok := states["good2"]; !ok || len(states) != 2 {
		t.Errorf("states %v, want good1 and good2", states)
	}
}

// TestHeldStateSavesKeepTheirOrder: asynchronous state saves held by the
// batcher are written with the next fetch that has items, before it, so a
// later fetch of the same source wins, and no Flush is needed for them.
func TestHeldStateSavesKeepTheirOrder(t *testing.T) {
	ctx := context.Background()
	s := openAsync(t, filepath.Join(t.TempDir(), "a.db"))
	defer s.Close()
	old := update("a", t0)
	old.Items = nil
	old.State.ETag = `"old"`
	if _, err := s.SaveFetch(ctx, old); err != nil {
		t.Fatal(err)
	}
	other := update("b", t0)
	other.Items = nil
	other.State.ETag = `"b"`
	if _, err := s.SaveFetch(ctx, other); err != nil {
		t.Fatal(err)
	}
	newer := update("a", t0.Add(time.Minute), newItem("a", "1", "A headline", t0))
	newer.State.ETag = `"new"`
	if res := mustSave(t, s, newer); res.New != 1 {
		t.Fatalf("save with items: %s, want 1 new", counts(res))
	}
	// Written with the fetch that had items, before it returned.
	states, err := s.FetchStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := states["a"].ETag; got != `"new"` {
		t.Errorf("source a: ETag %q, want the later fetch's %q", got, `"new"`)
	}
	if got := states["b"].ETag; got != `"b"` {
		t.Errorf("source b: ETag %q before Flush, want it written with the next fetch", got)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFlushWhileSaving: a Flush that waits while saves keep coming returns
// once they are written; held saves never leave it waiting.
func TestFlushWhileSaving(t *testing.T) {
	ctx := context.Background()
	s := openAsync(t, filepath.Join(t.TempDir(), "a.db"))
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				u := update(fmt.Sprint("s", w, "-", i), t0)
				u.Items = nil
				if _, err := s.SaveFetch(ctx, u); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					if err := s.Flush(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	states, err := s.FetchStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 200 {
		t.Errorf("%d states after Flush, want 200", len(states))
	}
}
