package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// entryIDs renders page 1 as JSON and returns its item ids without the URN
// prefix.
func entryIDs(t *testing.T, p *Publisher, output string) []string {
	t.Helper()
	var f struct {
		Items []struct {
			ID     string `json:"id"`
			Syndic struct {
				AlsoIn []string `json:"also_in"`
			} `json:"_syndic"`
		} `json:"items"`
	}
	if err := json.Unmarshal(render(t, p, output, FormatJSON, 1).Body, &f); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range f.Items {
		ids = append(ids, strings.TrimPrefix(it.ID, itemURNPrefix))
	}
	return ids
}

func TestSelection(t *testing.T) {
	a := item("alpha", "a", "Rust release notes", 1)
	b := item("alpha", "b", "Go 1.26 released", 2)
	c := item("beta", "c", "Go conference", 3)
	c.Summary = "sponsored content"
	d := item("beta", "d", "Cooking pasta", 4)
	old := item("gamma", "old", "Ancient news", 24*40)
	hidden := item("gamma", "h", "Hidden item", 5)
	hidden.Hidden = true
	feat := item("gamma", "f", "Featured pick", 6)
	feat.Featured = true
	all := []model.Item{a, b, c, d, old, hidden, feat}

	tests := []struct {
		name    string
		sources func([]model.SourceInfo)
		output  func(*model.Output)
		want    []model.Item
	}{
		{"everything visible", nil, nil, []model.Item{a, b, c, d, feat, old}},
		{"source include", func(s []model.SourceInfo) { s[0].Include = mustRe(t, "(?i)go") }, nil, []model.Item{b, c, d, feat, old}},
		{"source exclude", func(s []model.SourceInfo) { s[1].Exclude = mustRe(t, "sponsored") }, nil, []model.Item{a, b, d, feat, old}},
		{"output include any", nil, func(o *model.Output) { o.Include = mustRe(t, "Go", "pasta") }, []model.Item{b, c, d}},
		{"output exclude", nil, func(o *model.Output) { o.Exclude = mustRe(t, "(?i)go ") }, []model.Item{a, d, feat, old}},
		{"source then output", func(s []model.SourceInfo) { s[1].Exclude = mustRe(t, "sponsored") }, func(o *model.Output) { o.Include = mustRe(t, "Go") }, []model.Item{b}},
		{"curated", nil, func(o *model.Output) { o.Curated = true }, []model.Item{feat}},
		{"max_age", nil, func(o *model.Output) { o.MaxAge = 30 * 24 * time.Hour }, []model.Item{a, b, c, d, feat}},
		{"subset of sources", nil, func(o *model.Output) { o.SourceIDs = []string{"beta"} }, []model.Item{c, d}},
		{"no sources", nil, func(o *model.Output) { o.SourceIDs = nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := testSources()
			if tt.sources != nil {
				tt.sources(srcs)
			}
			out := testOutput("o", model.OutputModeHeadlines)
			if tt.output != nil {
				tt.output(&out)
			}
			p := newTestPublisher(t, newFakeStore(all...), []model.Output{out}, srcs)
			var want []string
			for _, it := range tt.want {
				want = append(want, it.ID)
			}
			if got := entryIDs(t, p, "o"); !slices.Equal(got, want) {
				t.Errorf("entries = %v, want %v", got, want)
			}
		})
	}
}

// TestStoryOnce: a story carried by three sources appears once, from the
// source that saw it first, naming the others.
func TestStoryOnce(t *testing.T) {
	first := item("beta", "s1", "Big story", 3)
	second := item("alpha", "s2", "Big story (alpha)", 1) // newer, seen later
	second.StoryID = first.ID
	second.FirstSeen = first.FirstSeen.Add(time.Hour)
	third := item("gamma", "s3", "Big story (gamma)", 2)
	third.StoryID = first.ID
	third.FirstSeen = first.FirstSeen.Add(2 * time.Hour)
	other := item("alpha", "o", "Other", 4)
	p := newTestPublisher(t, newFakeStore(first, second, third, other), []model.Output{testOutput("o", model.OutputModeHeadlines)}, testSources())

	if got, want := entryIDs(t, p, "o"), []string{first.ID, other.ID}; !slices.Equal(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	body := string(render(t, p, "o", FormatJSON, 1).Body)
	if !strings.Contains(body, `"also_in": [
          "Alpha News",
          "gamma"
        ]`) {
		t.Errorf("JSON lacks also_in [Alpha News, gamma]:\n%s", body)
	}
	for _, f := range []string{FormatAtom, FormatRSS, FormatJSON} {
		if b := string(render(t, p, "o", f, 1).Body); !strings.Contains(b, "Also reported by: Alpha News, gamma") {
			t.Errorf("%s lacks the also-reported note", f)
		}
	}

	// An output without beta shows the story from alpha, its earliest
	// remaining carrier, still naming the others.
	out := testOutput("ag", model.OutputModeArticles)
	out.SourceIDs = []string{"alpha", "gamma"}
	p.SetConfig([]model.Output{out}, testSources())
	if got, want := entryIDs(t, p, "ag"), []string{second.ID, other.ID}; !slices.Equal(got, want) {
		t.Errorf("entries without beta = %v, want %v", got, want)
	}
	if b := string(render(t, p, "ag", FormatAtom, 1).Body); !strings.Contains(b, "Also reported by: Beta Wire, gamma") {
		t.Errorf("atom lacks note naming Beta Wire and gamma:\n%s", b)
	}
}

func TestPreview(t *testing.T) {
	a := item("alpha", "a", "Keep me", 1)
	b := item("alpha", "b", "Drop by source", 2)
	c := item("beta", "c", "spam offer", 3)
	dup := item("beta", "dup", "Keep me too", 4)
	dup.StoryID = a.ID
	dup.FirstSeen = a.FirstSeen.Add(time.Hour)
	hidden := item("gamma", "h", "Hidden", 5)
	hidden.Hidden = true
	old := item("gamma", "old", "Old", 24*10)
	plain := item("gamma", "p", "Not featured", 6)

	srcs := testSources()
	srcs[0].Include = mustRe(t, "(?i)keep")
	out := testOutput("o", model.OutputModeHeadlines)
	out.Exclude = mustRe(t, "spam")
	out.MaxAge = 7 * 24 * time.Hour
	p := newTestPublisher(t, newFakeStore(a, b, c, dup, hidden, old, plain), []model.Output{out}, srcs)

	ds, err := p.Preview(context.Background(), "o", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		a.ID:      "kept",
		b.ID:      "source alpha include (?i)keep did not match",
		c.ID:      "output exclude spam matched",
		dup.ID:    "duplicate of story shown from Alpha News",
		hidden.ID: "hidden",
		old.ID:    "older than max_age",
		plain.ID:  "kept",
	}
	if len(ds) != len(want) {
		t.Fatalf("Preview returned %d decisions, want %d", len(ds), len(want))
	}
	for _, d := range ds {
		if got := d.Rule; got != want[d.Item.ID] {
			t.Errorf("%s (%s): rule %q, want %q", d.Item.ID, d.Item.Title, got, want[d.Item.ID])
		}
		if d.Kept != (d.Rule == "kept") {
			t.Errorf("%s: Kept = %v with rule %q", d.Item.ID, d.Kept, d.Rule)
		}
	}

	out.Curated = true
	a.Featured = true
	p = newTestPublisher(t, newFakeStore(a, plain), []model.Output{out}, srcs)
	ds, err = p.Preview(context.Background(), "o", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Item.ID != a.ID || !ds[0].Kept {
		t.Errorf("curated preview limit 1 = %+v", ds)
	}
	ds, _ = p.Preview(context.Background(), "o", 10)
	if ds[1].Rule != "not featured (curated output)" {
		t.Errorf("curated preview rule = %q", ds[1].Rule)
	}
	if _, err := p.Preview(context.Background(), "nope", 10); err == nil {
		t.Error("Preview of unknown output succeeded")
	}
}

// TestHideSourceURLs: show_source_urls = false hides the sources' feed and
// site URLs in every format but keeps each item's own link.
func TestHideSourceURLs(t *testing.T) {
	out := testOutput("o", model.OutputModeArticles)
	out.ShowSourceURLs = false
	p := newTestPublisher(t, newFakeStore(fixtureItems()...), []model.Output{out}, testSources())
	for _, f := range formats {
		body := string(render(t, p, "o", f, 1).Body)
		for _, hidden := range []string{"alpha.example/feed.xml", "gamma.example/atom.xml", `"https://alpha.example/"`, "source_url"} {
			if strings.Contains(body, hidden) {
				t.Errorf("%s contains %s with show_source_urls off", f, hidden)
			}
		}
		if !strings.Contains(body, "https://alpha.example/guid:1") {
			t.Errorf("%s lost the item link", f)
		}
		if !strings.Contains(body, "Alpha News") {
			t.Errorf("%s lost the source title", f)
		}
		checkFormat(t, f, []byte(body))
	}
}

// TestNewestMatchesWhole: an output without patterns, whose selection
// reads only the entries its pages need, publishes exactly what the
// selection of every entry at once publishes, on every page, whichever
// order the pages are asked in.
func TestNewestMatchesWhole(t *testing.T) {
	var items []model.Item
	sources := []string{"alpha", "beta", "gamma"}
	for i := range 60 {
		it := item(sources[i%3], "k"+itoa(i), "Story "+itoa(i), (i*7)%23) // ties on published
		it.FirstSeen = it.FirstSeen.Add(time.Duration(i%5) * time.Minute)
		it.Changed = it.FirstSeen.Add(time.Duration(i%11) * time.Hour)
		if i%9 == 4 { // joins an earlier item's story
			it.StoryID = items[i-4].ID
		}
		it.Hidden = i%13 == 5
		it.Featured = i%4 == 1
		items = append(items, it)
	}
	outputs := []struct {
		name string
		edit func(*model.Output)
	}{
		{"plain", nil},
		{"curated", func(o *model.Output) { o.Curated = true }},
		{"max_age", func(o *model.Output) { o.MaxAge = 12 * time.Hour }},
		{"two sources", func(o *model.Output) { o.SourceIDs = []string{"beta", "gamma"} }},
	}
	for _, tt := range outputs {
		t.Run(tt.name, func(t *testing.T) {
			out := testOutput("o", model.OutputModeArticles)
			out.Limit = 4
			if tt.edit != nil {
				tt.edit(&out)
			}
			whole := out
			whole.Include = mustRe(t, " ") // title + " " + summary: keeps all
			pw := newTestPublisher(t, newFakeStore(items...), []model.Output{whole}, testSources())
			forward := newTestPublisher(t, newFakeStore(items...), []model.Output{out}, testSources())
			backward := newTestPublisher(t, newFakeStore(items...), []model.Output{out}, testSources())
			pages := render(t, pw, "o", FormatJSON, 1).Pages
			if pages < 2 && tt.name != "curated" {
				t.Fatalf("only %d pages: the test needs more", pages)
			}
			for _, f := range formats {
				for n := 1; n <= pages; n++ {
					want := render(t, pw, "o", f, n)
					if got := render(t, forward, "o", f, n); !bytes.Equal(got.Body, want.Body) {
						t.Errorf("%s page %d of %d differs:\n%s\nwant\n%s", f, n, pages, got.Body, want.Body)
					}
					back := pages + 1 - n
					if got, want := render(t, backward, "o", f, back), render(t, pw, "o", f, back); !bytes.Equal(got.Body, want.Body) {
						t.Errorf("%s page %d of %d, asked last first, differs", f, back, pages)
					}
				}
				if _, err := forward.Render(context.Background(), "o", f, pages+1); !errors.Is(err, ErrNoSuchPage) {
					t.Errorf("%s page %d of %d: %v, want ErrNoSuchPage", f, pages+1, pages, err)
				}
			}
		})
	}
}

// TestRenderItemGone: an item removed from the store after the selection,
// before the invalidation that says so, makes the render select again
// instead of failing or publishing an empty entry.
func TestRenderItemGone(t *testing.T) {
	st := newFakeStore(fixtureItems()...)
	out := testOutput("o", model.OutputModeHeadlines)
	out.Limit = 1
	p := newTestPublisher(t, st, []model.Output{out}, testSources())
	if got := render(t, p, "o", FormatAtom, 1).Pages; got != 3 {
		t.Fatalf("%d pages, want 3", got)
	}
	st.mu.Lock()
	gone := st.items[3] // gamma's item, on page 2
	st.items = st.items[:3]
	st.mu.Unlock()
	r := render(t, p, "o", FormatAtom, 2)
	if bytes.Contains(r.Body, []byte(gone.ID)) || r.Entries != 1 {
		t.Errorf("page 2 after the item went: %d entries, gone item included: %v", r.Entries, bytes.Contains(r.Body, []byte(gone.ID)))
	}
}
