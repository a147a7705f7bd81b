// Package ingest takes one source end to end: conditional fetch, parse,
// normalize, deduplicate and store, then records the source's new state in
// the same transaction as its items. It also decides when the source may be
// fetched next (server-requested deferrals and error backoff), so that a
// one-shot `syndic fetch` and the scheduler of `syndic serve` share one
// politeness policy.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/dedup"
	"github.com/syndic-dev/syndic/internal/fetcher"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/parser"
	"github.com/syndic-dev/syndic/internal/store"
)

// Fetcher is the part of *fetcher.Fetcher that ingestion uses.
type Fetcher interface {
	Fetch(ctx context.Context, req fetcher.Request) (*fetcher.Response, error)
	HostBlockedUntil(rawURL string) time.Time
}

// Store is the part of *store.Store that ingestion uses.
type Store interface {
	SourceState(ctx context.Context, id string) (model.SourceState, error)
	SaveFetch(ctx context.Context, u model.FetchUpdate) (model.SaveResult, error)
}

// KnownStore is a Store that can tell which items it holds unchanged, so
// that the parser skips converting them (parser.Options.Known). A feed
// that gains a few items at the top is mostly items seen before.
type KnownStore interface {
	KnownItems(ctx context.Context, sourceID string, keys []string) (map[string]model.KnownItem, error)
}

// Source is what ingestion needs to know about one configured source.
type Source struct {
	ID      string
	URL     string
	Headers map[string]string // secrets: never logged
	Timeout time.Duration     // 0: the fetcher's default
	// Force fetches even while the source's earliest next fetch
	// (Retry-After, cache lifetime, backoff) lies in the future. Host-wide
	// blocks still hold.
	Force bool
	// State is the source's stored state when the caller has read it
	// already (a pass over many sources reads them all in one query);
	// nil makes Run read it.
	State *model.SourceState
}

// Options tune the policy shared by every fetch.
type Options struct {
	MaxItems            int           // items read per document
	DedupWindow         time.Duration // cross-source story window
	RespectCacheHeaders bool          // defer by Cache-Control/Expires/<ttl>
	MaxBackoff          time.Duration // cap for backoff and for any deferral
	BaseBackoff         time.Duration // first error's backoff (default 1m)
	Now                 func() time.Time
	Jitter              func() float64 // in [0,1); default math/rand
	// Parsers bounds the parses running at once; 0 means GOMAXPROCS.
	// A server passes one fewer, so that a core is left for its readers.
	Parsers int
}

// Status values of a Result beyond the model's fetch statuses.
const (
	// StatusDeferred means the fetch did not run: the source or its host
	// asked for time (Retry-After, cache lifetime, error backoff).
	StatusDeferred = "deferred"
)

// Result is what one ingestion did.
type Result struct {
	SourceID  string
	Status    string // model.StatusOK, model.StatusNotModified, model.StatusError, StatusDeferred
	New       int
	Updated   int
	Unchanged int
	Duplicate int
	Skipped   int // items beyond fetch.max_items
	Bytes     int64
	Duration  time.Duration
	ErrClass  string
	Err       error
	NextFetch time.Time
	Reason    string
	// ConsecutiveErrors counts failures since the last success,
	// including this fetch's.
	ConsecutiveErrors int
}

// Ingester runs ingestion for sources. It is safe for concurrent use; the
// store serializes writes.
type Ingester struct {
	fetch Fetcher
	store Store
	opts  Options
	// parsing holds a token per parse running: parsing is CPU-bound,
	// and with more parses than CPUs runnable at once, every other
	// goroutine of the process (the store's writer, HTTP handlers
	// serving outputs) queued behind them for tens of milliseconds.
	parsing chan struct{}
}

// New returns an Ingester.
func New(f Fetcher, st Store, opts Options) *Ingester {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = time.Minute
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 24 * time.Hour
	}
	if opts.Parsers <= 0 {
		opts.Parsers = runtime.GOMAXPROCS(0)
	}
	return &Ingester{fetch: f, store: st, opts: opts, parsing: make(chan struct{}, opts.Parsers)}
}

// Run fetches src once and stores what it found. It never panics on bad
// input; every failure is recorded on the source and returned in the
// Result. A cancelled ctx stores nothing.
func (in *Ingester) Run(ctx context.Context, src Source) (res Result) {
	start := in.opts.Now()
	res.SourceID = src.ID
	defer func() { res.Duration = in.opts.Now().Sub(start) }()

	var state model.SourceState
	var err error
	if src.State != nil {
		state = *src.State
	} else {
		state, err = in.store.SourceState(ctx, src.ID)
	}
	// Items are stored only by a successful fetch, which records
	// LastSuccess: a source without one (never fetched, or only listed by
	// SyncSources) has no items to look up.
	hasItems := err == nil && !state.LastSuccess.IsZero()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		res.Status, res.ErrClass = model.StatusError, model.ErrClassStorage
		res.Err = fmt.Errorf("read state of source %q: %w", src.ID, err)
		return res
	}
	state.SourceID = src.ID
	if state.URL != src.URL {
		// The operator pointed the source elsewhere: validators of the
		// old URL say nothing about the new one.
		state.ETag, state.LastModified = "", ""
		state.RedirectURL = ""
	}
	state.URL = src.URL

	if !src.Force && state.NextFetch.After(start) {
		res.Status = StatusDeferred
		res.NextFetch, res.Reason = state.NextFetch, state.NextFetchReason
		res.ConsecutiveErrors = state.ConsecutiveErrors
		return res
	}
	if until := in.fetch.HostBlockedUntil(src.URL); until.After(start) {
		res.Status = StatusDeferred
		res.NextFetch, res.Reason = until, model.DeferHostRetryAfter
		return res
	}

	resp, ferr := in.fetch.Fetch(ctx, fetcher.Request{
		URL:          src.URL,
		ETag:         state.ETag,
		LastModified: state.LastModified,
		Headers:      src.Headers,
		Timeout:      src.Timeout,
	})
	now := in.opts.Now()
	state.LastFetch = now
	if ferr != nil {
		if ctx.Err() != nil {
			res.Status, res.ErrClass, res.Err = model.StatusError, model.ErrClassCancelled, ctx.Err()
			return res
		}
		var fe *fetcher.Error
		class := model.ErrClassOther
		var retryAfter time.Time
		if errors.As(ferr, &fe) {
			class, retryAfter = fe.Class, fe.RetryAfter
		}
		return in.fail(ctx, res, state, now, class, ferr, retryAfter, nil)
	}
	res.Bytes = resp.WireBytes
	// The last fetch decides: a feed that stopped redirecting clears it.
	state.RedirectURL = resp.PermanentRedirect

	var items []model.Item
	if resp.NotModified {
		res.Status = model.StatusNotModified
	} else {
		select {
		case in.parsing <- struct{}{}:
		case <-ctx.Done():
			res.Status, res.ErrClass, res.Err = model.StatusError, model.ErrClassCancelled, ctx.Err()
			return res
		}
		popts := parser.Options{MaxItems: in.opts.MaxItems, Now: now}
		if ks, ok := in.store.(KnownStore); ok && hasItems {
			popts.Known = func(keys []string) map[string]model.KnownItem {
				known, err := ks.KnownItems(ctx, src.ID, keys)
				if err != nil {
					return nil // convert every item; SaveFetch reports a broken store
				}
				return known
			}
		}
		feed, perr := parser.Parse(resp.Body, resp.ContentType, resp.FinalURL, popts)
		<-in.parsing
		if perr != nil {
			class := model.ErrClassParse
			var nf *parser.NotAFeedError
			var alternates []string
			if errors.As(perr, &nf) {
				class, alternates = model.ErrClassNotAFeed, nf.Alternates
			}
			return in.fail(ctx, res, state, now, class, fmt.Errorf("parse %s: %w", credential.Redact(src.URL), perr), time.Time{}, alternates)
		}
		res.Status = model.StatusOK
		res.Skipped = feed.Skipped
		state.FeedTitle, state.SiteURL = feed.Title, feed.SiteURL
		state.ETag, state.LastModified = resp.ETag, resp.LastModified
		items = feed.Items
		if items == nil {
			items = []model.Item{}
		}
		for i := range items {
			items[i].SourceID = src.ID
			items[i].ID = model.ItemID(src.ID, items[i].Key)
		}
		in.cacheDeferral(&state, resp, now, feed.TTL)
	}
	if resp.NotModified {
		in.cacheDeferral(&state, resp, now, 0)
	}
	state.Status = res.Status
	state.ErrorClass, state.Error = "", ""
	state.ConsecutiveErrors = 0
	state.LastSuccess = now
	state.Alternates = nil

	saved, err := in.store.SaveFetch(ctx, model.FetchUpdate{
		SourceID:     src.ID,
		Now:          now,
		State:        state,
		Items:        items,
		DedupWindow:  in.opts.DedupWindow,
		SameStory:    sameStory,
		MaySameStory: dedup.MaySameStory,
		NeverStored:  !hasItems,
	})
	if err != nil {
		res.Status, res.ErrClass = model.StatusError, model.ErrClassStorage
		if ctx.Err() != nil {
			res.ErrClass = model.ErrClassCancelled
		}
		res.Err = fmt.Errorf("store source %q: %w", src.ID, err)
		return res
	}
	res.New, res.Updated, res.Unchanged, res.Duplicate = saved.New, saved.Updated, saved.Unchanged, saved.Duplicate
	res.NextFetch, res.Reason = state.NextFetch, state.NextFetchReason
	return res
}

// cacheDeferral records how long the server asked us to wait, when the
// operator lets it decide.
func (in *Ingester) cacheDeferral(state *model.SourceState, resp *fetcher.Response, now time.Time, ttl time.Duration) {
	state.NextFetch, state.NextFetchReason = time.Time{}, ""
	if !in.opts.RespectCacheHeaders {
		return
	}
	until, reason := resp.CacheUntil, resp.CacheReason
	if ttl > 0 && now.Add(ttl).After(until) {
		until, reason = now.Add(ttl), model.DeferTTL
	}
	if !until.After(now) {
		return
	}
	if limit := now.Add(in.opts.MaxBackoff); until.After(limit) {
		until = limit
	}
	state.NextFetch, state.NextFetchReason = until, reason
}

// fail records a failed fetch: the error, its class, and when the source
// may be tried again (the later of the server's Retry-After and our own
// backoff). The source is never disabled.
func (in *Ingester) fail(ctx context.Context, res Result, state model.SourceState, now time.Time, class string, cause error, retryAfter time.Time, alternates []string) Result {
	state.Status = model.StatusError
	state.ErrorClass = class
	state.Error = cause.Error()
	state.Alternates = alternates
	state.ConsecutiveErrors++
	state.NextFetch = now.Add(Backoff(state.ConsecutiveErrors, in.opts.BaseBackoff, in.opts.MaxBackoff, in.opts.Jitter()))
	state.NextFetchReason = model.DeferBackoff
	if retryAfter.After(state.NextFetch) {
		if limit := now.Add(in.opts.MaxBackoff); retryAfter.After(limit) {
			retryAfter = limit
		}
		state.NextFetch, state.NextFetchReason = retryAfter, model.DeferRetryAfter
	}
	res.Status, res.ErrClass, res.Err = model.StatusError, class, cause
	res.ConsecutiveErrors = state.ConsecutiveErrors
	res.NextFetch, res.Reason = state.NextFetch, state.NextFetchReason
	if _, err := in.store.SaveFetch(ctx, model.FetchUpdate{SourceID: state.SourceID, Now: now, State: state}); err != nil {
		res.Err = errors.Join(cause, fmt.Errorf("record failure of source %q: %w", state.SourceID, err))
	}
	return res
}

// Backoff is the wait after n consecutive errors: base doubled per error,
// capped at max, minus up to a quarter of it as jitter so that sources that
// failed together do not retry together. jitter is in [0,1).
func Backoff(n int, base, max time.Duration, jitter float64) time.Duration {
	if n < 1 {
		return 0
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d - time.Duration(jitter*float64(d)/4)
}

func sameStory(candidate, item *model.Item) bool {
	return dedup.SameStory(
		dedup.Doc{Title: candidate.Title, Text: candidate.Summary, CanonicalURL: candidate.CanonicalURL},
		dedup.Doc{Title: item.Title, Text: item.Summary, CanonicalURL: item.CanonicalURL},
	)
}
