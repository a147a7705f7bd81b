package ingest_test

import (
	"context"
	"fmt"
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
