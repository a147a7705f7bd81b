// Package feedfarm serves a deterministic farm of synthetic news feeds on
// 127.0.0.1 for syndic's end-to-end tests, crash tests and benchmark
// harness. It owns the farm's content (titles, bodies, cross-source
// duplicates, broken sources, churn between generations), its rendering as
// RSS 2.0, Atom 1.0 and JSON Feed 1.1, conditional and compressed serving,
// request accounting, and a syndic configuration that lists every source.
//
// Everything a farm serves follows from Options: two farms built with the
// same Options serve byte-identical documents, whatever their port, and
// ExpectedItems says what a reader should find in each one. Documents are
// rendered once per (source, generation) and served from memory, so the
// farm is not what a benchmark measures.
package feedfarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a farm. The zero value of every field has a usable
// default.
type Options struct {
	Sources int   // number of sources; default 10
	Items   int   // items in every feed document; default 20
	Seed    int64 // selects titles, bodies, duplicates and broken sources
	Gzip    bool  // gzip responses when the client accepts it
	// Churn is how many items every Advance adds at the top of each
	// document; the oldest as many drop off the bottom.
	Churn int
	// DupShare is the share of items, in [0, 1], that repeat the story of
	// the same-numbered item in another healthy source: the same link with
	// utm_* parameters added, and the same title, "BREAKING: " before it,
	// or its case changed.
	DupShare float64
	// BrokenShare is the share of sources, in [0, 1], that are broken. The
	// broken sources are picked by Seed; their kinds rotate in the order of
	// BrokenKinds.
	BrokenShare float64
	SlowDelay   time.Duration // delay of the BrokenSlow kind; default 1m
	Latency     time.Duration // added before every feed response
	// ContentBytes is the minimum and maximum size of an item's HTML body;
	// default 1000..3000.
	ContentBytes [2]int
	// Epoch is the publication date of the newest item of generation 0
	// (items of later generations are newer); default 2026-11-01T00:00:00Z.
	Epoch time.Time
	Addr  string // where Start listens; default "127.0.0.1:0"
	// Logger receives the HTTP server's own errors; default discards.
	Logger *slog.Logger
}

// Kinds of broken source, in the order they are assigned.
const (
	BrokenServerError     = "server-error"      // 500 Internal Server Error
	BrokenNotFound        = "not-found"         // 404 Not Found
	BrokenInvalidXML      = "invalid-xml"       // 200 with an RSS document cut in half
	BrokenHTML            = "html"              // 200 HTML page whose <link rel=alternate> points at the feed
	BrokenTooManyRequests = "too-many-requests" // 429 with Retry-After: 120
	BrokenSlow            = "slow"              // the real feed, after Options.SlowDelay
)

// BrokenKinds returns the kinds of broken source in the order they rotate.
func BrokenKinds() []string {
	return []string{
		BrokenServerError, BrokenNotFound, BrokenInvalidXML,
		BrokenHTML, BrokenTooManyRequests, BrokenSlow,
	}
}

// Farm is a set of synthetic feeds and, once started, the server for them.
// Its methods are safe for concurrent use.
type Farm struct {
	opts    Options
	prose   *sampler
	kinds   []string // per source; "" when healthy
	healthy []int    // healthy sources, ascending
	sources []sourceState
	gen     atomic.Int64
	handler http.Handler
	stats   counters

	mu      sync.Mutex // guards srv, base and cancel
	srv     *http.Server
	base    string
	cancel  context.CancelFunc // aborts waiting handlers on shutdown
	serving chan struct{}      // closed when Serve returns
}

// New builds a farm. Nothing is rendered or listened on until needed.
func New(opts Options) *Farm {
	opts = opts.withDefaults()
	f := &Farm{
		opts:    opts,
		prose:   newSampler(proseText),
		kinds:   make([]string, opts.Sources),
		sources: make([]sourceState, opts.Sources),
	}
	f.stats.perSource = make([]atomic.Int64, opts.Sources)
	f.assignBroken()
	for i, k := range f.kinds {
		if k == "" {
			f.healthy = append(f.healthy, i)
		}
	}
	f.handler = f.routes()
	return f
}

func (o Options) withDefaults() Options {
	if o.Sources <= 0 {
		o.Sources = 10
	}
	if o.Items <= 0 {
		o.Items = 20
	}
	o.Churn = max(o.Churn, 0)
	o.DupShare = min(max(o.DupShare, 0), 1)
	o.BrokenShare = min(max(o.BrokenShare, 0), 1)
	if o.SlowDelay <= 0 {
		o.SlowDelay = time.Minute
	}
	o.Latency = max(o.Latency, 0)
	if o.ContentBytes == [2]int{} {
		o.ContentBytes = [2]int{1000, 3000}
	}
	o.ContentBytes[0] = max(o.ContentBytes[0], 1)
	o.ContentBytes[1] = max(o.ContentBytes[1], o.ContentBytes[0])
	if o.Epoch.IsZero() {
		o.Epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	o.Epoch = o.Epoch.UTC().Truncate(time.Second)
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// assignBroken picks round(BrokenShare*Sources) sources by a seeded
// shuffle, so the broken ones are spread over the farm rather than
// bunched at one end, and gives them the kinds in rotation.
func (f *Farm) assignBroken() {
	n := int(f.opts.BrokenShare*float64(f.opts.Sources) + 0.5)
	if n == 0 {
		return
	}
	order := f.rng(streamBroken, 0, 0).Perm(f.opts.Sources)
	kinds := BrokenKinds()
	for k, i := range order[:n] {
		f.kinds[i] = kinds[k%len(kinds)]
	}
}

// Options returns the options in effect, defaults filled in.
func (f *Farm) Options() Options { return f.opts }

// Sources returns the number of sources.
func (f *Farm) Sources() int { return f.opts.Sources }

// Path returns the path of source i's feed, relative to the farm's base
// URL; use it with Handler under httptest.
func (f *Farm) Path(i int) string { return "/s/" + strconv.Itoa(i) }

// URL returns the feed URL of source i. Before Start it is Path(i).
func (f *Farm) URL(i int) string { return f.BaseURL() + f.Path(i) }

// BaseURL returns "http://127.0.0.1:PORT" once started, else "".
func (f *Farm) BaseURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.base
}

var formats = [3]string{"rss", "atom", "json"}

// Format returns the format of source i: "rss", "atom" or "json" for i%3
// of 0, 1 and 2.
func (f *Farm) Format(i int) string { return formats[((i%3)+3)%3] }

// Broken reports whether source i is broken and how (one of BrokenKinds).
func (f *Farm) Broken(i int) (kind string, broken bool) {
	if i < 0 || i >= len(f.kinds) {
		return "", false
	}
	return f.kinds[i], f.kinds[i] != ""
}

// Advance moves the farm to its next generation: with Churn > 0 every
// document gains Churn new items at the top and loses as many at the
// bottom, and its ETag and Last-Modified change.
func (f *Farm) Advance() { f.gen.Add(1) }

// Generation returns the number of Advance calls so far.
func (f *Farm) Generation() int { return int(f.gen.Load()) }

// ExpectedItems returns the items source i currently serves at URL(i),
// newest first; it is empty for a broken source, including a slow one
// (readers are expected to time out; Items has what it would send).
func (f *Farm) ExpectedItems(i int) []ExpectedItem {
	if i < 0 || i >= f.opts.Sources || f.kinds[i] != "" {
		return nil
	}
	return f.items(i, f.Generation())
}

// Items returns the items of source i's current document whether or not
// the source is broken: what a slow source sends late, what the alternate
// link of an HTML source leads to.
func (f *Farm) Items(i int) []ExpectedItem {
	if i < 0 || i >= f.opts.Sources {
		return nil
	}
	return f.items(i, f.Generation())
}

// Prerender renders (and with Options.Gzip compresses) the current
// generation of every document, so that a benchmark does not measure the
// farm's first requests. Call it again after Advance.
func (f *Farm) Prerender() {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < f.opts.Sources; i = int(next.Add(1) - 1) {
				if d := f.document(i); d.gzip {
					d.gzipped()
				}
			}
		})
	}
	wg.Wait()
}

// Start listens on Options.Addr (default 127.0.0.1:0) and serves the farm
// in the background until Close or Shutdown. It returns the base URL,
// such as "http://127.0.0.1:40123".
func (f *Farm) Start() (baseURL string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		return "", errors.New("start feed farm: already started")
	}
	ln, err := net.Listen("tcp", f.opts.Addr)
	if err != nil {
		return "", fmt.Errorf("start feed farm: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.srv = &http.Server{
		Handler: f.handler,
		// Waits for Latency and SlowDelay end when the farm stops, so
		// Shutdown is not held up by a deliberately slow response.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(f.opts.Logger.Handler(), slog.LevelWarn),
	}
	f.cancel = cancel
	f.base = "http://" + ln.Addr().String()
	f.serving = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.opts.Logger.Error("feed farm stopped serving", "addr", ln.Addr().String(), "error", err)
		}
	}(f.srv, f.serving)
	return f.base, nil
}

// Shutdown stops the server gracefully: it stops accepting, ends the
// farm's own waits, and lets responses in progress finish until ctx ends.
func (f *Farm) Shutdown(ctx context.Context) error {
	srv, done := f.stop()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		// Out of time: drop the connections still open so that Serve's
		// goroutine ends and nothing outlives the farm.
		srv.Close()
	}
	<-done
	if err != nil {
		return fmt.Errorf("shut down feed farm: %w", err)
	}
	return nil
}

// Close stops the server at once, closing every connection. It is a no-op
// when the farm was not started.
func (f *Farm) Close() error {
	srv, done := f.stop()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	if err != nil {
		return fmt.Errorf("close feed farm: %w", err)
	}
	return nil
}

// stop detaches the server and cancels the handlers' waits.
func (f *Farm) stop() (*http.Server, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	srv, done := f.srv, f.serving
	if f.cancel != nil {
		f.cancel()
	}
	f.srv, f.cancel, f.serving = nil, nil, nil
	return srv, done
}
