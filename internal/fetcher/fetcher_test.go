package fetcher

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func testOptions() Options {
	return Options{
		Timeout:     5 * time.Second,
		Concurrency: 8,
		PerHost:     4,
		Now:         func() time.Time { return testNow },
	}
}

func newTestFetcher(t *testing.T, opts Options) *Fetcher {
	t.Helper()
	f := New(opts)
	t.Cleanup(f.Close)
	return f
}

// fetchErr fetches and insists on an *Error.
func fetchErr(t *testing.T, f *Fetcher, req Request) *Error {
	t.Helper()
	resp, err := f.Fetch(context.Background(), req)
	if err == nil {
		t.Fatalf("Fetch(%q) = status %d, want an error", req.URL, resp.StatusCode)
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("Fetch(%q) error %T %v, want *Error", req.URL, err, err)
	}
	return fe
}

func fetchOK(t *testing.T, f *Fetcher, req Request) *Response {
	t.Helper()
	resp, err := f.Fetch(context.Background(), req)
	if err != nil {
		t.Fatalf("Fetch(%q): %v", req.URL, err)
	}
	return resp
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

const feedBody = `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>`

func TestFetchOK(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 03 Mar 2025 10:00:00 GMT")
		io.WriteString(w, feedBody)
	})
	f := newTestFetcher(t, testOptions())
	resp := fetchOK(t, f, Request{URL: srv.URL + "/feed.xml"})
	if got, want := resp.StatusCode, 200; got != want {
		t.Errorf("StatusCode = %d, want %d", got, want)
	}
	if resp.NotModified {
		t.Error("NotModified = true, want false")
	}
	if got, want := string(resp.Body), feedBody; got != want {
		t.Errorf("Body = %q, want %q", got, want)
	}
	if got, want := resp.ContentType, "application/rss+xml; charset=utf-8"; got != want {
		t.Errorf("ContentType = %q, want %q", got, want)
	}
	if got, want := resp.ETag, `"v1"`; got != want {
		t.Errorf("ETag = %q, want %q", got, want)
	}
	if got, want := resp.LastModified, "Mon, 03 Mar 2025 10:00:00 GMT"; got != want {
		t.Errorf("LastModified = %q, want %q", got, want)
	}
	if got, want := resp.FinalURL, srv.URL+"/feed.xml"; got != want {
		t.Errorf("FinalURL = %q, want %q", got, want)
	}
	if resp.PermanentRedirect != "" {
		t.Errorf("PermanentRedirect = %q, want none", resp.PermanentRedirect)
	}
	if got, want := resp.WireBytes, int64(len(feedBody)); got != want {
		t.Errorf("WireBytes = %d, want %d", got, want)
	}
	if !resp.CacheUntil.IsZero() || resp.CacheReason != "" {
		t.Errorf("CacheUntil = %v %q, want none", resp.CacheUntil, resp.CacheReason)
	}
}

func TestFetchNotModified(t *testing.T) {
	const etag, lastMod = `"abc"`, "Mon, 03 Mar 2025 10:00:00 GMT"
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lastMod {
			w.Header().Set("Cache-Control", "max-age=60")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, feedBody)
	})
	tests := []struct {
		name string
		req  Request
		want bool
	}{
		{"if-none-match", Request{ETag: etag}, true},
		{"if-modified-since", Request{LastModified: lastMod}, true},
		{"stale validators", Request{ETag: `"old"`, LastModified: "Sun, 02 Mar 2025 10:00:00 GMT"}, false},
		{"no validators", Request{}, false},
	}
	f := newTestFetcher(t, testOptions())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.URL = srv.URL
			resp := fetchOK(t, f, tt.req)
			if got := resp.NotModified; got != tt.want {
				t.Fatalf("NotModified = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			if got, want := resp.StatusCode, 304; got != want {
				t.Errorf("StatusCode = %d, want %d", got, want)
			}
			if len(resp.Body) != 0 {
				t.Errorf("Body = %q, want empty", resp.Body)
			}
			if got, want := resp.CacheUntil, testNow.Add(time.Minute); !got.Equal(want) || resp.CacheReason != model.DeferCacheControl {
				t.Errorf("CacheUntil = %v %q, want %v %q", got, resp.CacheReason, want, model.DeferCacheControl)
			}
		})
	}
}

func TestFetchStatusErrors(t *testing.T) {
	tests := []struct {
		code int
	}{{404}, {500}, {410}, {401}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", tt.code)
			})
			f := newTestFetcher(t, testOptions())
			e := fetchErr(t, f, Request{URL: srv.URL + "/feed"})
			if e.Class != model.ErrClassHTTP || e.StatusCode != tt.code {
				t.Errorf("error = %s/%d, want %s/%d", e.Class, e.StatusCode, model.ErrClassHTTP, tt.code)
			}
			if want := fmt.Sprintf("get %q: status %d", srv.URL+"/feed", tt.code); e.Error() != want {
				t.Errorf("Error() = %q, want %q", e.Error(), want)
			}
			if !e.RetryAfter.IsZero() {
				t.Errorf("RetryAfter = %v, want zero", e.RetryAfter)
			}
			if got := f.HostBlockedUntil(srv.URL); !got.IsZero() {
				t.Errorf("HostBlockedUntil = %v, want zero", got)
			}
		})
	}
}

func TestFetchRetryAfterBlocksHost(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		retryAfter string
		want       time.Time
	}{
		{"429 seconds", 429, "120", testNow.Add(2 * time.Minute)},
		{"503 http-date", 503, testNow.Add(time.Hour).Format(http.TimeFormat), testNow.Add(time.Hour)},
		{"429 date in the past", 429, testNow.Add(-time.Hour).Format(http.TimeFormat), testNow},
		{"429 without header", 429, "", testNow.Add(7 * time.Minute)},
		{"503 garbage", 503, "soon", testNow.Add(7 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.code)
			})
			opts := testOptions()
			opts.DefaultRetryAfter = 7 * time.Minute
			f := newTestFetcher(t, opts)
			e := fetchErr(t, f, Request{URL: srv.URL + "/a.xml"})
			if e.Class != model.ErrClassHTTP || e.StatusCode != tt.code {
				t.Errorf("error = %s/%d, want %s/%d", e.Class, e.StatusCode, model.ErrClassHTTP, tt.code)
			}
			if !e.RetryAfter.Equal(tt.want) {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.want)
			}
			wantBlock := tt.want
			if !wantBlock.After(testNow) {
				wantBlock = time.Time{}
			}
			// Any other source on the same host is blocked too.
			if got := f.HostBlockedUntil(srv.URL + "/other.xml"); !got.Equal(wantBlock) {
				t.Errorf("HostBlockedUntil(same host) = %v, want %v", got, wantBlock)
			}
			if got := f.HostBlockedUntil("http://elsewhere.example/feed"); !got.IsZero() {
				t.Errorf("HostBlockedUntil(other host) = %v, want zero", got)
			}
		})
	}
}

func TestHostBlockExpires(t *testing.T) {
	now := testNow
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(429)
	})
	opts := testOptions()
	opts.Now = func() time.Time { return now }
	f := newTestFetcher(t, opts)
	fetchErr(t, f, Request{URL: srv.URL})
	if got, want := f.HostBlockedUntil(srv.URL), testNow.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("HostBlockedUntil = %v, want %v", got, want)
	}
	now = testNow.Add(time.Minute)
	if got := f.HostBlockedUntil(srv.URL); !got.IsZero() {
		t.Errorf("HostBlockedUntil after expiry = %v, want zero", got)
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetchGzip(t *testing.T) {
	compressed := gzipBytes(t, []byte(feedBody))
	tests := []struct {
		name     string
		headers  map[string]string
		encoding string // Content-Encoding sent
	}{
		{"asked for", nil, "gzip"},
		{"sent unasked", map[string]string{"Accept-Encoding": "identity"}, "gzip"},
		{"x-gzip", nil, "x-gzip"},
		{"no content-encoding", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotAE string
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				gotAE = r.Header.Get("Accept-Encoding")
				if tt.encoding != "" {
					w.Header().Set("Content-Encoding", tt.encoding)
				}
				w.Write(compressed)
			})
			f := newTestFetcher(t, testOptions())
			resp := fetchOK(t, f, Request{URL: srv.URL, Headers: tt.headers})
			if got, want := string(resp.Body), feedBody; got != want {
				t.Errorf("Body = %q, want %q", got, want)
			}
			if got, want := resp.WireBytes, int64(len(compressed)); got != want {
				t.Errorf("WireBytes = %d, want %d", got, want)
			}
			if tt.headers == nil && gotAE != "gzip" {
				t.Errorf("Accept-Encoding sent = %q, want gzip", gotAE)
			}
		})
	}
}

func TestFetchBadGzip(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, feedBody)
	})
	f := newTestFetcher(t, testOptions())
	if e := fetchErr(t, f, Request{URL: srv.URL}); e.Class != model.ErrClassOther {
		t.Errorf("Class = %q, want %q (%v)", e.Class, model.ErrClassOther, e)
	}
}

func TestFetchGzipBomb(t *testing.T) {
	const maxBody = 1 << 20
	// Concatenated gzip members are one valid stream: 64 MiB of zeros in
	// about 64 KiB, without compressing 64 MiB here.
	bomb := bytes.Repeat(gzipBytes(t, make([]byte, 1<<20)), 64)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(bomb)))
		w.Write(bomb)
	})
	opts := testOptions()
	opts.MaxBody = maxBody
	f := newTestFetcher(t, opts)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := fetchErr(t, f, Request{URL: srv.URL})
	runtime.ReadMemStats(&after)
	if e.Class != model.ErrClassTooLarge {
		t.Fatalf("Class = %q, want %q (%v)", e.Class, model.ErrClassTooLarge, e)
	}
	if !strings.Contains(e.Error(), "1MB") {
		t.Errorf("Error() = %q, want it to name the 1MB limit", e.Error())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*maxBody {
		t.Errorf("allocated %d bytes for a %d byte limit, want bounded memory", alloc, maxBody)
	}
}

func TestFetchTooLarge(t *testing.T) {
	const maxBody = 64 << 10
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(2*maxBody))
			w.Write(make([]byte, 2*maxBody))
		}},
		{"endless chunked body", func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("<item/>"), 1024)
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}},
		{"one byte over", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush() // chunked: no Content-Length
			w.Write(make([]byte, maxBody+1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.handler)
			opts := testOptions()
			opts.MaxBody = maxBody
			f := newTestFetcher(t, opts)
			e := fetchErr(t, f, Request{URL: srv.URL})
			if e.Class != model.ErrClassTooLarge {
				t.Fatalf("Class = %q, want %q (%v)", e.Class, model.ErrClassTooLarge, e)
			}
			if !strings.Contains(e.Error(), "64KB") {
				t.Errorf("Error() = %q, want it to name the 64KB limit", e.Error())
			}
		})
	}
}

func TestFetchExactlyMaxBody(t *testing.T) {
	const maxBody = 1000
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, maxBody))
	})
	opts := testOptions()
	opts.MaxBody = maxBody
	f := newTestFetcher(t, opts)
	if got := len(fetchOK(t, f, Request{URL: srv.URL}).Body); got != maxBody {
		t.Errorf("len(Body) = %d, want %d", got, maxBody)
	}
}

// The slow cases below wait for a real 200ms timeout: the server side
// is real network I/O, which testing/synctest cannot drive.
func TestFetchTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	drip := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for {
			w.Write([]byte("<"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-release:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	silent := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	// A listener that accepts and never reads or writes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	tests := []struct {
		name string
		url  string
	}{
		{"drip body", drip.URL},
		{"handler never answers", silent.URL},
		{"accept and never answer", "http://" + ln.Addr().String() + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFetcher(t, testOptions())
			start := time.Now()
			e := fetchErr(t, f, Request{URL: tt.url, Timeout: 200 * time.Millisecond})
			if e.Class != model.ErrClassTimeout {
				t.Fatalf("Class = %q, want %q (%v)", e.Class, model.ErrClassTimeout, e)
			}
			if !errors.Is(e, context.DeadlineExceeded) {
				t.Errorf("errors.Is(%v, DeadlineExceeded) = false", e)
			}
			if !strings.Contains(e.Error(), "timeout after 200ms") {
				t.Errorf("Error() = %q, want it to say timeout after 200ms", e.Error())
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Fetch took %v with a 200ms timeout", d)
			}
		})
	}
}

func TestFetchOptionsTimeoutDefault(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	opts := testOptions()
	opts.Timeout = 150 * time.Millisecond
	f := newTestFetcher(t, opts)
	if e := fetchErr(t, f, Request{URL: srv.URL}); e.Class != model.ErrClassTimeout {
		t.Fatalf("Class = %q, want %q (%v)", e.Class, model.ErrClassTimeout, e)
	}
}

func TestFetchCancelled(t *testing.T) {
	started := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	f := newTestFetcher(t, testOptions())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := f.Fetch(ctx, Request{URL: srv.URL})
	var e *Error
	if !errors.As(err, &e) || e.Class != model.ErrClassCancelled {
		t.Fatalf("Fetch after cancel = %v, want class %q", err, model.ErrClassCancelled)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, Canceled) = false", err)
	}

	// Cancelled before it starts (while waiting for the limiter).
	_, err = f.Fetch(ctx, Request{URL: srv.URL})
	if !errors.As(err, &e) || e.Class != model.ErrClassCancelled {
		t.Fatalf("Fetch with cancelled ctx = %v, want class %q", err, model.ErrClassCancelled)
	}
}

// rawServer answers every connection with resp (then keeps writing fill
// forever when fill is not empty).
func rawServer(t *testing.T, resp, fill string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for { // read the request head
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				if _, err := io.WriteString(c, resp); err != nil || fill == "" {
					return
				}
				for {
					if _, err := io.WriteString(c, fill); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/feed"
}

func TestFetchHeaderFlood(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 200 OK\r\n", "X-Flood: "+strings.Repeat("a", 1000)+"\r\n")
	opts := testOptions()
	opts.MaxHeaderBytes = 64 << 10
	f := newTestFetcher(t, opts)
	e := fetchErr(t, f, Request{URL: url})
	if e.Class != model.ErrClassTooLarge {
		t.Errorf("Class = %q, want %q (%v)", e.Class, model.ErrClassTooLarge, e)
	}
	if !strings.Contains(e.Error(), "headers") {
		t.Errorf("Error() = %q, want it to mention headers", e.Error())
	}
}

func TestFetchMalformedResponse(t *testing.T) {
	url := rawServer(t, "this is not http\r\n\r\n", "")
	f := newTestFetcher(t, testOptions())
	if e := fetchErr(t, f, Request{URL: url}); e.Class != model.ErrClassOther {
		t.Errorf("Class = %q, want %q (%v)", e.Class, model.ErrClassOther, e)
	}
}

func TestFetchRedirectErrors(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			http.Redirect(w, r, "/a", http.StatusMovedPermanently)
		case "/ftp":
			w.Header().Set("Location", "ftp://example.org/feed.xml")
			w.WriteHeader(http.StatusMovedPermanently)
		case "/file":
			w.Header().Set("Location", "file:///etc/passwd")
			w.WriteHeader(http.StatusFound)
		case "/javascript":
			w.Header().Set("Location", "javascript:alert(1)")
			w.WriteHeader(http.StatusFound)
		}
	})
	tests := []struct {
		name, path, want string
		maxRedirects     int
		wantHits         int32
	}{
		{"loop", "/a", "stopped after 10 redirects", 10, 11},
		{"loop, limit 3", "/a", "stopped after 3 redirects", 3, 4},
		{"none allowed", "/a", "redirects not allowed", -1, 1},
		{"ftp", "/ftp", `unsupported scheme "ftp"`, 10, 1},
		{"file", "/file", `unsupported scheme "file"`, 10, 1},
		{"javascript", "/javascript", `unsupported scheme "javascript"`, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			opts := testOptions()
			opts.MaxRedirects = tt.maxRedirects
			f := newTestFetcher(t, opts)
			e := fetchErr(t, f, Request{URL: srv.URL + tt.path})
			if e.Class != model.ErrClassRedirect {
				t.Errorf("Class = %q, want %q (%v)", e.Class, model.ErrClassRedirect, e)
			}
			if !strings.Contains(e.Error(), tt.want) {
				t.Errorf("Error() = %q, want it to contain %q", e.Error(), tt.want)
			}
			if !strings.HasPrefix(e.Error(), fmt.Sprintf("get %q: ", srv.URL+tt.path)) {
				t.Errorf("Error() = %q, want it to name the requested URL", e.Error())
			}
			if got := hits.Load(); got != tt.wantHits {
				t.Errorf("server hits = %d, want %d", got, tt.wantHits)
			}
		})
	}
}

func TestFetchPermanentRedirect(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/")); err == nil {
			// /301/302 redirects with 301 to /302, which redirects with
			// 302 to /end.
			next := "/end"
			if rest := r.URL.Query().Get("then"); rest != "" {
				codes := strings.SplitN(rest, ",", 2)
				next = "/" + codes[0]
				if len(codes) == 2 {
					next += "?then=" + codes[1]
				}
			}
			http.Redirect(w, r, next, code)
			return
		}
		io.WriteString(w, feedBody)
	})
	tests := []struct {
		name, path, wantPermanent, wantFinal string
	}{
		{"301", "/301", "/end", "/end"},
		{"301 then 308", "/301?then=308", "/end", "/end"},
		{"308 then 301 then 302", "/308?then=301,302", "/302", "/end"},
		{"302", "/302", "", "/end"},
		{"307", "/307", "", "/end"},
		{"302 then 301", "/302?then=301", "", "/end"},
		{"no redirect", "/end", "", "/end"},
	}
	f := newTestFetcher(t, testOptions())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := fetchOK(t, f, Request{URL: srv.URL + tt.path})
			want := ""
			if tt.wantPermanent != "" {
				want = srv.URL + tt.wantPermanent
			}
			if resp.PermanentRedirect != want {
				t.Errorf("PermanentRedirect = %q, want %q", resp.PermanentRedirect, want)
			}
			if got, want := resp.FinalURL, srv.URL+tt.wantFinal; got != want {
				t.Errorf("FinalURL = %q, want %q", got, want)
			}
		})
	}
}

func TestFetchHeaders(t *testing.T) {
	tests := []struct {
		name      string
		userAgent string
		headers   map[string]string
		want      map[string]string
	}{
		{"defaults", "", nil, map[string]string{
			"Accept":          Accept,
			"User-Agent":      DefaultUserAgent,
			"Accept-Encoding": "gzip",
		}},
		{"configured user agent", "syndic/1.2 (+https://example.org)", nil, map[string]string{
			"User-Agent": "syndic/1.2 (+https://example.org)",
		}},
		{"per-source headers override", "syndic/1.2", map[string]string{
			"accept":        "application/atom+xml",
			"User-Agent":    "special",
			"Authorization": "Bearer s3cret",
			"X-Api-Key":     "k",
		}, map[string]string{
			"Accept":        "application/atom+xml",
			"User-Agent":    "special",
			"Authorization": "Bearer s3cret",
			"X-Api-Key":     "k",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				io.WriteString(w, feedBody)
			})
			opts := testOptions()
			opts.UserAgent = tt.userAgent
			f := newTestFetcher(t, opts)
			fetchOK(t, f, Request{URL: srv.URL, Headers: tt.headers})
			for k, v := range tt.want {
				if got.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, got.Get(k), v)
				}
			}
		})
	}
}

// Per-source headers (credentials, often) go along a redirect within the
// site and are dropped when it leads elsewhere.
func TestFetchRedirectHeaders(t *testing.T) {
	var mu sync.Mutex
	got := map[string]http.Header{}
	target := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = r.Header.Clone()
		mu.Unlock()
		io.WriteString(w, feedBody)
	})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	origin := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, target.URL+"/same", http.StatusFound)
		case "/other":
			http.Redirect(w, r, "http://localhost:"+port+"/other", http.StatusFound)
		}
	})
	f := newTestFetcher(t, testOptions())
	hdr := map[string]string{"X-Api-Key": "secret-key", "Accept": "application/atom+xml"}
	fetchOK(t, f, Request{URL: origin.URL + "/same", Headers: hdr})
	fetchOK(t, f, Request{URL: origin.URL + "/other", Headers: hdr})

	if h := got["/same"]; h.Get("X-Api-Key") != "secret-key" || h.Get("Accept") != "application/atom+xml" {
		t.Errorf("same-host redirect headers = %v, want the per-source headers", h)
	}
	h := got["/other"]
	if h.Get("X-Api-Key") != "" {
		t.Errorf("cross-host redirect sent X-Api-Key %q, want none", h.Get("X-Api-Key"))
	}
	if h.Get("Accept") != Accept || h.Get("User-Agent") != DefaultUserAgent {
		t.Errorf("cross-host redirect headers = %v, want the defaults", h)
	}
}

func TestFetchNetworkErrors(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, feedBody)
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is expected
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	plain := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	// A port that was just listened on and closed refuses connections. It
	// is closed after the servers above start: one of them once got the
	// freed port and answered 200.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/feed"
	ln.Close()

	tests := []struct {
		name, url, class string
	}{
		{"dns", "http://no-such-host.invalid/feed.xml", model.ErrClassDNS},
		{"connection refused", closedURL, model.ErrClassConnect},
		{"untrusted certificate", tlsSrv.URL + "/feed", model.ErrClassTLS},
		{"tls to a plain server", strings.Replace(plain.URL, "http:", "https:", 1), model.ErrClassTLS},
		{"unsupported scheme", "ftp://example.org/feed", model.ErrClassOther},
		{"relative url", "/feed.xml", model.ErrClassOther},
		{"unparsable url", "http://[::1/feed", model.ErrClassOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFetcher(t, testOptions())
			e := fetchErr(t, f, Request{URL: tt.url})
			if e.Class != tt.class {
				t.Errorf("Class = %q, want %q (%v)", e.Class, tt.class, e)
			}
			if want := fmt.Sprintf("get %q: ", tt.url); !strings.HasPrefix(e.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", e.Error(), want)
			}
		})
	}
}

func TestFetchDenyPrivateNetworks(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, feedBody)
	})
	opts := testOptions()
	opts.DenyPrivateNetworks = true
	f := newTestFetcher(t, opts)
	e := fetchErr(t, f, Request{URL: srv.URL + "/feed"})
	if e.Class != model.ErrClassDenied {
		t.Fatalf("Class = %q, want %q (%v)", e.Class, model.ErrClassDenied, e)
	}
	var de *DeniedError
	if !errors.As(e, &de) || de.Reason != "loopback" || de.Addr != "127.0.0.1" {
		t.Errorf("cause = %#v, want loopback 127.0.0.1", de)
	}
	if !strings.Contains(e.Error(), "127.0.0.1 is not a public address") {
		t.Errorf("Error() = %q, want a clear denial", e.Error())
	}
}

// The check applies to every hop: a public-looking first server may
// redirect to a private one. All test servers are on loopback, so the test
// treats the first server as public.
func TestFetchDenyPrivateNetworksOnRedirect(t *testing.T) {
	private := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, feedBody)
	})
	public := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, feedBody)
			return
		}
		http.Redirect(w, r, private.URL+"/metadata", http.StatusFound)
	})
	privateAddr := netip.MustParseAddrPort(strings.TrimPrefix(private.URL, "http://"))
	opts := testOptions()
	opts.DenyPrivateNetworks = true
	f := newFetcher(opts, func(ap netip.AddrPort) error {
		if ap == privateAddr {
			return denyAddrPort(ap)
		}
		return nil
	})
	t.Cleanup(f.Close)
	e := fetchErr(t, f, Request{URL: public.URL + "/feed"})
	if e.Class != model.ErrClassDenied {
		t.Fatalf("Class = %q, want %q (%v)", e.Class, model.ErrClassDenied, e)
	}
	if want := fmt.Sprintf("get %q: ", public.URL+"/feed"); !strings.HasPrefix(e.Error(), want) {
		t.Errorf("Error() = %q, want prefix %q", e.Error(), want)
	}
	// The first server itself is allowed: the denial came from the hop.
	fetchOK(t, f, Request{URL: public.URL + "/ok"})
}

func TestFetchLimitsShared(t *testing.T) {
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		inFlight.Add(-1)
		io.WriteString(w, feedBody)
	})
	opts := testOptions()
	opts.PerHost = 2
	f := newTestFetcher(t, opts)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := f.Fetch(context.Background(), Request{URL: srv.URL}); err != nil {
				t.Error(err)
			}
		})
	}
	// Two arrive; the third cannot until one finishes.
	<-arrived
	<-arrived
	select {
	case <-arrived:
		t.Error("a third request reached the host while two were in flight")
	default:
	}
	close(release)
	wg.Wait()
	if got := peak.Load(); got != 2 {
		t.Errorf("peak in flight = %d, want 2", got)
	}
}

func TestFetchCacheHeaders(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, s-maxage=9999, max-age=300")
		w.Header().Set("Expires", testNow.Add(time.Hour).Format(http.TimeFormat))
		io.WriteString(w, feedBody)
	})
	f := newTestFetcher(t, testOptions())
	resp := fetchOK(t, f, Request{URL: srv.URL})
	if want := testNow.Add(5 * time.Minute); !resp.CacheUntil.Equal(want) || resp.CacheReason != model.DeferCacheControl {
		t.Errorf("CacheUntil = %v %q, want %v %q", resp.CacheUntil, resp.CacheReason, want, model.DeferCacheControl)
	}
}

// TestReadAll: the body comes back whole whatever the hint says.
func TestReadAll(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4099) // not a power of two
	for _, hint := range []int{0, 1, 511, len(body) - 1, len(body), len(body) + 1, 3 * len(body)} {
		got, err := readAll(iotest.HalfReader(bytes.NewReader(body)), hint)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("hint %d: %d bytes, err %v; want %d bytes", hint, len(got), err, len(body))
		}
	}
	boom := errors.New("boom")
	if _, err := readAll(iotest.ErrReader(boom), 10); !errors.Is(err, boom) {
		t.Errorf("read error = %v, want boom", err)
	}
}

func BenchmarkReadAll(b *testing.B) {
	body := bytes.Repeat([]byte("<item>feed text</item>"), 64<<10/22)
	b.Run("io.ReadAll", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			io.ReadAll(bytes.NewReader(body))
		}
	})
	b.Run("hinted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			readAll(bytes.NewReader(body), len(body))
		}
	})
}
