package websub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// hub records the publish pings it receives; fail makes it answer 503.
type hub struct {
	srv   *httptest.Server
	mu    sync.Mutex
	pings []string // hub.url of each ping
	fail  bool
	bad   []string // requests that were not well-formed pings
	seen  chan struct{}
}

func newHub(t *testing.T) *hub {
	h := &hub{seen: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { h.seen <- struct{}{} }()
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			r.ParseForm() != nil || r.PostForm.Get("hub.mode") != "publish" || len(r.PostForm["hub.url"]) != 1 ||
			r.Header.Get("User-Agent") != "syndic-test" {
			h.bad = append(h.bad, r.Method+" "+r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if h.fail {
			http.Error(w, "hub is down", http.StatusServiceUnavailable)
			return
		}
		h.pings = append(h.pings, r.PostForm.Get("hub.url"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hub) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pings
	h.pings = nil
	slices.Sort(p)
	return p
}

func (h *hub) setFail(v bool) {
	h.mu.Lock()
	h.fail = v
	h.mu.Unlock()
}

// clock hands Run's waits to the test, which ends each one by hand.
type clock struct {
	waits chan wait
}

type wait struct {
	d  time.Duration
	ch chan time.Time
}

func (c *clock) after(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- wait{d, ch}
	return ch
}

// next returns the wait Run is in, failing if it does not start one.
func (c *clock) next(t *testing.T) wait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start a wait")
		return wait{}
	}
}

// fixture runs a Notifier against hubs with a controllable clock; the
// output "news" has version *ver.
type fixture struct {
	n        *Notifier
	clk      *clock
	mu       sync.Mutex
	ver      map[string]string
	observed []bool
	cancel   context.CancelFunc
	done     chan struct{}
}

func newFixture(t *testing.T, hubs ...*hub) *fixture {
	f := &fixture{clk: &clock{waits: make(chan wait)}, ver: map[string]string{"news": "v1"}, done: make(chan struct{})}
	var urls []string
	for _, h := range hubs {
		urls = append(urls, h.srv.URL+"/hub")
	}
	f.n = New(Options{
		Hubs:  urls,
		Delay: 5 * time.Second,
		Topics: func(id string) []string {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.ver[id]; !ok {
				return nil
			}
			return []string{"https://feeds.example/feeds/" + id + ".atom", "https://feeds.example/feeds/" + id + ".json"}
		},
		Version: func(ctx context.Context, id string) (string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if v := f.ver[id]; v != "broken" {
				return v, nil
			}
			return "", errors.New("store is gone")
		},
		UserAgent: "syndic-test",
		After:     f.clk.after,
		Observe: func(id string, ok bool) {
			f.mu.Lock()
			f.observed = append(f.observed, ok)
			f.mu.Unlock()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() {
		defer close(f.done)
		f.n.Run(ctx)
	}()
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.cancel()
	<-f.done
}

func (f *fixture) set(id, v string) {
	f.mu.Lock()
	f.ver[id] = v
	f.mu.Unlock()
}

// round reports a change, ends the coalescing wait and waits for the
// pings the round sends (want of them).
func (f *fixture) round(t *testing.T, h *hub, want int, ids ...string) {
	t.Helper()
	f.n.Changed(ids...)
	w := f.clk.next(t)
	if w.d != 5*time.Second {
		t.Errorf("coalescing wait %v, want 5s", w.d)
	}
	w.ch <- time.Time{}
	for range want {
		select {
		case <-h.seen:
		case <-time.After(10 * time.Second):
			t.Fatal("the hub was not pinged")
		}
	}
}

var newsTopics = []string{"https://feeds.example/feeds/news.atom", "https://feeds.example/feeds/news.json"}

func TestPingsChangedOutputs(t *testing.T) {
	h := newHub(t)
	f := newFixture(t, h)

	// A change: both feed URLs of the output are announced.
	f.round(t, h, 2, "news")
	if got := h.take(); !slices.Equal(got, newsTopics) {
		t.Fatalf("pings %q, want %q", got, newsTopics)
	}
	// Reported again, same version: nothing is sent. A new version is.
	f.n.Changed("news")
	f.set("news", "v2")
	f.round(t, h, 2, "news")
	if got := h.take(); !slices.Equal(got, newsTopics) {
		t.Errorf("pings after a new version %q, want %q", got, newsTopics)
	}
	f.round(t, h, 0, "news")
	// An unconfigured output and a broken one send nothing.
	f.round(t, h, 0, "gone")
	f.set("news", "broken")
	f.round(t, h, 0, "news")
	f.stop()
	if got := h.take(); len(got) != 0 {
		t.Errorf("pings for unchanged, unknown or broken outputs: %q", got)
	}
	if len(h.bad) != 0 {
		t.Errorf("malformed pings: %q", h.bad)
	}
	if got := f.observed; len(got) != 4 || slices.Contains(got, false) {
		t.Errorf("observed %v, want 4 successes", got)
	}
}

// TestCoalesces: changes reported during the wait make one round.
func TestCoalesces(t *testing.T) {
	h := newHub(t)
	f := newFixture(t, h)
	f.set("other", "v1")
	f.n.Changed("news")
	w := f.clk.next(t)
	f.n.Changed("other", "news")
	f.n.Changed("news")
	w.ch <- time.Time{}
	for range 4 {
		<-h.seen
	}
	want := append(slices.Clone(newsTopics), "https://feeds.example/feeds/other.atom", "https://feeds.example/feeds/other.json")
	slices.Sort(want)
	// The extra wake-up leaves a round with nothing to do.
	f.clk.next(t).ch <- time.Time{}
	f.stop()
	if got := h.take(); !slices.Equal(got, want) {
		t.Errorf("pings %q, want %q", got, want)
	}
}

// TestRetriesFailedHubs: a hub that fails is tried again after a pause
// that doubles, and the output is announced once it answers. Within a
// round, a hub that failed is not tried again: one failed ping a round.
func TestRetriesFailedHubs(t *testing.T) {
	up, down := newHub(t), newHub(t)
	down.setFail(true)
	f := newFixture(t, up, down)
	f.set("other", "v1")

	f.round(t, down, 1, "news", "other")
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute} {
		w := f.clk.next(t) // the retry pause
		if w.d != want {
			t.Errorf("retry pause %v, want %v", w.d, want)
		}
		w.ch <- time.Time{}
		f.clk.next(t).ch <- time.Time{} // the coalescing wait of the retry
		<-down.seen
	}
	down.setFail(false)
	f.clk.next(t).ch <- time.Time{} // third pause
	f.clk.next(t).ch <- time.Time{}
	for range 4 {
		<-down.seen
	}
	f.stop()
	want := append(slices.Clone(newsTopics), "https://feeds.example/feeds/other.atom", "https://feeds.example/feeds/other.json")
	slices.Sort(want)
	if got := down.take(); !slices.Equal(got, want) {
		t.Errorf("the recovered hub got %q, want %q", got, want)
	}
	// The hub that answered from the start is told again on each retry:
	// pings are idempotent, and an output is only done when every hub has
	// heard. Four rounds of two outputs of two feed URLs.
	if got := len(up.take()); got != 16 {
		t.Errorf("the healthy hub got %d pings, want 16", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fails := len(f.observed) - countTrue(f.observed); fails != 3 {
		t.Errorf("observed %d failed pings, want 3 (one a round)", fails)
	}
}

func countTrue(v []bool) int {
	n := 0
	for _, b := range v {
		if b {
			n++
		}
	}
	return n
}

func TestRetryDelay(t *testing.T) {
	for _, tt := range []struct {
		delay    time.Duration
		failures int
		want     time.Duration
	}{
		{10 * time.Second, 1, time.Minute},
		{10 * time.Second, 2, 2 * time.Minute},
		{10 * time.Second, 5, 16 * time.Minute},
		{10 * time.Second, 6, 30 * time.Minute},
		{10 * time.Second, 60, 30 * time.Minute},
		{5 * time.Minute, 1, 5 * time.Minute},
		{-1, 1, time.Minute},
	} {
		if got := retryDelay(tt.delay, tt.failures); got != tt.want {
			t.Errorf("retryDelay(%v, %d) = %v, want %v", tt.delay, tt.failures, got, tt.want)
		}
	}
}

// TestPingError: a refused ping names the status and the hub's words.
func TestPingError(t *testing.T) {
	h := newHub(t)
	h.setFail(true)
	n := New(Options{Hubs: []string{h.srv.URL}, UserAgent: "syndic-test"})
	err := n.ping(context.Background(), h.srv.URL, "https://feeds.example/feeds/news.atom")
	if err == nil || !strings.Contains(err.Error(), "status 503") || !strings.Contains(err.Error(), "hub is down") {
		t.Errorf("ping error = %v, want status 503 and the hub's message", err)
	}
	h.srv.Close()
	if err := n.ping(context.Background(), h.srv.URL, "https://feeds.example/feeds/news.atom"); err == nil || strings.Contains(err.Error(), h.srv.URL) {
		t.Errorf("ping of a closed hub = %v, want an error without the URL (logged beside it)", err)
	}
}
