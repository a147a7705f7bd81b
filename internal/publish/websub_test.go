package publish

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

var testHubs = []string{"https://hub.example/", "https://push.example/websub"}

// newHubPublisher serves one output of two pages that names testHubs, and
// records what Options.Changed reports.
func newHubPublisher(t *testing.T) (*Publisher, *changes) {
	t.Helper()
	ch := &changes{}
	p := New(newFakeStore(fixtureItems()...), Options{
		BaseURL: testBase, CacheMaxAge: 5 * time.Minute, Now: fixedNow, Logger: discardLogger(), StaleWait: -1,
		Hubs: testHubs, Changed: ch.add,
	})
	out := testOutput("news", model.OutputModeHeadlines)
	out.Limit = 2 // three stories: two pages
	p.SetConfig([]model.Output{out}, testSources())
	t.Cleanup(p.Close)
	return p, ch
}

type changes struct {
	mu  sync.Mutex
	ids []string
}

func (c *changes) add(ids ...string) {
	c.mu.Lock()
	c.ids = append(c.ids, ids...)
	c.mu.Unlock()
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.ids
	c.ids = nil
	return ids
}

// TestHubLinks: the first page of every format names the hubs and its
// self URL, in the document and in Link headers; later pages do not (they
// are not subscription URLs). Golden files: testdata/hubs.golden.*.
func TestHubLinks(t *testing.T) {
	p, _ := newHubPublisher(t)
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			r := render(t, p, "news", format, 1)
			checkGolden(t, format, filepath.Join("testdata", "hubs.golden."+format), r.Body)
			checkFormat(t, format, r.Body)
			t.Run("schema", func(t *testing.T) { validateSchema(t, format, r.Body) })

			if got := hubsOf(t, format, r.Body); !slices.Equal(got, testHubs) {
				t.Errorf("page 1 names hubs %q, want %q", got, testHubs)
			}
			if got := hubsOf(t, format, render(t, p, "news", format, 2).Body); len(got) != 0 {
				t.Errorf("page 2 names hubs %q, want none", got)
			}
		})
	}
}

// hubsOf returns the hub URLs a rendered document names.
func hubsOf(t *testing.T, format string, body []byte) []string {
	t.Helper()
	var hubs []string
	switch format {
	case FormatAtom:
		for _, l := range checkAtom(t, body).Links {
			if l.Rel == "hub" {
				hubs = append(hubs, l.Href)
			}
		}
	case FormatRSS:
		for _, l := range checkRSS(t, body).Channel.AtomLinks {
			if l.Rel == "hub" {
				hubs = append(hubs, l.Href)
			}
		}
	case FormatJSON:
		var f struct {
			Hubs []struct{ Type, URL string }
		}
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatal(err)
		}
		for _, h := range f.Hubs {
			if h.Type != "WebSub" {
				t.Errorf("hub %q has type %q, want WebSub", h.URL, h.Type)
			}
			hubs = append(hubs, h.URL)
		}
	}
	return hubs
}

// TestHubLinkHeaders: WebSub discovery reads Link headers first; a 304
// carries them too.
func TestHubLinkHeaders(t *testing.T) {
	p, _ := newHubPublisher(t)
	srv := httptest.NewServer(p.FeedHandler())
	t.Cleanup(srv.Close)
	want := []string{`<https://hub.example/>; rel="hub"`, `<https://push.example/websub>; rel="hub"`,
		`<` + testBase + `feeds/news.json>; rel="self"`}

	resp, _ := do(t, http.MethodGet, srv.URL+"/feeds/news.json", nil)
	if got := resp.Header.Values("Link"); resp.StatusCode != 200 || !slices.Equal(got, want) {
		t.Errorf("GET page 1: %d, Link %q, want %q", resp.StatusCode, got, want)
	}
	resp, _ = do(t, http.MethodGet, srv.URL+"/feeds/news.json", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if got := resp.Header.Values("Link"); resp.StatusCode != http.StatusNotModified || !slices.Equal(got, want) {
		t.Errorf("conditional GET page 1: %d, Link %q, want %q", resp.StatusCode, got, want)
	}
	resp, _ = do(t, http.MethodGet, srv.URL+"/feeds/news.json?page=2", nil)
	if got := resp.Header.Values("Link"); resp.StatusCode != 200 || len(got) != 0 {
		t.Errorf("GET page 2: %d, Link %q, want none", resp.StatusCode, got)
	}

	// Without hubs there is nothing to discover.
	plain := newTestPublisher(t, newFakeStore(fixtureItems()...), []model.Output{testOutput("news", model.OutputModeHeadlines)}, testSources())
	srv2 := httptest.NewServer(plain.FeedHandler())
	t.Cleanup(srv2.Close)
	if resp, body := do(t, http.MethodGet, srv2.URL+"/feeds/news.atom", nil); len(resp.Header.Values("Link")) != 0 || len(hubsOf(t, FormatAtom, body)) != 0 {
		t.Errorf("an output without hubs names some: %q", resp.Header.Values("Link"))
	}
}

// TestChangedHook: every invalidation and every new or redefined output is
// reported, and nothing else.
func TestChangedHook(t *testing.T) {
	p, ch := newHubPublisher(t)
	if got := ch.take(); !slices.Equal(got, []string{"news"}) {
		t.Errorf("after the first SetConfig: %q, want [news]", got)
	}
	render(t, p, "news", FormatAtom, 1)
	p.Invalidate("alpha")
	if got := ch.take(); !slices.Equal(got, []string{"news"}) {
		t.Errorf("after invalidating a source of news: %q, want [news]", got)
	}
	p.Invalidate("nobody")
	if got := ch.take(); len(got) != 0 {
		t.Errorf("after invalidating an unknown source: %q, want nothing", got)
	}
	out := testOutput("news", model.OutputModeHeadlines)
	out.Limit = 2
	p.SetConfig([]model.Output{out, testOutput("more", model.OutputModeArticles)}, testSources())
	if got := ch.take(); !slices.Equal(got, []string{"more"}) {
		t.Errorf("after adding an output: %q, want [more]", got)
	}
	out.Title = "Renamed"
	p.SetConfig([]model.Output{out, testOutput("more", model.OutputModeArticles)}, testSources())
	if got := ch.take(); !slices.Equal(got, []string{"news"}) {
		t.Errorf("after redefining news: %q, want [news]", got)
	}
}
