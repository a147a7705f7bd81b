package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/fetcher"
	"github.com/syndic-dev/syndic/internal/ingest"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is an injected wall clock shared by the fetcher and the ingester.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// rig is an ingester over a fresh store, a fetcher and a fake clock.
type rig struct {
	st  *store.Store
	f   *fetcher.Fetcher
	in  *ingest.Ingester
	clk *clock
}

func newRig(t *testing.T, respectCache bool) *rig {
	t.Helper()
	clk := &clock{now: t0}
	st := openStore(t)
	f := fetcher.New(fetcher.Options{Timeout: 5 * time.Second, Now: clk.Now})
	t.Cleanup(f.Close)
	in := ingest.New(f, st, ingest.Options{
		MaxItems:            100,
		DedupWindow:         48 * time.Hour,
		RespectCacheHeaders: respectCache,
		MaxBackoff:          6 * time.Hour,
		BaseBackoff:         time.Minute,
		Now:                 clk.Now,
		Jitter:              func() float64 { return 0 },
	})
	return &rig{st: st, f: f, in: in, clk: clk}
}

func (r *rig) run(t *testing.T, id, url string) ingest.Result {
	t.Helper()
	return r.in.Run(context.Background(), ingest.Source{ID: id, URL: url})
}

func (r *rig) state(t *testing.T, id string) model.SourceState {
	t.Helper()
	s, err := r.st.SourceState(context.Background(), id)
	if err != nil {
		t.Fatalf("state of %s: %v", id, err)
	}
	return s
}

func (r *rig) items(t *testing.T, id string) []model.Item {
	t.Helper()
	items, err := r.st.Items(context.Background(), model.ItemQuery{SourceIDs: []string{id}, IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// docServer serves whatever *doc holds, as RSS, with the headers in hdr.
func docServer(t *testing.T, doc *atomic.Pointer[string], hdr map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		fmt.Fprint(w, *doc.Load())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ptr(s string) *atomic.Pointer[string] {
	var p atomic.Pointer[string]
	p.Store(&s)
	return &p
}

func TestConditionalGet(t *testing.T) {
	r := newRig(t, false)
	var sawINM, sawIMS atomic.Value
	sawINM.Store("")
	sawIMS.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sawINM.Store(req.Header.Get("If-None-Match"))
		sawIMS.Store(req.Header.Get("If-Modified-Since"))
		if req.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Tue, 03 Mar 2026 10:00:00 GMT")
		fmt.Fprint(w, rssDoc("c", rssItem("1", "First story here", "one"), rssItem("2", "Second story here", "two")))
	}))
	defer srv.Close()

	if res := r.run(t, "c", srv.URL); res.Status != model.StatusOK || res.New != 2 {
		t.Fatalf("first fetch: %+v", res)
	}
	res := r.run(t, "c", srv.URL)
	if res.Status != model.StatusNotModified || res.New+res.Updated != 0 {
		t.Fatalf("second fetch: %+v, want not_modified", res)
	}
	if got := sawINM.Load(); got != `"v1"` {
		t.Errorf("If-None-Match = %q, want the stored ETag", got)
	}
	if got := sawIMS.Load(); got != "Tue, 03 Mar 2026 10:00:00 GMT" {
		t.Errorf("If-Modified-Since = %q, want the stored Last-Modified", got)
	}
	s := r.state(t, "c")
	if s.Status != model.StatusNotModified || s.ETag != `"v1"` || s.LastSuccess.IsZero() {
		t.Errorf("state after 304: %+v (validators must stay)", s)
	}
	if n := len(r.items(t, "c")); n != 2 {
		t.Errorf("%d items after 304, want 2", n)
	}
}

// TestPreloadedState checks that Run uses a state the caller read already
// (a pass reads all states in one query) instead of reading its own.
func TestPreloadedState(t *testing.T) {
	r := newRig(t, false)
	var sawINM atomic.Value
	sawINM.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sawINM.Store(req.Header.Get("If-None-Match"))
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, rssDoc("c", rssItem("1", "First story here", "one")))
	}))
	defer srv.Close()
	if res := r.run(t, "c", srv.URL); res.Status != model.StatusOK {
		t.Fatalf("first fetch: %+v", res)
	}
	st, err := r.st.FetchStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pre := st["c"]
	if pre.ETag != `"v1"` {
		t.Fatalf("FetchStates()[c].ETag = %q, want the stored one", pre.ETag)
	}
	pre.ETag = `"preloaded"`
	res := r.in.Run(context.Background(), ingest.Source{ID: "c", URL: srv.URL, State: &pre})
	if res.Status != model.StatusOK {
		t.Fatalf("second fetch: %+v", res)
	}
	if got := sawINM.Load(); got != `"preloaded"` {
		t.Errorf("If-None-Match = %q, want the preloaded state's ETag", got)
	}
}

func TestRefetchAndUpdates(t *testing.T) {
	item := func(date, link, body string) string {
		return `<item><guid>a</guid><title>A steady headline</title><link>` + link + `</link><pubDate>` + date +
			`</pubDate><description>` + body + `</description></item>`
	}
	const d1, d2 = "Mon, 02 Mar 2026 10:00:00 GMT", "Tue, 03 Mar 2026 11:00:00 GMT"
	cases := []struct {
		name        string
		second      string
		wantUpdated int
	}{
		{"same document", item(d1, "http://example.org/a", "the body"), 0},
		{"bumped date", item(d2, "http://example.org/a", "the body"), 0},
		{"changed tracking parameters", item(d1, "http://example.org/a?utm_source=x&amp;utm_medium=y", "the body"), 0},
		{"changed text", item(d1, "http://example.org/a", "a different body altogether"), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, false)
			doc := ptr(rssDoc("u", item(d1, "http://example.org/a", "the body"), rssItem("b", "Another headline", "x")))
			srv := docServer(t, doc, nil)
			if res := r.run(t, "u", srv.URL); res.New != 2 {
				t.Fatalf("first fetch: %+v", res)
			}
			before := r.items(t, "u")
			r.clk.Add(time.Hour)
			second := rssDoc("u", c.second, rssItem("b", "Another headline", "x"))
			doc.Store(&second)
			res := r.run(t, "u", srv.URL)
			if res.New != 0 || res.Updated != c.wantUpdated || res.Unchanged != 2-c.wantUpdated {
				t.Errorf("second fetch new=%d updated=%d unchanged=%d, want 0/%d/%d", res.New, res.Updated, res.Unchanged, c.wantUpdated, 2-c.wantUpdated)
			}
			after := r.items(t, "u")
			if len(after) != 2 {
				t.Fatalf("%d items stored, want 2", len(after))
			}
			for _, it := range after {
				if it.GUID != "a" {
					continue
				}
				var old model.Item
				for _, o := range before {
					if o.ID == it.ID {
						old = o
					}
				}
				moved := !it.Updated.Equal(old.Updated)
				if moved != (c.wantUpdated == 1) {
					t.Errorf("updated time moved=%v (%v -> %v), want %v", moved, old.Updated, it.Updated, c.wantUpdated == 1)
				}
			}
		})
	}
}

func TestIdentityWithoutUsableGUIDs(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want int
	}{
		{"guid-less with links", rssDoc("g",
			`<item><title>One</title><link>http://example.org/1</link></item>`,
			`<item><title>Two</title><link>http://example.org/2</link></item>`), 2},
		{"guid-less without links", rssDoc("g",
			`<item><title>One only title</title><description>x</description></item>`,
			`<item><title>Two only title</title><description>y</description></item>`), 2},
		{"duplicate guids", rssDoc("g",
			`<item><guid isPermaLink="false">same</guid><title>One</title><link>http://example.org/1</link></item>`,
			`<item><guid isPermaLink="false">same</guid><title>Two</title><link>http://example.org/2</link></item>`,
			`<item><guid isPermaLink="false">same</guid><title>Three</title><link>http://example.org/3</link></item>`), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, false)
			srv := docServer(t, ptr(c.doc), nil)
			if res := r.run(t, "g", srv.URL); res.New != c.want {
				t.Fatalf("first fetch new=%d, want %d (%v)", res.New, c.want, res.Err)
			}
			r.clk.Add(time.Hour)
			if res := r.run(t, "g", srv.URL); res.New != 0 || res.Unchanged != c.want {
				t.Errorf("re-fetch new=%d unchanged=%d, want 0/%d: ids must be stable", res.New, res.Unchanged, c.want)
			}
			if n := len(r.items(t, "g")); n != c.want {
				t.Errorf("%d items stored, want %d", n, c.want)
			}
		})
	}
}

func TestRetryAfterDefersSourceAndHost(t *testing.T) {
	r := newRig(t, true)
	mux := http.NewServeMux()
	mux.HandleFunc("/busy", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Retry-After", "7200")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	var otherHits atomic.Int32
	mux.HandleFunc("/other", func(w http.ResponseWriter, req *http.Request) {
		otherHits.Add(1)
		fmt.Fprint(w, rssDoc("o", rssItem("1", "Other story", "x")))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res := r.run(t, "busy", srv.URL+"/busy")
	if res.Status != model.StatusError || res.ErrClass != model.ErrClassHTTP {
		t.Fatalf("429: %+v", res)
	}
	s := r.state(t, "busy")
	if want := t0.Add(2 * time.Hour); !s.NextFetch.Equal(want) || s.NextFetchReason != model.DeferRetryAfter {
		t.Errorf("next fetch %v (%s), want %v (retry-after)", s.NextFetch, s.NextFetchReason, want)
	}
	// Another source on the same host waits too, without a request.
	res = r.run(t, "other", srv.URL+"/other")
	if res.Status != ingest.StatusDeferred || res.Reason != model.DeferHostRetryAfter || otherHits.Load() != 0 {
		t.Errorf("other source on the blocked host: %+v, %d requests", res, otherHits.Load())
	}
	// The source itself is deferred until then; Force does not pass a host block.
	if res := r.run(t, "busy", srv.URL+"/busy"); res.Status != ingest.StatusDeferred {
		t.Errorf("second run of the 429 source: %s, want deferred", res.Status)
	}
	r.clk.Add(2*time.Hour + time.Second)
	if res := r.run(t, "other", srv.URL+"/other"); res.Status != model.StatusOK {
		t.Errorf("after the block: %+v, want ok", res)
	}
}

func TestCacheDeferral(t *testing.T) {
	cases := []struct {
		name       string
		respect    bool
		hdr        map[string]string
		ttl        string
		wantAfter  time.Duration
		wantReason string
	}{
		{"max-age respected", true, map[string]string{"Cache-Control": "max-age=3600"}, "", time.Hour, model.DeferCacheControl},
		{"ttl respected", true, nil, "<ttl>120</ttl>", 2 * time.Hour, model.DeferTTL},
		{"longer of ttl and max-age", true, map[string]string{"Cache-Control": "max-age=60"}, "<ttl>30</ttl>", 30 * time.Minute, model.DeferTTL},
		{"capped at max_backoff", true, map[string]string{"Cache-Control": "max-age=864000"}, "", 6 * time.Hour, model.DeferCacheControl},
		{"ignored when respect is off", false, map[string]string{"Cache-Control": "max-age=3600"}, "<ttl>120</ttl>", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.respect)
			doc := `<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>` + c.ttl + rssItem("1", "A story", "x") + `</channel></rss>`
			srv := docServer(t, ptr(doc), c.hdr)
			if res := r.run(t, "c", srv.URL); res.Status != model.StatusOK {
				t.Fatalf("fetch: %+v", res)
			}
			s := r.state(t, "c")
			if c.wantAfter == 0 {
				if !s.NextFetch.IsZero() {
					t.Errorf("next fetch %v (%s), want none", s.NextFetch, s.NextFetchReason)
				}
				if res := r.run(t, "c", srv.URL); res.Status == ingest.StatusDeferred {
					t.Errorf("deferred with respect_cache_headers off")
				}
				return
			}
			if want := t0.Add(c.wantAfter); !s.NextFetch.Equal(want) || s.NextFetchReason != c.wantReason {
				t.Errorf("next fetch %v (%s), want %v (%s)", s.NextFetch, s.NextFetchReason, want, c.wantReason)
			}
			if res := r.run(t, "c", srv.URL); res.Status != ingest.StatusDeferred || res.Reason != c.wantReason {
				t.Errorf("run within the lifetime: %s (%s), want deferred", res.Status, res.Reason)
			}
			if res := r.in.Run(context.Background(), ingest.Source{ID: "c", URL: srv.URL, Force: true}); res.Status != model.StatusOK {
				t.Errorf("forced run: %s, want ok", res.Status)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const base, limit = time.Minute, time.Hour
	cases := []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{0, 0, 0},
		{1, 0, time.Minute},
		{2, 0, 2 * time.Minute},
		{3, 0, 4 * time.Minute},
		{6, 0, 32 * time.Minute},
		{7, 0, time.Hour},
		{1000, 0, time.Hour},
		{1, 0.5, time.Minute - 7500*time.Millisecond},
		{7, 0.999, time.Hour - time.Duration(0.999*float64(time.Hour)/4)},
	}
	for _, c := range cases {
		if got := ingest.Backoff(c.n, base, limit, c.jitter); got != c.want {
			t.Errorf("Backoff(%d, jitter %.3f) = %v, want %v", c.n, c.jitter, got, c.want)
		}
	}
	// Bounds for any jitter in [0,1): within (3/4 d, d], never past the cap.
	for n := 1; n < 40; n++ {
		for _, j := range []float64{0, 0.25, 0.5, 0.75, 0.9999} {
			d := ingest.Backoff(n, base, limit, j)
			if d > limit || d < base*3/4 || d > ingest.Backoff(n, base, limit, 0) || d < ingest.Backoff(n, base, limit, 0)*3/4 {
				t.Errorf("Backoff(%d, %.4f) = %v out of bounds", n, j, d)
			}
		}
	}
}

func TestBackoffGrowsAndResets(t *testing.T) {
	r := newRig(t, true)
	var fail atomic.Bool
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, rssDoc("b", rssItem("1", "Back up again", "x")))
	}))
	defer srv.Close()
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	for i, w := range want {
		res := r.run(t, "b", srv.URL)
		s := r.state(t, "b")
		if res.Status != model.StatusError || s.ConsecutiveErrors != i+1 {
			t.Fatalf("failure %d: %+v, state errors %d", i+1, res, s.ConsecutiveErrors)
		}
		if got := s.NextFetch.Sub(r.clk.Now()); got != w || s.NextFetchReason != model.DeferBackoff {
			t.Errorf("failure %d: backoff %v (%s), want %v", i+1, got, s.NextFetchReason, w)
		}
		if res := r.run(t, "b", srv.URL); res.Status != ingest.StatusDeferred {
			t.Errorf("failure %d: run during backoff %s, want deferred", i+1, res.Status)
		}
		r.clk.Add(w)
	}
	fail.Store(false)
	if res := r.run(t, "b", srv.URL); res.Status != model.StatusOK {
		t.Fatalf("recovery: %+v", res)
	}
	s := r.state(t, "b")
	if s.ConsecutiveErrors != 0 || !s.NextFetch.IsZero() || s.ErrorClass != "" || s.Error != "" {
		t.Errorf("state after success: errors %d next %v class %q error %q, want reset", s.ConsecutiveErrors, s.NextFetch, s.ErrorClass, s.Error)
	}
}

func TestPermanentRedirectAndURLChange(t *testing.T) {
	r := newRig(t, false)
	var mu sync.Mutex
	seen := map[string]string{} // path -> If-None-Match
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/new", http.StatusMovedPermanently)
	})
	for _, p := range []string{"/new", "/a", "/b"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			seen[p] = req.Header.Get("If-None-Match")
			mu.Unlock()
			w.Header().Set("ETag", `"`+p+`"`)
			fmt.Fprint(w, rssDoc("p", rssItem("1", "Moved story", "x")))
		})
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if res := r.run(t, "m", srv.URL+"/old"); res.Status != model.StatusOK {
		t.Fatalf("redirected fetch: %+v", res)
	}
	s := r.state(t, "m")
	if s.RedirectURL != srv.URL+"/new" || s.URL != srv.URL+"/old" {
		t.Errorf("redirect %q url %q: want the target recorded and the configured URL kept", s.RedirectURL, s.URL)
	}

	// The operator edits the URL: validators of the old one are not sent.
	if res := r.run(t, "x", srv.URL+"/a"); res.Status != model.StatusOK {
		t.Fatal(res.Err)
	}
	if res := r.run(t, "x", srv.URL+"/a"); res.Status != model.StatusOK {
		t.Fatal(res.Err)
	}
	if seen["/a"] != `"/a"` {
		t.Fatalf("same URL: If-None-Match %q, want the stored ETag", seen["/a"])
	}
	if res := r.run(t, "x", srv.URL+"/b"); res.Status != model.StatusOK {
		t.Fatal(res.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["/b"] != "" {
		t.Errorf("new URL got If-None-Match %q from the old URL", seen["/b"])
	}
	if s := r.state(t, "x"); s.URL != srv.URL+"/b" || s.ETag != `"/b"` {
		t.Errorf("state after URL change: url %q etag %q", s.URL, s.ETag)
	}
}

func TestCancelledStoresNothing(t *testing.T) {
	r := newRig(t, false)
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>`+rssItem("1", "Half sent", "x"))
		w.(http.Flusher).Flush()
		close(started)
		<-req.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan ingest.Result)
	go func() { done <- r.in.Run(ctx, ingest.Source{ID: "c", URL: srv.URL}) }()
	<-started
	cancel()
	res := <-done
	if res.Status != model.StatusError || res.ErrClass != model.ErrClassCancelled {
		t.Errorf("cancelled run: %s/%s, want error/cancelled", res.Status, res.ErrClass)
	}
	if _, err := r.st.SourceState(context.Background(), "c"); err == nil {
		t.Errorf("cancelled run recorded a state")
	}
	if n := len(r.items(t, "c")); n != 0 {
		t.Errorf("cancelled run stored %d items", n)
	}
	// Cancelled before it starts: nothing either.
	res = r.in.Run(ctx, ingest.Source{ID: "d", URL: srv.URL})
	if res.Status == model.StatusOK {
		t.Errorf("run with a cancelled ctx: %+v", res)
	}
	if s, err := r.st.SourceState(context.Background(), "d"); err == nil && !s.LastFetch.IsZero() {
		t.Errorf("run with a cancelled ctx recorded %+v", s)
	}
}
