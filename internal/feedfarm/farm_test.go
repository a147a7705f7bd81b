package feedfarm_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

// get serves one request through the farm's handler.
func get(t *testing.T, f *feedfarm.Farm, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.Handler().ServeHTTP(rec, req)
	return rec
}

func parse(t *testing.T, body []byte) *gofeed.Feed {
	t.Helper()
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse feed: %v\n%.300s", err, body)
	}
	return feed
}

func content(it *gofeed.Item) string {
	if it.Content != "" {
		return it.Content
	}
	return it.Description
}

// checkItems compares a parsed feed with what the farm says it serves.
func checkItems(t *testing.T, name string, feed *gofeed.Feed, want []feedfarm.ExpectedItem) {
	t.Helper()
	if got := len(feed.Items); got != len(want) {
		t.Fatalf("%s: %d items, want %d", name, got, len(want))
	}
	for k, it := range feed.Items {
		w := want[k]
		if it.GUID != w.GUID || it.Link != w.Link || it.Title != w.Title {
			t.Errorf("%s item %d = (%q, %q, %q), want (%q, %q, %q)", name, k, it.GUID, it.Link, it.Title, w.GUID, w.Link, w.Title)
		}
		if it.PublishedParsed == nil || !it.PublishedParsed.Equal(w.Published) {
			t.Errorf("%s item %d published %v, want %v", name, k, it.PublishedParsed, w.Published)
		}
	}
}

func TestDeterministic(t *testing.T) {
	// SlowDelay is a nanosecond so that slow sources answer at once.
	opts := feedfarm.Options{Sources: 18, Items: 8, Seed: 42, DupShare: 0.3, BrokenShare: 0.4, SlowDelay: time.Nanosecond}
	a, b := feedfarm.New(opts), feedfarm.New(opts)
	opts.Seed = 43
	c := feedfarm.New(opts)
	for i := range opts.Sources {
		ba, bb, bc := get(t, a, a.Path(i)).Body.Bytes(), get(t, b, b.Path(i)).Body.Bytes(), get(t, c, c.Path(i)).Body.Bytes()
		if !bytes.Equal(ba, bb) {
			t.Errorf("source %d: two farms with the same seed serve different bodies", i)
		}
		if _, broken := a.Broken(i); !broken && bytes.Equal(ba, bc) {
			t.Errorf("source %d: seeds 42 and 43 serve the same body", i)
		}
		ka, _ := a.Broken(i)
		if kb, _ := b.Broken(i); ka != kb {
			t.Errorf("source %d: broken kinds %q and %q in equal farms", i, ka, kb)
		}
	}
}

func TestFormatsParse(t *testing.T) {
	f := feedfarm.New(feedfarm.Options{Sources: 6, Items: 15, Seed: 7, DupShare: 0.3})
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	imgs := 0
	for i := range f.Sources() {
		resp, err := http.Get(srv.URL + f.Path(i))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		feed := parse(t, body)
		if got, want := feed.FeedType, f.Format(i); got != want {
			t.Errorf("source %d: feed type %q, want %q", i, got, want)
		}
		wantType := map[string]string{"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}[f.Format(i)]
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, wantType) {
			t.Errorf("source %d: Content-Type %q, want %s", i, got, wantType)
		}
		checkItems(t, "source "+strconv.Itoa(i), feed, f.ExpectedItems(i))
		for k, it := range feed.Items {
			if n := len(strings.Fields(it.Title)); n < 6 {
				t.Errorf("source %d item %d: title %q has %d words, want >= 6", i, k, it.Title, n)
			}
			html := content(it)
			if n := len(html); n < 1000 || n > 3000 {
				t.Errorf("source %d item %d: %d bytes of HTML, want 1000..3000", i, k, n)
			}
			for _, tag := range []string{"<p>", "<em>", "<a href=\"http://news.example/"} {
				if !strings.Contains(html, tag) {
					t.Errorf("source %d item %d: content lacks %s", i, k, tag)
				}
			}
			if strings.Contains(html, `<img src="/img/x.png"`) {
				imgs++
			}
		}
	}
	if imgs == 0 {
		t.Error("no item has a relative image")
	}
	if resp, err := http.Get(srv.URL + "/img/x.png"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /img/x.png = %v, %v", resp, err)
	}
}

func TestTitlesDistinct(t *testing.T) {
	f := feedfarm.New(feedfarm.Options{Sources: 500, Items: 50, Seed: 1})
	seen := map[string]string{}
	for i := range f.Sources() {
		for _, it := range f.ExpectedItems(i) {
			if other, ok := seen[it.Title]; ok {
				t.Fatalf("title %q used by %s and %s", it.Title, other, it.GUID)
			}
			seen[it.Title] = it.GUID
		}
	}
}

func TestConditional(t *testing.T) {
	f := feedfarm.New(feedfarm.Options{Sources: 2, Items: 5, Seed: 3, Gzip: true, Churn: 1})
	first := get(t, f, f.Path(0))
	etag, lastMod := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
	gzETag := get(t, f, f.Path(0), "Accept-Encoding", "gzip").Header().Get("ETag")
	if etag == "" || lastMod == "" || strings.HasPrefix(etag, "W/") || etag == gzETag {
		t.Fatalf("validators ETag %q (gzip %q), Last-Modified %q: want two distinct strong ETags and a date", etag, gzETag, lastMod)
	}
	lm, _ := http.ParseTime(lastMod)
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"no validators", nil, 200},
		{"etag", []string{"If-None-Match", etag}, 304},
		{"gzip etag", []string{"If-None-Match", gzETag}, 304},
		{"weak etag in list", []string{"If-None-Match", `"x", W/` + etag}, 304},
		{"star", []string{"If-None-Match", "*"}, 304},
		{"other etag", []string{"If-None-Match", `"nope"`}, 200},
		{"last modified", []string{"If-Modified-Since", lastMod}, 304},
		{"later", []string{"If-Modified-Since", lm.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"earlier", []string{"If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)}, 200},
		{"etag decides over date", []string{"If-None-Match", `"nope"`, "If-Modified-Since", lastMod}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, f, f.Path(0), tt.header...)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if rec.Code == 304 && (rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag) {
				t.Errorf("304 with %d body bytes and ETag %q", rec.Body.Len(), rec.Header().Get("ETag"))
			}
		})
	}
	f.Advance()
	if rec := get(t, f, f.Path(0), "If-None-Match", etag, "If-Modified-Since", lastMod); rec.Code != 200 {
		t.Errorf("after Advance: status %d, want 200", rec.Code)
	}
	if got := get(t, f, f.Path(0)).Header().Get("Last-Modified"); got == lastMod {
		t.Errorf("after Advance: Last-Modified unchanged %q", got)
	}
	st := f.Requests()
	if st.NotModified != 6 || st.OK != st.Total-st.NotModified {
		t.Errorf("Requests() = %+v, want 6 not modified and the rest OK", st)
	}
}

func TestChurn(t *testing.T) {
	const items, churn = 10, 3
	f := feedfarm.New(feedfarm.Options{Sources: 3, Items: items, Churn: churn, Seed: 5})
	before := f.ExpectedItems(1)
	f.Advance()
	if got := f.Generation(); got != 1 {
		t.Fatalf("Generation() = %d, want 1", got)
	}
	after := f.ExpectedItems(1)
	if len(after) != items {
		t.Fatalf("%d items after Advance, want %d", len(after), items)
	}
	for k := range churn {
		for _, old := range before {
			if after[k].GUID == old.GUID {
				t.Errorf("item %d after Advance is not new: %s", k, old.GUID)
			}
		}
		if !after[k].Published.After(before[0].Published) {
			t.Errorf("new item %d published %v, not after %v", k, after[k].Published, before[0].Published)
		}
	}
	for k := churn; k < items; k++ {
		if after[k] != before[k-churn] {
			t.Errorf("item %d after Advance = %+v, want %+v", k, after[k], before[k-churn])
		}
	}
	checkItems(t, "after Advance", parse(t, get(t, f, f.Path(1)).Body.Bytes()), after)
}

func withoutTracking(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "utm_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestDuplicates(t *testing.T) {
	const share = 0.3
	f := feedfarm.New(feedfarm.Options{Sources: 40, Items: 30, Seed: 11, DupShare: share, BrokenShare: 0.2, ContentBytes: [2]int{200, 400}})
	byGUID := map[string]feedfarm.ExpectedItem{}
	bodies := map[string]string{}
	for i := range f.Sources() {
		if _, broken := f.Broken(i); broken {
			continue
		}
		feed := parse(t, get(t, f, f.Path(i)).Body.Bytes())
		for k, it := range f.ExpectedItems(i) {
			byGUID[it.GUID] = it
			bodies[it.GUID] = content(feed.Items[k])
		}
	}
	dups := 0
	for _, it := range byGUID {
		if it.DuplicateOf == "" {
			continue
		}
		dups++
		orig, ok := byGUID[it.DuplicateOf]
		if !ok {
			t.Errorf("%s duplicates %s, which no healthy source serves", it.GUID, it.DuplicateOf)
			continue
		}
		if orig.DuplicateOf != "" {
			t.Errorf("%s duplicates %s, itself a duplicate", it.GUID, orig.GUID)
		}
		if !strings.Contains(it.Link, "utm_source=") || withoutTracking(t, it.Link) != orig.Link {
			t.Errorf("duplicate link %q, original %q: want the original plus utm_ parameters", it.Link, orig.Link)
		}
		if got, want := strings.ToLower(strings.TrimPrefix(it.Title, "BREAKING: ")), strings.ToLower(orig.Title); got != want {
			t.Errorf("duplicate title %q is not original %q up to prefix and case", it.Title, orig.Title)
		}
		if bodies[it.GUID] != bodies[orig.GUID] {
			t.Errorf("duplicate %s and original %s have different bodies", it.GUID, orig.GUID)
		}
	}
	if got := float64(dups) / float64(len(byGUID)); got < share-0.05 || got > share+0.05 {
		t.Errorf("duplicate share %.3f, want %.2f +- 0.05", got, share)
	}
}

func TestBroken(t *testing.T) {
	opts := feedfarm.Options{Sources: 12, Items: 4, Seed: 9, BrokenShare: 0.5, SlowDelay: 90 * time.Second}
	f := feedfarm.New(opts)
	source := map[string]int{}
	for i := range f.Sources() {
		if kind, broken := f.Broken(i); broken {
			source[kind] = i
			if items := f.ExpectedItems(i); len(items) != 0 {
				t.Errorf("broken source %d (%s) expects %d items, want none", i, kind, len(items))
			}
			if len(f.Items(i)) != opts.Items {
				t.Errorf("broken source %d: Items has %d, want %d", i, len(f.Items(i)), opts.Items)
			}
		}
	}
	if len(source) != len(feedfarm.BrokenKinds()) {
		t.Fatalf("broken kinds %v, want one source of each of %v", source, feedfarm.BrokenKinds())
	}

	tests := []struct {
		kind   string
		status int
		check  func(t *testing.T, i int, rec *httptest.ResponseRecorder)
	}{
		{feedfarm.BrokenServerError, 500, nil},
		{feedfarm.BrokenNotFound, 404, nil},
		{feedfarm.BrokenTooManyRequests, 429, func(t *testing.T, i int, rec *httptest.ResponseRecorder) {
			if got := rec.Header().Get("Retry-After"); got != "120" {
				t.Errorf("Retry-After %q, want 120", got)
			}
		}},
		{feedfarm.BrokenInvalidXML, 200, func(t *testing.T, i int, rec *httptest.ResponseRecorder) {
			if !strings.HasPrefix(rec.Body.String(), "<?xml") {
				t.Errorf("body does not start as XML: %.50q", rec.Body.String())
			}
			if _, err := gofeed.NewParser().Parse(rec.Body); err == nil {
				t.Error("gofeed parsed the truncated document")
			}
		}},
		{feedfarm.BrokenHTML, 200, func(t *testing.T, i int, rec *httptest.ResponseRecorder) {
			body := rec.Body.String()
			alt := `href="/alt/` + strconv.Itoa(i) + `"`
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, `rel="alternate"`) || !strings.Contains(body, alt) {
				t.Fatalf("not an HTML page with %s: %s", alt, body)
			}
			checkItems(t, "alternate", parse(t, get(t, f, "/alt/"+strconv.Itoa(i)).Body.Bytes()), f.Items(i))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			i := source[tt.kind]
			rec := get(t, f, f.Path(i))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.check != nil {
				tt.check(t, i, rec)
			}
		})
	}

	t.Run(feedfarm.BrokenSlow, func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := feedfarm.New(opts)
			i := source[feedfarm.BrokenSlow]
			start := time.Now()
			rec := get(t, f, f.Path(i))
			if got := time.Since(start); got != opts.SlowDelay {
				t.Errorf("answered after %v, want %v", got, opts.SlowDelay)
			}
			checkItems(t, "slow", parse(t, rec.Body.Bytes()), f.Items(i))

			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			req := httptest.NewRequest(http.MethodGet, f.Path(i), nil).WithContext(ctx)
			start = time.Now()
			f.Handler().ServeHTTP(httptest.NewRecorder(), req)
			if got := time.Since(start); got != time.Second {
				t.Errorf("a client that left after 1s held the handler %v", got)
			}
		})
	})
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := feedfarm.New(feedfarm.Options{Sources: 1, Items: 2, Latency: 250 * time.Millisecond})
		start := time.Now()
		if rec := get(t, f, f.Path(0)); rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		if got := time.Since(start); got != 250*time.Millisecond {
			t.Errorf("answered after %v, want 250ms", got)
		}
	})
}

func TestGzip(t *testing.T) {
	f := feedfarm.New(feedfarm.Options{Sources: 1, Items: 10, Gzip: true})
	plain := get(t, f, f.Path(0)).Body.Bytes()
	tests := []struct {
		name, accept string
		gzipped      bool
	}{
		{"none", "", false},
		{"gzip", "gzip", true},
		{"list", "br, gzip;q=0.8", true},
		{"star", "*", true},
		{"refused", "gzip;q=0", false},
		{"other", "br", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, f, f.Path(0), "Accept-Encoding", tt.accept)
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("gzipped = %v, want %v", got, tt.gzipped)
			}
			if rec.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q, want Accept-Encoding", rec.Header().Get("Vary"))
			}
			body := rec.Body.Bytes()
			if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(len(body)); got != want {
				t.Errorf("Content-Length %s, body %s bytes", got, want)
			}
			if tt.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(body, plain) {
				t.Error("body differs from the identity encoding")
			}
		})
	}
	// Without Options.Gzip the farm never compresses.
	f = feedfarm.New(feedfarm.Options{Sources: 1, Items: 10})
	if rec := get(t, f, f.Path(0), "Accept-Encoding", "gzip"); rec.Header().Get("Content-Encoding") != "" {
		t.Error("gzipped with Options.Gzip off")
	}
}

func TestStartShutdown(t *testing.T) {
	f := feedfarm.New(feedfarm.Options{Sources: 3, Items: 3, Seed: 2})
	base, err := f.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(base, "http://127.0.0.1:") || f.URL(2) != base+"/s/2" {
		t.Fatalf("base %q, URL(2) %q", base, f.URL(2))
	}
	resp, err := http.Get(f.URL(2))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkItems(t, "served", parse(t, body), f.ExpectedItems(2))

	resp, err = http.Post(base+"/_farm/advance", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /_farm/advance: %v, %v", resp, err)
	}
	resp.Body.Close()
	if f.Generation() != 1 {
		t.Errorf("Generation() = %d after POST /_farm/advance", f.Generation())
	}
	if got := f.SourceRequests(2); got != 1 {
		t.Errorf("SourceRequests(2) = %d, want 1", got)
	}
	if err := f.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get(f.URL(2)); err == nil {
		t.Error("farm still serving after Shutdown")
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close after Shutdown: %v", err)
	}
}

// BenchmarkServe measures serving one cached feed document.
func BenchmarkServe(b *testing.B) {
	for _, bc := range []struct {
		name   string
		header string
		value  string
	}{
		{"identity", "", ""},
		{"gzip", "Accept-Encoding", "gzip"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := feedfarm.New(feedfarm.Options{Sources: 3, Items: 50, Gzip: true})
			f.Prerender()
			req := httptest.NewRequest(http.MethodGet, f.Path(0), nil)
			if bc.header != "" {
				req.Header.Set(bc.header, bc.value)
			}
			w := &discard{h: http.Header{}}
			h := f.Handler()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			b.SetBytes(w.n / int64(b.N))
		})
	}
}

type discard struct {
	h http.Header
	n int64
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(int)     {}
func (d *discard) Write(p []byte) (int, error) {
	d.n += int64(len(p))
	return len(p), nil
}
