package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// writeLoop saves rounds fetches of a few new items each, spread over
// several sources, and reports progress on step (closed when done).
func writeLoop(ctx context.Context, s *Store, rounds int, step chan<- int) error {
	defer close(step)
	for r := range rounds {
		src := fmt.Sprint("s", r%5)
		var items []model.Item
		for i := range 5 {
			it := newItem(src, fmt.Sprint(r, "-", i), fmt.Sprint("round ", r, " storm ", i), t0.Add(time.Duration(r)*time.Minute))
			it.StoryKeys = []string{fmt.Sprint("k", r, i)}
			items = append(items, it)
		}
		u := update(src, t0.Add(time.Duration(r)*time.Minute), items...)
		if _, err := s.SaveFetch(ctx, u); err != nil {
			return err
		}
		if r%10 == 0 {
			if err := s.SetFeatured(ctx, items[0].ID, true, u.Now); err != nil {
				return err
			}
		}
		if r%25 == 24 {
			if _, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 40, Now: u.Now}); err != nil {
				return err
			}
		}
		select {
		case step <- r:
		default:
		}
	}
	return nil
}

func TestConcurrentReadersDuringWrites(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	step := make(chan int, 1)
	done := make(chan struct{})
	var writeErr error
	go func() {
		defer close(done)
		writeErr = writeLoop(ctx, s, 60, step)
	}()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := range 4 {
		wg.Go(func() {
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads == 0 {
						errs <- errors.New("reader finished before reading")
					}
					return
				default:
				}
				var err error
				switch (reads + r) % 5 {
				case 0:
					_, err = s.Items(ctx, model.ItemQuery{Limit: 50})
				case 1:
					_, err = s.Versions(ctx)
				case 2:
					_, err = s.SourceStates(ctx)
				case 3:
					_, err = s.Items(ctx, model.ItemQuery{Search: "storm", Limit: 20, SourceIDs: []string{"s1", "s2"}})
				case 4:
					var items []model.Item
					items, err = s.Items(ctx, model.ItemQuery{FeaturedOnly: true, Limit: 5})
					if err == nil && len(items) > 0 {
						_, err = s.StorySources(ctx, ids(items))
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range step {
	}
	<-done
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("reader: %v", err)
	}
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
}

func TestBackupDuringWrites(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	step := make(chan int, 1)
	done := make(chan error, 1)
	go func() { done <- writeLoop(ctx, s, 60, step) }()
	for r := range step {
		if r >= 20 {
			break
		}
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	for range step { // let the writer finish
	}
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err := s.Backup(ctx, backup); !errors.Is(err, os.ErrExist) {
		t.Errorf("Backup over an existing file: %v, want os.ErrExist", err)
	}

	b, err := Open(ctx, backup, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer b.Close()
	if res, err := b.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("backup IntegrityCheck() = %q, %v", res, err)
	}
	n, err := b.ItemCount(ctx)
	if err != nil || n == 0 {
		t.Errorf("backup ItemCount() = %d, %v; want some", n, err)
	}
	// The backup is a full store: it opens read-write and its index works.
	b.Close()
	rw, err := Open(ctx, backup, Options{})
	if err != nil {
		t.Fatalf("open backup read-write: %v", err)
	}
	defer rw.Close()
	if res, err := rw.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("backup IntegrityCheck() with FTS check = %q, %v", res, err)
	}
	if got, err := rw.Items(ctx, model.ItemQuery{Search: "storm", Limit: 1}); err != nil || len(got) != 1 {
		t.Errorf("search in backup: %d items, %v", len(got), err)
	}
}
