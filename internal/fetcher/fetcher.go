// Package fetcher owns syndic's polite conditional HTTP GET: request
// headers and validators, redirects, size and time limits, per-host
// politeness shared by every caller, refusal of private networks, and typed
// errors with secrets removed. It never parses what it fetches.
package fetcher

import (
	"bufio"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/model"
)

// Defaults used when an Options field is zero.
const (
	DefaultUserAgent         = "syndic (+https://github.com/syndic-dev/syndic)"
	DefaultTimeout           = 30 * time.Second
	DefaultConnectTimeout    = 10 * time.Second
	DefaultMaxBody           = 10 << 20
	DefaultMaxRedirects      = 10
	DefaultMaxHeaderBytes    = 1 << 20
	DefaultConcurrency       = 16
	DefaultPerHost           = 2
	DefaultDefaultRetryAfter = 10 * time.Minute
)

// Accept is sent unless a source overrides it: feed types first, generic
// XML and JSON after, anything else last so a server that only knows
// text/html still answers (the parser then looks for alternates).
const Accept = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"

// Options configures a Fetcher. Zero fields take the Default* values, except
// HostInterval (zero: no spacing) and DenyPrivateNetworks.
type Options struct {
	UserAgent      string
	Timeout        time.Duration // default total per request (Request.Timeout overrides)
	ConnectTimeout time.Duration // TCP connect, and TLS handshake
	MaxBody        int64         // bytes after decompression
	// MaxRedirects is the number of redirects followed; negative follows
	// none.
	MaxRedirects   int
	MaxHeaderBytes int64 // response header limit
	Concurrency    int   // requests in flight in total
	PerHost        int   // requests in flight per host
	// HostInterval is the least time between request starts to one host.
	HostInterval time.Duration
	// DefaultRetryAfter is how long a host stays blocked after a 429 or
	// 503 without a usable Retry-After.
	DefaultRetryAfter time.Duration
	// DenyPrivateNetworks refuses loopback, private, link-local (cloud
	// metadata), CGNAT, unspecified and other non-public addresses at
	// connect time, after DNS, on every hop of a redirect chain. It also
	// turns off proxies from the environment, which would bypass the check.
	DenyPrivateNetworks bool
	// Now is the wall clock for Retry-After, cache lifetimes and host
	// blocks. Waiting between requests uses the runtime's timers (tests
	// drive them with testing/synctest).
	Now func() time.Time
}

// Fetcher performs conditional GETs. One Fetcher is shared by every caller
// so that the concurrency and per-host limits hold for all of them. It is
// safe for concurrent use.
type Fetcher struct {
	opts      Options
	transport *http.Transport
	limiter   *limiter

	mu      sync.Mutex
	blocked map[string]time.Time // host -> blocked until (429/503)
}

// New returns a Fetcher with opts, zero fields replaced by defaults.
func New(opts Options) *Fetcher {
	return newFetcher(opts, denyAddrPort)
}

// newFetcher lets tests replace the private-network check, since every test
// server listens on loopback.
func newFetcher(opts Options, deny func(netip.AddrPort) error) *Fetcher {
	opts = withDefaults(opts)
	dialer := &net.Dialer{
		Timeout:   opts.ConnectTimeout,
		KeepAlive: 30 * time.Second,
	}
	proxy := http.ProxyFromEnvironment
	if opts.DenyPrivateNetworks {
		dialer.ControlContext = denyControl(deny)
		proxy = nil
	}
	t := &http.Transport{
		Proxy:                  proxy,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    opts.ConnectTimeout,
		MaxIdleConns:           opts.Concurrency * 2,
		MaxIdleConnsPerHost:    opts.PerHost,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: opts.MaxHeaderBytes,
		// The request context bounds the wait for headers: a fixed
		// ResponseHeaderTimeout here would cut short a source whose own
		// timeout is longer than the default.
	}
	return &Fetcher{
		opts:      opts,
		transport: t,
		limiter:   newLimiter(opts.Concurrency, opts.PerHost, opts.HostInterval),
		blocked:   make(map[string]time.Time),
	}
}

func withDefaults(o Options) Options {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PerHost <= 0 {
		o.PerHost = DefaultPerHost
	}
	if o.HostInterval < 0 {
		o.HostInterval = 0
	}
	if o.DefaultRetryAfter <= 0 {
		o.DefaultRetryAfter = DefaultDefaultRetryAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Close releases idle connections.
func (f *Fetcher) Close() {
	f.transport.CloseIdleConnections()
}

// Request is one conditional GET.
type Request struct {
	URL          string
	ETag         string            // sent as If-None-Match
	LastModified string            // sent as If-Modified-Since
	Headers      map[string]string // per-source headers; values are secrets
	Timeout      time.Duration     // 0: Options.Timeout
}

// Response is a successful (2xx or 304) answer.
type Response struct {
	StatusCode  int
	NotModified bool   // 304
	Body        []byte // decompressed, at most MaxBody bytes
	ContentType string
	// ETag and LastModified are the validators to store; callers keep
	// them from a 200 (a 304 may repeat or omit them).
	ETag, LastModified string
	// FinalURL is the URL that answered, after redirects, without
	// userinfo. With no redirect and no userinfo it is Request.URL as given.
	FinalURL string
	// PermanentRedirect is where the leading run of 301/308 hops from the
	// requested URL ended ("" when the first hop was not permanent). The
	// configured URL stays authoritative; the caller records this.
	PermanentRedirect string
	// CacheUntil is when the server said the document stays fresh
	// (Cache-Control max-age, else Expires); zero when absent, no-cache,
	// no-store or already stale. CacheReason names the source
	// (model.DeferCacheControl or model.DeferExpires).
	CacheUntil  time.Time
	CacheReason string
	WireBytes   int64 // body bytes read from the network
	// Duration runs from sending the request to the end of the body; time
	// spent waiting for the limiter is not included.
	Duration time.Duration
}

// fetchState is what the redirect policy learns during one Fetch.
type fetchState struct {
	permanent   bool   // every hop so far was 301/308
	permTarget  string // last target of the leading permanent run
	initialHost string // hostname of the requested URL
	srcHeaders  map[string]string
	redirectErr *Error
}

// Fetch performs a conditional GET of req.URL. It waits for a slot under
// the concurrency, per-host and host-interval limits (the wait counts
// against ctx, not against the request timeout). Every failure is an
// *Error.
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Response, error) {
	redacted := credential.Redact(req.URL)
	fail := func(class string, err error) (*Response, error) {
		return nil, &Error{Class: class, URL: redacted, Err: err}
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return fail(model.ErrClassOther, parseError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fail(model.ErrClassOther, fmt.Errorf("unsupported scheme %q", u.Scheme))
	}
	if u.Host == "" {
		return fail(model.ErrClassOther, errors.New("missing host"))
	}
	host := hostKey(u)

	release, err := f.limiter.acquire(ctx, host)
	if err != nil {
		return fail(model.ErrClassCancelled, fmt.Errorf("cancelled while waiting for a slot: %w", err))
	}
	defer release()

	timeout := req.Timeout
	if timeout <= 0 {
		timeout = f.opts.Timeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	hreq, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		// Only a bad URL gets here; its message would repeat the URL.
		return fail(model.ErrClassOther, errors.New("invalid url"))
	}
	f.setHeaders(hreq, req)

	st := &fetchState{permanent: true, initialHost: u.Hostname(), srcHeaders: req.Headers}
	client := &http.Client{
		Transport:     f.transport,
		CheckRedirect: f.redirectPolicy(st, redacted),
	}

	start := time.Now()
	resp, err := client.Do(hreq)
	if err != nil {
		if st.redirectErr != nil {
			return nil, st.redirectErr
		}
		class, cause := f.classify(ctx, rctx, timeout, err)
		return fail(class, cause)
	}
	defer resp.Body.Close()

	out := &Response{
		StatusCode:        resp.StatusCode,
		FinalURL:          req.URL,
		PermanentRedirect: st.permTarget,
		ContentType:       resp.Header.Get("Content-Type"),
		ETag:              resp.Header.Get("ETag"),
		LastModified:      resp.Header.Get("Last-Modified"),
	}
	final := resp.Request.URL
	redirected := final.String() != u.String()
	if redirected || u.User != nil {
		out.FinalURL = stripUserinfo(final)
	}
	now := f.opts.Now()

	switch code := resp.StatusCode; {
	case code == http.StatusNotModified:
		out.NotModified = true
		out.CacheUntil, out.CacheReason = cacheUntil(resp.Header, now)
		out.Duration = time.Since(start)
		return out, nil
	case code < 200 || code > 299:
		e := &Error{Class: model.ErrClassHTTP, StatusCode: code, URL: redacted, Err: statusError(code, out.FinalURL, redirected)}
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now, f.opts.DefaultRetryAfter)
			f.block(hostKey(final), e.RetryAfter)
		}
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		return nil, e
	}

	if resp.ContentLength > f.opts.MaxBody {
		return fail(model.ErrClassTooLarge, fmt.Errorf("content-length %d exceeds the %s limit", resp.ContentLength, formatBytes(f.opts.MaxBody)))
	}
	wire := &countingReader{r: resp.Body}
	body, err := f.readBody(wire, resp.Header.Get("Content-Encoding"), resp.ContentLength)
	out.WireBytes = wire.n
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.URL = redacted
			return nil, e
		}
		class, cause := f.classify(ctx, rctx, timeout, err)
		return fail(class, cause)
	}
	out.Body = body
	out.CacheUntil, out.CacheReason = cacheUntil(resp.Header, now)
	out.Duration = time.Since(start)
	return out, nil
}

func (f *Fetcher) setHeaders(hreq *http.Request, req Request) {
	h := hreq.Header
	h.Set("Accept", Accept)
	h.Set("User-Agent", f.opts.UserAgent)
	// Set explicitly so the transport leaves the body alone and the size
	// limit applies after decompression.
	h.Set("Accept-Encoding", "gzip")
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Host") {
			hreq.Host = v
			continue
		}
		h.Set(k, v)
	}
	if req.ETag != "" {
		h.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		h.Set("If-Modified-Since", req.LastModified)
	}
}

// redirectPolicy limits the number of hops and their schemes, records the
// permanent part of the chain, and keeps per-source headers (often
// credentials) from reaching another site.
func (f *Fetcher) redirectPolicy(st *fetchState, redacted string) func(*http.Request, []*http.Request) error {
	return func(next *http.Request, via []*http.Request) error {
		fail := func(err error) error {
			st.redirectErr = &Error{Class: model.ErrClassRedirect, URL: redacted, Err: err}
			return st.redirectErr
		}
		if f.opts.MaxRedirects < 0 {
			return fail(errors.New("redirects not allowed"))
		}
		if len(via) > f.opts.MaxRedirects {
			return fail(fmt.Errorf("stopped after %d redirects", f.opts.MaxRedirects))
		}
		if next.URL.Scheme != "http" && next.URL.Scheme != "https" {
			return fail(fmt.Errorf("redirect to unsupported scheme %q", next.URL.Scheme))
		}
		if next.URL.Host == "" {
			return fail(errors.New("redirect without a host"))
		}
		if st.permanent && next.Response != nil {
			switch next.Response.StatusCode {
			case http.StatusMovedPermanently, http.StatusPermanentRedirect:
				st.permTarget = stripUserinfo(next.URL)
			default:
				st.permanent = false
			}
		}
		if !sameSite(next.URL.Hostname(), st.initialHost) {
			for k := range st.srcHeaders {
				next.Header.Del(k)
			}
			next.Host = ""
			if next.Header.Get("Accept") == "" {
				next.Header.Set("Accept", Accept)
			}
			if next.Header.Get("User-Agent") == "" {
				next.Header.Set("User-Agent", f.opts.UserAgent)
			}
			next.Header.Set("Accept-Encoding", "gzip")
		}
		return nil
	}
}

// sameSite reports whether host is initial or a subdomain of it, the rule
// net/http uses for forwarding credentials on redirects.
func sameSite(host, initial string) bool {
	host, initial = strings.ToLower(strings.TrimSuffix(host, ".")), strings.ToLower(strings.TrimSuffix(initial, "."))
	if host == initial {
		return true
	}
	if strings.ContainsAny(host, ":%") {
		return false
	}
	return strings.HasSuffix(host, "."+initial)
}

// readBody decompresses (whatever was asked for: some servers send gzip
// unasked, or without saying so) and enforces MaxBody on the result.
func (f *Fetcher) readBody(r io.Reader, encoding string, contentLength int64) ([]byte, error) {
	br := bufio.NewReader(r)
	var dec io.Reader = br
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &Error{Class: model.ErrClassOther, Err: fmt.Errorf("decompress gzip body: %w", err)}
		}
		dec = zr
	case "deflate":
		zr, err := zlib.NewReader(br)
		if err != nil {
			return nil, &Error{Class: model.ErrClassOther, Err: fmt.Errorf("decompress deflate body: %w", err)}
		}
		dec = zr
	case "", "identity":
		// A gzip stream with no Content-Encoding (a .xml.gz served
		// as is): no feed starts with these bytes.
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err == nil {
				dec = zr
			}
		}
	default:
		return nil, &Error{Class: model.ErrClassOther, Err: fmt.Errorf("unsupported content-encoding %q", encoding)}
	}
	// The body of an uncompressed response is as long as its
	// Content-Length says: reading it into a buffer of that size, rather
	// than one that doubles from 512 bytes, allocates half as much (12%
	// of the bytes a first ingest allocated went to growing bodies). The
	// hint is capped, so that a false Content-Length costs little.
	hint := 0
	if dec == io.Reader(br) && contentLength > 0 {
		hint = int(min(contentLength, maxBodyHint, f.opts.MaxBody))
	}
	body, err := readAll(io.LimitReader(dec, f.opts.MaxBody+1), hint)
	if err != nil {
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, zlib.ErrChecksum) {
			return nil, &Error{Class: model.ErrClassOther, Err: fmt.Errorf("decompress body: %w", err)}
		}
		return nil, err
	}
	if int64(len(body)) > f.opts.MaxBody {
		return nil, &Error{Class: model.ErrClassTooLarge, Err: fmt.Errorf("body exceeds the %s limit", formatBytes(f.opts.MaxBody))}
	}
	return body, nil
}

// block marks host as unavailable until t; a later block wins.
func (f *Fetcher) block(host string, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.opts.Now()
	for h, t := range f.blocked {
		if !t.After(now) {
			delete(f.blocked, h)
		}
	}
	if until.After(f.blocked[host]) {
		f.blocked[host] = until
	}
}

// HostBlockedUntil reports until when the host of rawURL asked, by a 429 or
// 503 to any request, not to be fetched; zero if it is not blocked.
func (f *Fetcher) HostBlockedUntil(rawURL string) time.Time {
	host := Host(rawURL)
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.blocked[host]
	if !ok || !t.After(f.opts.Now()) {
		return time.Time{}
	}
	return t
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// formatBytes names a limit the way the config spells it.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// maxBodyHint caps the buffer a Content-Length reserves before the body
// arrives; larger bodies grow as they come.
const maxBodyHint = 1 << 20

// readAll is io.ReadAll starting from a buffer of hint bytes, with room to
// see the end of the body without growing.
func readAll(r io.Reader, hint int) ([]byte, error) {
	b := make([]byte, 0, hint+512)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the next size
		}
	}
}
