package publish

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

func newTestServer(t *testing.T) (*Publisher, *httptest.Server) {
	t.Helper()
	p := newTestPublisher(t, newFakeStore(fixtureItems()...), []model.Output{testOutput("news", model.OutputModeHeadlines)}, testSources())
	mux := http.NewServeMux()
	mux.Handle("/feeds/", p.FeedHandler())
	mux.Handle("/", p.IndexHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return p, srv
}

// do sends a request with the given headers; the transport's transparent
// gzip is off so the test sees exactly what the server sends.
func do(t *testing.T, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestFeedHandler(t *testing.T) {
	p, srv := newTestServer(t)
	want := render(t, p, "news", FormatAtom, 1)
	url := srv.URL + "/feeds/news.atom"

	resp, body := do(t, http.MethodGet, url, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want.Body) {
		t.Fatalf("GET = %d, body equal %v", resp.StatusCode, bytes.Equal(body, want.Body))
	}
	for k, v := range map[string]string{
		"Content-Type":   "application/atom+xml; charset=utf-8",
		"ETag":           want.ETag,
		"Last-Modified":  want.LastModified.Format(http.TimeFormat),
		"Cache-Control":  "public, max-age=300",
		"Vary":           "Accept-Encoding",
		"Content-Length": itoa(len(want.Body)),
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if resp.Header.Get("Content-Encoding") != "" {
		t.Error("Content-Encoding set without Accept-Encoding")
	}

	for _, tc := range []struct{ path, ct string }{
		{"/feeds/news.rss", "application/rss+xml; charset=utf-8"},
		{"/feeds/news.json", "application/feed+json; charset=utf-8"},
	} {
		resp, _ := do(t, http.MethodGet, srv.URL+tc.path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.ct {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ct)
		}
	}

	lm := want.LastModified.Format(http.TimeFormat)
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"If-None-Match exact", map[string]string{"If-None-Match": want.ETag}, 304},
		{"If-None-Match weak", map[string]string{"If-None-Match": "W/" + want.ETag}, 304},
		{"If-None-Match list", map[string]string{"If-None-Match": `"other", W/"x,y", ` + want.ETag}, 304},
		{"If-None-Match star", map[string]string{"If-None-Match": "*"}, 304},
		{"If-None-Match other", map[string]string{"If-None-Match": `"nope"`}, 200},
		{"If-None-Match gzip tag on identity", map[string]string{"If-None-Match": want.GzipETag}, 200},
		{"If-Modified-Since equal", map[string]string{"If-Modified-Since": lm}, 304},
		{"If-Modified-Since later", map[string]string{"If-Modified-Since": want.LastModified.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"If-Modified-Since earlier", map[string]string{"If-Modified-Since": want.LastModified.Add(-time.Second).Format(http.TimeFormat)}, 200},
		{"If-None-Match wins over If-Modified-Since", map[string]string{"If-None-Match": `"nope"`, "If-Modified-Since": lm}, 200},
		{"gzip variant tag", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": want.GzipETag}, 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, url, tt.header)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 304 {
				if len(body) != 0 {
					t.Errorf("304 with a body of %d bytes", len(body))
				}
				if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") == "" {
					t.Errorf("304 without ETag or Cache-Control: %v", resp.Header)
				}
			}
		})
	}

	t.Run("gzip", func(t *testing.T) {
		for _, ae := range []string{"gzip", "br;q=1.0, gzip;q=0.5", "*", "x-gzip"} {
			resp, body := do(t, http.MethodGet, url, map[string]string{"Accept-Encoding": ae})
			if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("ETag") != want.GzipETag {
				t.Fatalf("Accept-Encoding %q: Content-Encoding %q ETag %q", ae, resp.Header.Get("Content-Encoding"), resp.Header.Get("ETag"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			if !bytes.Equal(plain, want.Body) {
				t.Error("gzip body does not decompress to the feed")
			}
		}
		for _, ae := range []string{"gzip;q=0", "identity", "br", "*;q=0", "gzip;q=0, *"} {
			resp, _ := do(t, http.MethodGet, url, map[string]string{"Accept-Encoding": ae})
			if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("ETag") != want.ETag {
				t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
			}
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, body := do(t, http.MethodHead, url, nil)
		if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != itoa(len(want.Body)) || resp.Header.Get("ETag") != want.ETag {
			t.Errorf("HEAD = %d, body %d bytes, Content-Length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
		}
	})

	errTests := []struct {
		name, method, path string
		want               int
		contains           string
	}{
		{"unknown output lists outputs", "GET", "/feeds/nope.atom", 404, testBase + "feeds/news.atom"},
		{"unknown format", "GET", "/feeds/news.xml", 404, testBase + "feeds/news.rss"},
		{"no extension", "GET", "/feeds/news", 404, "news"},
		{"nested path", "GET", "/feeds/a/news.rss", 404, "news"},
		{"bad page", "GET", "/feeds/news.atom?page=abc", 400, "page"},
		{"zero page", "GET", "/feeds/news.atom?page=0", 400, "page"},
		{"negative page", "GET", "/feeds/news.atom?page=-1", 400, "page"},
		{"page beyond", "GET", "/feeds/news.atom?page=2", 404, "no such page"},
		{"POST", "POST", "/feeds/news.atom", 405, "method"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, nil)
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.contains) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tt.method, tt.path, resp.StatusCode, body, tt.want, tt.contains)
			}
			if tt.want == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", resp.Header.Get("Content-Type"))
			}
		})
	}
	t.Run("page 1 explicit", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, url+"?page=1", nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, want.Body) {
			t.Errorf("?page=1 = %d", resp.StatusCode)
		}
	})
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestIndexHandler(t *testing.T) {
	p, srv := newTestServer(t)
	out := testOutput("x<script>", model.OutputModeArticles)
	out.Title = `Evil "<script>alert(1)</script>`
	p.SetConfig([]model.Output{testOutput("news", model.OutputModeHeadlines), out}, testSources())

	resp, body := do(t, http.MethodGet, srv.URL+"/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for k, v := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	page := string(body)
	for _, s := range []string{
		`<link rel="alternate" type="application/rss+xml" title="Test news (RSS)" href="https://feeds.example.org/feeds/news.rss">`,
		`<link rel="alternate" type="application/atom+xml" title="Test news (Atom)" href="https://feeds.example.org/feeds/news.atom">`,
		`<link rel="alternate" type="application/feed+json" title="Test news (JSON Feed)" href="https://feeds.example.org/feeds/news.json">`,
		`href="https://feeds.example.org/feeds/x%3Cscript%3E.atom"`,
		`Evil &#34;&lt;script&gt;alert(1)&lt;/script&gt;`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("index lacks %s\n%s", s, page)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Errorf("index contains an unescaped script:\n%s", page)
	}

	resp2, _ := do(t, http.MethodGet, srv.URL+"/", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp2.StatusCode != 304 {
		t.Errorf("index revalidation = %d, want 304", resp2.StatusCode)
	}
	if resp, _ := do(t, http.MethodGet, srv.URL+"/other", nil); resp.StatusCode != 404 {
		t.Errorf("GET /other = %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodPost, srv.URL+"/", nil); resp.StatusCode != 405 {
		t.Errorf("POST / = %d, want 405", resp.StatusCode)
	}
}

func TestETagListMatches(t *testing.T) {
	tests := []struct {
		list, etag string
		want       bool
	}{
		{`"a"`, `"a"`, true},
		{`W/"a"`, `"a"`, true},
		{`"a"`, `W/"a"`, true},
		{`"b", "a"`, `"a"`, true},
		{`"x,y","a"`, `"a"`, true},
		{`"x,y"`, `"y"`, false},
		{`*`, `"a"`, true},
		{`"ab"`, `"a"`, false},
		{`a`, `"a"`, false},
		{`"a`, `"a"`, false},
		{``, `"a"`, false},
		{`junk, "a"`, `"a"`, true},
	}
	for _, tt := range tests {
		if got := etagListMatches(tt.list, tt.etag); got != tt.want {
			t.Errorf("etagListMatches(%q, %q) = %v, want %v", tt.list, tt.etag, got, tt.want)
		}
	}
}
