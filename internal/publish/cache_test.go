package publish

import (
	"context"
	"sync"
	"testing"

	"github.com/syndic-dev/syndic/internal/model"
)

// cacheFixture has two outputs: "ab" over alpha and beta, "g" over gamma.
func cacheFixture(t *testing.T) (*Publisher, *fakeStore) {
	t.Helper()
	st := newFakeStore(fixtureItems()...)
	ab := testOutput("ab", model.OutputModeHeadlines)
	ab.SourceIDs = []string{"alpha", "beta"}
	g := testOutput("g", model.OutputModeArticles)
	g.SourceIDs = []string{"gamma"}
	return newTestPublisher(t, st, []model.Output{ab, g}, testSources()), st
}

// renderAll renders every format of both outputs and returns how many real
// renders that took.
func renderAll(t *testing.T, p *Publisher) int64 {
	t.Helper()
	before := p.renderCount.Load()
	for _, o := range []string{"ab", "g"} {
		for _, f := range formats {
			render(t, p, o, f, 1)
		}
	}
	return p.renderCount.Load() - before
}

func TestCacheNoRerender(t *testing.T) {
	p, st := cacheFixture(t)
	if got := renderAll(t, p); got != 6 {
		t.Fatalf("first pass rendered %d, want 6", got)
	}
	queries := st.queryCount()
	if got := renderAll(t, p); got != 0 {
		t.Errorf("second pass rendered %d, want 0", got)
	}
	if st.queryCount() != queries {
		t.Errorf("cached renders queried the store")
	}
	// The selection is shared across formats: one Items query per output.
	if queries != 2 {
		t.Errorf("store queried %d times for 2 outputs, want 2", queries)
	}
}

func TestInvalidate(t *testing.T) {
	p, st := cacheFixture(t)
	renderAll(t, p)
	before := render(t, p, "ab", FormatAtom, 1)

	st.add(item("alpha", "new", "Brand new", 0))
	p.Invalidate("alpha")
	if got := renderAll(t, p); got != 3 {
		t.Errorf("after Invalidate(alpha) rendered %d, want 3 (output ab only)", got)
	}
	after := render(t, p, "ab", FormatAtom, 1)
	if after.ETag == before.ETag || after.Entries != before.Entries+1 {
		t.Errorf("output ab unchanged after Invalidate: ETag %s -> %s, entries %d -> %d", before.ETag, after.ETag, before.Entries, after.Entries)
	}
	p.Invalidate("unknown-source")
	p.Invalidate()
	if got := renderAll(t, p); got != 0 {
		t.Errorf("Invalidate of unselected sources rendered %d, want 0", got)
	}
}

func TestPoll(t *testing.T) {
	p, st := cacheFixture(t)
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	renderAll(t, p)
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := renderAll(t, p); got != 0 {
		t.Errorf("Poll without changes caused %d renders, want 0", got)
	}
	// Another process writes to gamma.
	st.add(item("gamma", "new", "From another process", 0))
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := renderAll(t, p); got != 3 {
		t.Errorf("Poll after gamma changed caused %d renders, want 3 (output g only)", got)
	}
	if r := render(t, p, "g", FormatJSON, 1); r.Entries != 2 {
		t.Errorf("output g has %d entries after the poll, want 2", r.Entries)
	}
}

func TestPollFirstInvalidatesAll(t *testing.T) {
	p, _ := cacheFixture(t)
	renderAll(t, p)
	if err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := renderAll(t, p); got != 6 {
		t.Errorf("first Poll left %d of 6 renders cached", 6-got)
	}
}

func TestSetConfigKeepsUnchanged(t *testing.T) {
	p, _ := cacheFixture(t)
	renderAll(t, p)
	outs := p.Outputs()

	// Same definitions: nothing re-rendered.
	p.SetConfig(outs, testSources())
	if got := renderAll(t, p); got != 0 {
		t.Errorf("SetConfig with the same config rendered %d, want 0", got)
	}

	// Output g's title changes: only g re-renders.
	outs[1].Title = "Gamma only"
	p.SetConfig(outs, testSources())
	if got := renderAll(t, p); got != 3 {
		t.Errorf("SetConfig changing g rendered %d, want 3", got)
	}

	// Alpha's filter changes: only ab re-renders.
	srcs := testSources()
	srcs[0].Exclude = mustRe(t, "budget")
	p.SetConfig(outs, srcs)
	if got := renderAll(t, p); got != 3 {
		t.Errorf("SetConfig changing alpha's filter rendered %d, want 3", got)
	}

	// A source title appears in notes everywhere: everything re-renders.
	srcs[2].Title = "Gamma Gazette"
	p.SetConfig(outs, srcs)
	if got := renderAll(t, p); got != 6 {
		t.Errorf("SetConfig renaming a source rendered %d, want 6", got)
	}

	// A removed output is unknown.
	p.SetConfig(outs[:1], srcs)
	if _, err := p.Render(context.Background(), "g", FormatRSS, 1); err == nil {
		t.Error("removed output still renders")
	}
}

// TestConcurrentRender: simultaneous first requests render once.
func TestConcurrentRender(t *testing.T) {
	p, _ := cacheFixture(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := p.Render(context.Background(), "ab", FormatAtom, 1); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() { p.Invalidate("gamma") })
	wg.Wait()
	if got := p.renderCount.Load(); got != 1 {
		t.Errorf("8 concurrent requests rendered %d times, want 1", got)
	}
}
