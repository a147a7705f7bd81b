package ingest_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/fetcher"
	"github.com/syndic-dev/syndic/internal/ingest"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

// gatedStore holds every parse inside its KnownItems call, which the
// parser makes while it holds a parse token, until the gate opens.
type gatedStore struct {
	*store.Store
	entered chan string
	gate    chan struct{}

	mu             sync.Mutex
	active, maxRun int
}

func (g *gatedStore) KnownItems(ctx context.Context, sourceID string, keys []string) (map[string]model.KnownItem, error) {
	g.mu.Lock()
	g.active++
	g.maxRun = max(g.maxRun, g.active)
	g.mu.Unlock()
	g.entered <- sourceID
	<-g.gate
	g.mu.Lock()
	g.active--
	g.mu.Unlock()
	return g.Store.KnownItems(ctx, sourceID, keys)
}

// TestParsersBound: Options.Parsers parses run at once, and no more.
func TestParsersBound(t *testing.T) {
	const parsers, sources = 2, 5
	g := &gatedStore{Store: openStore(t), entered: make(chan string, sources), gate: make(chan struct{})}
	f := fetcher.New(fetcher.Options{Timeout: 5 * time.Second, Concurrency: sources, PerHost: sources})
	t.Cleanup(f.Close)
	in := ingest.New(f, g, ingest.Options{Parsers: parsers, MaxItems: 100})
	srv := docServer(t, ptr(rssDoc("p", rssItem("1", "A story worth parsing", "body"))), nil)

	// Only sources fetched before have items to look up: give each one a
	// stored success, so that every parse reaches KnownItems.
	for i := range sources {
		id := fmt.Sprint("s", i)
		if _, err := g.Store.SaveFetch(context.Background(), model.FetchUpdate{
			SourceID: id, Now: time.Now(), State: model.SourceState{SourceID: id, URL: srv.URL, LastSuccess: time.Now()},
		}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	results := make([]ingest.Result, sources)
	for i := range sources {
		wg.Go(func() {
			results[i] = in.Run(context.Background(), ingest.Source{ID: fmt.Sprint("s", i), URL: srv.URL})
		})
	}
	timeout := time.After(10 * time.Second) // a broken bound hangs; fail instead
	for range parsers {
		select {
		case <-g.entered:
		case <-timeout:
			t.Fatalf("fewer than %d parses ran at once", parsers)
		}
	}
	close(g.gate)
	wg.Wait()
	if g.maxRun != parsers {
		t.Errorf("%d parses ran at once, want %d", g.maxRun, parsers)
	}
	for _, r := range results {
		if r.Err != nil || r.New != 1 {
			t.Errorf("%s: %d new, %v; want 1 new", r.SourceID, r.New, r.Err)
		}
	}
}

// countingStore counts KnownItems calls.
type countingStore struct {
	*store.Store
	mu    sync.Mutex
	calls int
	// neverStored records each SaveFetch's NeverStored, by source.
	neverStored map[string][]bool
}

func (c *countingStore) SaveFetch(ctx context.Context, u model.FetchUpdate) (model.SaveResult, error) {
	c.mu.Lock()
	if c.neverStored == nil {
		c.neverStored = make(map[string][]bool)
	}
	c.neverStored[u.SourceID] = append(c.neverStored[u.SourceID], u.NeverStored)
	c.mu.Unlock()
	return c.Store.SaveFetch(ctx, u)
}

func (c *countingStore) KnownItems(ctx context.Context, sourceID string, keys []string) (map[string]model.KnownItem, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Store.KnownItems(ctx, sourceID, keys)
}

// TestNewSourceSkipsKnownItems: a source never fetched successfully has
// no items to look up, whether the store has no row for it or only the
// one SyncSources makes; a source fetched before does. SaveFetch is told
// so (NeverStored) and skips its own lookup.
func TestNewSourceSkipsKnownItems(t *testing.T) {
	c := &countingStore{Store: openStore(t)}
	f := fetcher.New(fetcher.Options{Timeout: 5 * time.Second})
	t.Cleanup(f.Close)
	in := ingest.New(f, c, ingest.Options{MaxItems: 100})
	srv := docServer(t, ptr(rssDoc("p", rssItem("1", "A story worth parsing", "body"))), nil)
	if err := c.SyncSources(context.Background(), map[string]string{"listed": srv.URL}); err != nil {
		t.Fatal(err)
	}

	for _, id := range []string{"fresh", "listed"} {
		if r := in.Run(context.Background(), ingest.Source{ID: id, URL: srv.URL}); r.Err != nil || r.New != 1 {
			t.Fatalf("first fetch of %s: %d new, %v", id, r.New, r.Err)
		}
	}
	if c.calls != 0 {
		t.Errorf("sources never fetched looked up known items %d times, want 0", c.calls)
	}
	if r := in.Run(context.Background(), ingest.Source{ID: "fresh", URL: srv.URL, Force: true}); r.Err != nil || r.Unchanged != 1 {
		t.Fatalf("second fetch: %d unchanged, %v", r.Unchanged, r.Err)
	}
	if c.calls != 1 {
		t.Errorf("a known source looked up known items %d times, want 1", c.calls)
	}
	for id, want := range map[string][]bool{"fresh": {true, false}, "listed": {true}} {
		if got := c.neverStored[id]; !slices.Equal(got, want) {
			t.Errorf("SaveFetch of %s: NeverStored %v, want %v", id, got, want)
		}
	}
}
