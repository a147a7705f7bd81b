package publish

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// fakeStore is an in-memory implementation of the Store interface (the
// three methods publish reads), honouring the ItemQuery fields the way the
// real store documents them.
type fakeStore struct {
	mu       sync.Mutex
	items    []model.Item
	versions map[string]int64
	queries  int // selections: Items and ItemHeads calls
	byID     int // ItemsByID calls
}

func newFakeStore(items ...model.Item) *fakeStore {
	s := &fakeStore{versions: map[string]int64{}}
	for _, it := range items {
		s.add(it)
	}
	return s
}

// add stores an item and bumps its source's version, as a fetch would.
func (s *fakeStore) add(it model.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, it)
	s.versions[it.SourceID]++
}

func (s *fakeStore) Items(ctx context.Context, q model.ItemQuery) ([]model.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	var out []model.Item
	for _, it := range s.items {
		if len(q.SourceIDs) > 0 && !slices.Contains(q.SourceIDs, it.SourceID) {
			continue
		}
		if !q.Since.IsZero() && it.Published.Before(q.Since) {
			continue
		}
		if q.FeaturedOnly && !it.Featured || !q.IncludeHidden && it.Hidden {
			continue
		}
		it.Categories = slices.Clone(it.Categories)
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b model.Item) int {
		if c := b.Published.Compare(a.Published); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (s *fakeStore) ItemHeads(ctx context.Context, q model.ItemQuery, text bool) ([]model.ItemHead, error) {
	items, err := s.Items(ctx, q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	shared := map[string]bool{}
	for _, it := range s.items {
		if story := cmp.Or(it.StoryID, it.ID); story != it.ID {
			shared[story] = true
		}
	}
	heads := make([]model.ItemHead, len(items))
	for i, it := range items {
		story := cmp.Or(it.StoryID, it.ID)
		heads[i] = model.ItemHead{
			ID:        it.ID,
			SourceID:  it.SourceID,
			StoryID:   story,
			Shared:    shared[story],
			Published: it.Published,
			FirstSeen: it.FirstSeen,
			Changed:   it.Changed,
			Featured:  it.Featured,
			Hidden:    it.Hidden,
		}
		if text {
			heads[i].Title, heads[i].Summary = it.Title, it.Summary
		}
	}
	return heads, nil
}

// Selection follows model.Selection over ItemHeads: the fake counts it as
// one selection.
func (s *fakeStore) Selection(ctx context.Context, q model.ItemQuery, newest int) (model.Selection, error) {
	heads, err := s.ItemHeads(ctx, q, false)
	if err != nil {
		return model.Selection{}, err
	}
	return selectionOf(heads, newest), nil
}

// selectionOf builds the Selection of heads (newest first) as the store
// would.
func selectionOf(heads []model.ItemHead, newest int) model.Selection {
	var sel model.Selection
	for _, h := range heads {
		if h.Shared {
			sel.Shared = append(sel.Shared, h)
			continue
		}
		sel.Alone++
		if h.Changed.After(sel.AloneChanged) {
			sel.AloneChanged = h.Changed
		}
		if len(sel.Newest) < newest {
			sel.Newest = append(sel.Newest, h)
		}
	}
	return sel
}

func (s *fakeStore) AloneHeads(ctx context.Context, q model.ItemQuery, n int) ([]model.ItemHead, error) {
	heads, err := s.ItemHeads(ctx, q, false)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.queries-- // reading further is not a new selection
	s.mu.Unlock()
	var out []model.ItemHead
	for _, h := range heads {
		if q.Before != nil && !h.Published.Before(q.Before.Published) &&
			!(h.Published.Equal(q.Before.Published) && h.ID < q.Before.ID) {
			continue
		}
		if !h.Shared && len(out) < n {
			out = append(out, h)
		}
	}
	return out, nil
}

func (s *fakeStore) ItemsByID(ctx context.Context, ids []string) (map[string]model.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID++
	out := map[string]model.Item{}
	for _, it := range s.items {
		if slices.Contains(ids, it.ID) {
			it.Categories = slices.Clone(it.Categories)
			out[it.ID] = it
		}
	}
	return out, nil
}

func (s *fakeStore) StorySources(ctx context.Context, storyIDs []string) (map[string][]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string][]string{}
	for _, it := range s.items {
		story := cmp.Or(it.StoryID, it.ID)
		if slices.Contains(storyIDs, story) && !slices.Contains(m[story], it.SourceID) {
			m[story] = append(m[story], it.SourceID)
		}
	}
	return m, nil
}

func (s *fakeStore) Versions(ctx context.Context) (map[string]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.versions), nil
}

func (s *fakeStore) queryCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

const testBase = "https://feeds.example.org/"

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestPublisher(t testing.TB, st Store, outputs []model.Output, sources []model.SourceInfo) *Publisher {
	t.Helper()
	// Tests read what they just changed: no stale renders.
	p := New(st, Options{BaseURL: testBase, CacheMaxAge: 5 * time.Minute, Now: fixedNow, Logger: discardLogger(), StaleWait: -1})
	p.SetConfig(outputs, sources)
	t.Cleanup(p.Close)
	return p
}

func testSources() []model.SourceInfo {
	return []model.SourceInfo{
		{ID: "alpha", Title: "Alpha News", URL: "https://alpha.example/feed.xml", SiteURL: "https://alpha.example/"},
		{ID: "beta", Title: "Beta Wire", URL: "https://beta.example/rss", SiteURL: "https://beta.example/"},
		{ID: "gamma", Title: "", URL: "https://gamma.example/atom.xml"},
	}
}

// item builds a stored item; hoursAgo dates it relative to testNow.
func item(source, key, title string, hoursAgo int) model.Item {
	pub := testNow.Add(-time.Duration(hoursAgo) * time.Hour)
	id := model.ItemID(source, key)
	return model.Item{
		ID:        id,
		SourceID:  source,
		Key:       key,
		Link:      "https://" + source + ".example/" + key,
		Title:     title,
		Summary:   "Summary of " + title + ".",
		Published: pub,
		Updated:   pub,
		FirstSeen: pub.Add(time.Minute),
		Changed:   pub.Add(time.Minute),
		StoryID:   id,
	}
}

// fixtureItems is a small, varied set: a story carried by two sources,
// HTML content with hazards, categories, authors, and an item without a
// link.
func fixtureItems() []model.Item {
	a1 := item("alpha", "guid:1", "Council approves budget", 2)
	a1.Author = "Jane Doe"
	a1.Categories = []string{"politics", "city"}
	a1.ContentHTML = `<p>The council <b>approved</b> the budget.</p><script>alert(1)</script><img src="/img/chart.png" alt="chart" onerror="x()"><a href="javascript:alert(1)">bad</a> <a href="more.html">more</a>`

	b1 := item("beta", "guid:b1", "Budget approved by council", 1)
	b1.StoryID = a1.ID // same story, seen later: alpha's item represents it
	b1.FirstSeen = a1.FirstSeen.Add(30 * time.Minute)

	a2 := item("alpha", "guid:2", "Weather: sunny & <warm>", 5)
	a2.ContentHTML = `<p style="color:red">Sunny <em>all</em> week.</p><form><input name="q"></form><iframe src="https://evil.example/"></iframe>`

	g1 := item("gamma", "hash:3", "Local team wins", 3)
	g1.Link = ""
	g1.Summary = ""
	g1.ContentHTML = "<p>The local team won <strong>3-1</strong>.</p>"
	g1.Updated = g1.Published.Add(30 * time.Minute)
	g1.Changed = g1.Updated

	return []model.Item{a1, b1, a2, g1}
}

func testOutput(id, mode string) model.Output {
	return model.Output{
		ID:             id,
		Title:          "Test " + id,
		Description:    "All the " + id + " fit to print",
		Mode:           mode,
		SourceIDs:      []string{"alpha", "beta", "gamma"},
		Limit:          50,
		ShowSourceURLs: true,
	}
}

func mustRe(t testing.TB, exprs ...string) []*regexp.Regexp {
	t.Helper()
	var res []*regexp.Regexp
	for _, e := range exprs {
		res = append(res, regexp.MustCompile(e))
	}
	return res
}

func render(t testing.TB, p *Publisher, output, format string, page int) *Rendered {
	t.Helper()
	r, err := p.Render(context.Background(), output, format, page)
	if err != nil {
		t.Fatalf("Render(%q, %q, %d): %v", output, format, page, err)
	}
	return r
}
