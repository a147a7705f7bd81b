// Package websub tells WebSub hubs (W3C WebSub, formerly PubSubHubbub) when
// a published output changes, so that readers subscribed through a hub get
// new entries pushed instead of polling for them.
//
// The outputs advertise the hubs themselves (publish adds the links); this
// package sends the publish pings: a POST of
// "hub.mode=publish&hub.url=TOPIC" to every hub for every feed URL of an
// output whose content changed. Changes are coalesced for Options.Delay,
// an output is pinged only when its first page really differs from the
// last one pinged, and failed pings are retried with a growing pause.
package websub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultDelay = 10 * time.Second
	// maxRetryDelay caps the pause before another try at hubs that failed.
	maxRetryDelay = 30 * time.Minute
	pingTimeout   = 30 * time.Second
)

// Options configure a Notifier.
type Options struct {
	// Hubs are the hub URLs pinged; the outputs name the same ones.
	Hubs []string
	// Topics returns the feed URLs of an output (its subscription URLs,
	// one per format); nil or empty skips the output, e.g. one removed by
	// a reload.
	Topics func(outputID string) []string
	// Version returns a value that changes when the output's first page
	// changes, such as its ETag. An error skips the output this round; it
	// is logged.
	Version func(ctx context.Context, outputID string) (string, error)
	// Delay coalesces changes: a round of pings starts this long after
	// the first change that follows the previous round. Zero means
	// DefaultDelay; negative means at once.
	Delay time.Duration
	// Client sends the pings; nil uses a client with a 30 s timeout.
	Client    *http.Client
	UserAgent string
	Logger    *slog.Logger // nil discards
	// After is time.After unless a test injects its own clock.
	After func(time.Duration) <-chan time.Time
	// Observe, when set, is told each ping's outcome (metrics).
	Observe func(outputID string, ok bool)
}

// Notifier pings hubs about changed outputs. Changed may be called from
// any goroutine; Run does the work and returns when its context ends.
type Notifier struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{} // buffered 1: a change is pending
}

// New returns a Notifier; nothing is sent until Run.
func New(opts Options) *Notifier {
	if opts.Delay == 0 {
		opts.Delay = DefaultDelay
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: pingTimeout}
	}
	if opts.After == nil {
		opts.After = time.After
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{opts: opts, log: log, pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Changed marks outputs as possibly changed. It never blocks: it is called
// while the publisher holds its lock.
func (n *Notifier) Changed(outputIDs ...string) {
	if len(outputIDs) == 0 {
		return
	}
	n.mu.Lock()
	for _, id := range outputIDs {
		n.pending[id] = true
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run sends pings until ctx ends. Pings in flight when it ends are
// cancelled; what was pending is dropped (the next start finds every
// output changed and pings again).
func (n *Notifier) Run(ctx context.Context) {
	last := map[string]string{} // output -> version last pinged to every hub
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		}
		if !n.wait(ctx, n.opts.Delay) {
			return
		}
		n.mu.Lock()
		ids := make([]string, 0, len(n.pending))
		for id := range n.pending {
			ids = append(ids, id)
		}
		clear(n.pending)
		n.mu.Unlock()
		slices.Sort(ids)

		var failed []string
		down := map[string]bool{} // hubs that failed this round
		for _, id := range ids {
			if ok := n.round(ctx, id, last, down); !ok {
				failed = append(failed, id)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if len(failed) == 0 {
			failures = 0
			continue
		}
		// Failed outputs wait for the retry pause, then go round again with
		// whatever changed meanwhile.
		failures++
		pause := retryDelay(n.opts.Delay, failures)
		n.log.Warn("websub pings failed; retrying", "outputs", failed, "retry_in_s", int64(pause/time.Second))
		if !n.wait(ctx, pause) {
			return
		}
		n.Changed(failed...)
	}
}

// wait pauses for d, or not at all when d <= 0; false when ctx ended.
func (n *Notifier) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-n.opts.After(d):
		return true
	}
}

// retryDelay doubles the pause with each failed round: 1 minute at least,
// 30 minutes at most.
func retryDelay(delay time.Duration, failures int) time.Duration {
	d := max(delay, time.Minute)
	for range failures - 1 {
		d *= 2
		if d >= maxRetryDelay {
			return maxRetryDelay
		}
	}
	return d
}

// round pings every hub about one output if it changed since the last
// successful round; false when a ping failed and the output must be tried
// again. A hub that failed earlier in the round (down) is not tried again
// until the retry: a hub that hangs costs one timeout a round, not one
// per feed URL.
func (n *Notifier) round(ctx context.Context, id string, last map[string]string, down map[string]bool) bool {
	topics := n.opts.Topics(id)
	if len(topics) == 0 {
		delete(last, id)
		return true
	}
	v, err := n.opts.Version(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("websub: read output", "output", id, "error", err)
		}
		return true // a broken output is not retried until it changes again
	}
	if prev, ok := last[id]; ok && prev == v {
		return true
	}
	ok := true
	for _, hub := range n.opts.Hubs {
		if down[hub] {
			ok = false
			continue
		}
		for _, topic := range topics {
			err := n.ping(ctx, hub, topic)
			if n.opts.Observe != nil && ctx.Err() == nil {
				n.opts.Observe(id, err == nil)
			}
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("websub ping failed", "output", id, "hub", hub, "topic", topic, "error", err)
				}
				ok, down[hub] = false, true
				break
			}
			n.log.Debug("websub ping", "output", id, "hub", hub, "topic", topic)
		}
	}
	if ok {
		last[id] = v
	}
	return ok
}

// ping tells one hub that topic changed.
func (n *Notifier) ping(ctx context.Context, hub, topic string) error {
	return Ping(ctx, n.opts.Client, n.opts.UserAgent, hub, topic)
}

// Ping sends one publish ping: it tells hub that topic (a feed URL)
// changed. A hub answers any 2xx to accept it. The error does not repeat
// the hub's URL; callers log it beside the error.
func Ping(ctx context.Context, client *http.Client, userAgent, hub, topic string) error {
	if client == nil {
		client = &http.Client{Timeout: pingTimeout}
	}
	form := url.Values{"hub.mode": {"publish"}, "hub.url": {topic}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("ping hub: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is logged beside it
		}
		return fmt.Errorf("ping hub: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(body))
		if msg != "" {
			return fmt.Errorf("ping hub: status %d: %.200q", resp.StatusCode, msg)
		}
		return fmt.Errorf("ping hub: status %d", resp.StatusCode)
	}
	return nil
}
