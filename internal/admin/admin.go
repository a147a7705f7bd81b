// Package admin serves syndic's JSON admin API under /api/: source status,
// item listing and search, curation (feature, hide), manual refresh and
// config reload. It owns the API's bearer-token check and the slowdown of
// clients that keep presenting wrong tokens. Everything it needs from the
// rest of syndic arrives as functions and a small Store interface in Deps,
// so it imports neither the scheduler nor the configuration.
package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// Store is what the API reads and curates. *store.Store satisfies it.
type Store interface {
	SourceStates(ctx context.Context) ([]model.SourceState, error)
	Items(ctx context.Context, q model.ItemQuery) ([]model.Item, error)
	Item(ctx context.Context, id string) (model.Item, error)
	SetFeatured(ctx context.Context, id string, on bool, now time.Time) error
	SetHidden(ctx context.Context, id string, on bool, now time.Time) error
}

// SourceConfig is the part of a configured source the API may show. It has
// no headers on purpose: they often carry credentials.
type SourceConfig struct {
	ID       string
	URL      string // shown redacted
	Title    string // config override, "" for none
	Tags     []string
	Enabled  bool
	Schedule string // effective cron spec
}

// Errors that Deps.Refresh returns (wrapped) so the API can answer with
// the right status. The caller maps its own errors onto these.
var (
	// ErrUnknownSource: no such source is scheduled (404, or 409 when the
	// configuration has it disabled).
	ErrUnknownSource = errors.New("unknown source")
	// ErrBusy: the source is being fetched right now (409).
	ErrBusy = errors.New("source is already being fetched")
	// ErrDeferred: the source's host asked for a pause (429). An error in
	// the chain with a RetryAfter() time.Time method, such as
	// *DeferredError, sets the Retry-After header.
	ErrDeferred = errors.New("host asked to retry later")
)

// DeferredError says a refresh must wait until Until. It matches
// ErrDeferred and carries the time for the Retry-After header.
type DeferredError struct {
	Until time.Time
}

// Error says until when the host asked to wait.
func (e *DeferredError) Error() string {
	return fmt.Sprintf("host asked to retry after %s", e.Until.UTC().Format(time.RFC3339))
}

// RetryAfter is when the refresh may be tried again.
func (e *DeferredError) RetryAfter() time.Time { return e.Until }

// Is makes errors.Is(err, ErrDeferred) true.
func (e *DeferredError) Is(target error) bool { return target == ErrDeferred }

// Deps are the API's dependencies. Only Store is required; a nil function
// turns the endpoints that need it into a documented error.
type Deps struct {
	Store Store
	// Sources lists the current configuration's sources in config order.
	Sources func() []SourceConfig
	// OutputSources returns the ids of the sources an output selects, and
	// false for an unknown output.
	OutputSources func(outputID string) ([]string, bool)
	// NextFire is the scheduler's next planned fire of a source; nil when
	// nothing is scheduled (serve -no-fetch).
	NextFire func(sourceID string) (time.Time, bool)
	// Refresh starts a fetch of a source now and returns without waiting
	// for it. Its errors wrap ErrUnknownSource, ErrBusy or ErrDeferred.
	// Nil when fetching is off: refresh answers 503 fetch_disabled.
	Refresh func(ctx context.Context, sourceID string) error
	// Reload re-reads the configuration; on an invalid one it returns
	// the problems joined (errors.Join), each listed in the response.
	Reload func(ctx context.Context) error
	// Invalidate drops cached outputs of sources after curation so that
	// feeds show the change at once.
	Invalidate func(sourceIDs ...string)
	// TrustedProxies returns the current server.trusted_proxies: peers
	// whose X-Forwarded-For names the client that wrong tokens are counted
	// against and logged. Nil trusts no proxy.
	TrustedProxies func() []netip.Prefix
	// Token is the admin token. Empty disables the API: every path
	// answers 404 api_disabled.
	Token  []byte
	Logger *slog.Logger // nil discards
	Now    func() time.Time
}

// refreshWait bounds how long a refresh request waits for a free fetch
// slot: the client should hear back rather than hang behind a full
// scheduler.
const refreshWait = 15 * time.Second

// maxBody limits request bodies; no endpoint needs one.
const maxBody = 64 << 10

// api holds the handlers' state.
type api struct {
	d        Deps
	log      *slog.Logger
	now      func() time.Time
	digest   [sha256.Size]byte // of Token
	enabled  bool
	failures *failures
}

// New returns the API handler. Mount it at "/api/" without stripping the
// prefix: it matches full paths.
func New(d Deps) http.Handler {
	a := &api{d: d, log: d.Logger, now: d.Now, enabled: len(d.Token) > 0}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	// Only the digest is kept: the comparison then has a fixed length and
	// the token itself does not linger in this struct.
	a.digest = sha256.Sum256(d.Token)
	a.d.Token = nil
	a.failures = newFailures(a.now)
	return a.logRequests(a.authenticate(a.routes()))
}
