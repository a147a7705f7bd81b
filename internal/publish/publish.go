// Package publish owns syndic's published outputs: it selects stored items for
// each configured output (source and output filters, curation, age, one entry
// per story), renders them as RSS 2.0, Atom 1.0 and JSON Feed 1.1 with RFC
// 5005 paging, sanitizes their HTML, caches every render in memory until the
// output's sources change, and serves them over HTTP with full conditional
// GET support. It is the only importer of gorilla/feeds and bluemonday.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/syndic-dev/syndic/internal/model"
)

// Store is what publishing reads from storage. *store.Store satisfies it.
type Store interface {
	Items(ctx context.Context, q model.ItemQuery) ([]model.Item, error)
	// ItemHeads is Items without content, in any order when q has no
	// Limit; Title and Summary are filled when text is true. An output
	// whose patterns must see every item is selected through it.
	ItemHeads(ctx context.Context, q model.ItemQuery, text bool) ([]model.ItemHead, error)
	// Selection returns what selecting from the items q selects needs
	// when no pattern filters them (see model.Selection), newest items
	// alone in their story included up to that number.
	Selection(ctx context.Context, q model.ItemQuery, newest int) (model.Selection, error)
	// AloneHeads returns the newest n of the items q selects that are
	// alone in their story, newest first.
	AloneHeads(ctx context.Context, q model.ItemQuery, n int) ([]model.ItemHead, error)
	// ItemsByID returns the items with the given ids, content included;
	// ids not stored are absent. A render reads its page through it.
	ItemsByID(ctx context.Context, ids []string) (map[string]model.Item, error)
	// StorySources maps each story id to the ids of every source that
	// carried the story.
	StorySources(ctx context.Context, storyIDs []string) (map[string][]string, error)
	// Versions maps each source id to a number that grows whenever the
	// source's published content changes.
	Versions(ctx context.Context) (map[string]int64, error)
}

// Options configures a Publisher.
type Options struct {
	// BaseURL is the absolute URL the outputs are served under, ending
	// with "/". Self links and feed ids derive from it.
	BaseURL string
	// CacheMaxAge is the Cache-Control max-age sent with every output.
	CacheMaxAge time.Duration
	// Now returns the current time; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger // slog.Default() when nil
	// Observer, when set, is told about requests, cache use and renders
	// (metrics).
	Observer Observer
	// StaleWait bounds how long a request waits for the rebuild of an
	// output that changed since it was last rendered. Past it the request
	// gets that last render (stale-while-revalidate) and the rebuild goes
	// on in the background; requests that arrive while a rebuild runs get
	// the last render at once. An output never rendered is always built
	// before the answer. Zero means DefaultStaleWait. A negative value
	// turns stale answers off: every request waits until its output
	// reflects every change made before it arrived, which is what tests
	// that change and then read need.
	StaleWait time.Duration
	// Hubs are WebSub hubs that the outputs advertise: a rel="hub" link in
	// the first page of every format (and a "hubs" list in JSON Feed), and
	// Link headers beside its rel="self". The websub package pings them.
	Hubs []string
	// Changed, when set, is called with the id of every output that may
	// have changed: invalidated, added or redefined. It is called with the
	// publisher's lock held, so it must not block or call back.
	Changed func(outputIDs ...string)
}

// DefaultStaleWait is the StaleWait of production. It sits below the 25 ms
// p99 that readers must see while ingestion invalidates outputs many times
// a second, yet above the few milliseconds a rebuild of a small or quiet
// output takes, so that there the first reader after a change still gets
// the new content.
const DefaultStaleWait = 20 * time.Millisecond

// Formats served, in the order the index lists them.
const (
	FormatRSS  = "rss"
	FormatAtom = "atom"
	FormatJSON = "json"
)

var formats = []string{FormatRSS, FormatAtom, FormatJSON}

// ErrUnknownOutput is matched (errors.Is) by every *UnknownOutputError.
var ErrUnknownOutput = errors.New("unknown output")

// ErrNoSuchPage reports a page number beyond an output's last page.
var ErrNoSuchPage = errors.New("no such page")

// ErrUnknownFormat reports a format other than "rss", "atom" or "json".
var ErrUnknownFormat = errors.New("unknown format")

// UnknownOutputError reports a request for an output that is not
// configured, and names the ones that are.
type UnknownOutputError struct {
	ID    string
	Known []string
}

func (e *UnknownOutputError) Error() string {
	return fmt.Sprintf("unknown output %q (known: %s)", e.ID, strings.Join(e.Known, ", "))
}

// Is makes errors.Is(err, ErrUnknownOutput) true.
func (e *UnknownOutputError) Is(target error) bool { return target == ErrUnknownOutput }

// Publisher selects, renders and caches the configured outputs. It is safe
// for concurrent use.
type Publisher struct {
	st      Store
	baseURL string
	maxAge  time.Duration
	// cacheControlHeader is the Cache-Control of every feed response.
	cacheControlHeader []string
	now                func() time.Time
	log                *slog.Logger
	policy             *bluemonday.Policy // for republished HTML
	strict             *bluemonday.Policy // strips all markup

	// renderCount counts actual renders (not cache hits); tests read it to
	// prove that unchanged outputs are never rendered twice.
	renderCount atomic.Int64

	// pollMu serializes Poll so two polls never race on lastVersions.
	pollMu       sync.Mutex
	lastVersions map[string]int64 // nil until the first Poll

	obs Observer

	// staleWait is Options.StaleWait resolved; negative: never stale.
	staleWait time.Duration
	hubs      []string
	// hubLinks is the Link header of first pages: the hubs, without self.
	hubLinks []string
	changed  func(outputIDs ...string)
	// timer starts the wait of a request for a rebuild; tests replace it
	// to decide when the wait ends.
	timer func(time.Duration) (<-chan time.Time, func() bool)
	// ctx is the context of background rebuilds; Close cancels it and
	// waits for them (rebuilds).
	ctx      context.Context
	cancel   context.CancelFunc
	rebuilds sync.WaitGroup

	mu      sync.Mutex
	closed  bool           // Close was called: no new background rebuild
	outputs []*outputState // config order
	byID    map[string]*outputState
	// sources is replaced, never modified, so a snapshot of the map may be
	// read without the lock.
	sources map[string]model.SourceInfo
	index   *Rendered // cached HTML index, nil until built
}

// outputState is one output's definition and everything cached for it.
type outputState struct {
	out model.Output
	// build serializes selection and rendering of this output so concurrent
	// first requests render once.
	build sync.Mutex
	// Fields below are guarded by Publisher.mu.
	gen     uint64 // bumped on every invalidation
	sel     *selection
	renders map[renderKey]*Rendered // renders of gen
	// stale holds, per key, the newest render of an earlier generation:
	// what a request gets while the output is rebuilt.
	stale map[renderKey]staleRender
	// rebuild is the background rebuild running, nil when none.
	rebuild *rebuild
}

// staleRender is a render of an output and the generation it shows.
type staleRender struct {
	r   *Rendered
	gen uint64
}

type renderKey struct {
	format string
	page   int
}

// Observer receives what the publisher does. *metrics.Metrics satisfies
// it; calls must be cheap and safe for concurrent use.
type Observer interface {
	ObserveRequest(outputID, format string, status int)
	ObserveCache(outputID, format string, hit bool)
	ObserveRender(outputID, format string, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) ObserveRequest(string, string, int)          {}
func (nopObserver) ObserveCache(string, string, bool)           {}
func (nopObserver) ObserveRender(string, string, time.Duration) {}

// New returns a Publisher reading from st. Call SetConfig before serving.
func New(st Store, opts Options) *Publisher {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	base := opts.BaseURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	obs := opts.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	wait := opts.StaleWait
	if wait == 0 {
		wait = DefaultStaleWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	var hubLinks []string
	for _, h := range opts.Hubs {
		hubLinks = append(hubLinks, "<"+h+`>; rel="hub"`)
	}
	changed := opts.Changed
	if changed == nil {
		changed = func(...string) {}
	}
	return &Publisher{
		obs:                obs,
		staleWait:          wait,
		hubs:               slices.Clone(opts.Hubs),
		hubLinks:           hubLinks,
		changed:            changed,
		timer:              startTimer,
		ctx:                ctx,
		cancel:             cancel,
		st:                 st,
		baseURL:            base,
		maxAge:             opts.CacheMaxAge,
		cacheControlHeader: []string{"public, max-age=" + strconv.FormatInt(int64(opts.CacheMaxAge/time.Second), 10)},
		now:                now,
		log:                log,
		policy:             newPolicy(),
		strict:             strictPolicy(),
		byID:               map[string]*outputState{},
		sources:            map[string]model.SourceInfo{},
	}
}

// SetConfig (re)loads the outputs and the sources they draw from. Cached
// renders survive for outputs whose definition and sources are unchanged.
func (p *Publisher) SetConfig(outputs []model.Output, sources []model.SourceInfo) {
	srcs := make(map[string]model.SourceInfo, len(sources))
	for _, s := range sources {
		srcs[s.ID] = s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Any source's title may appear in "also reported by" notes, so a
	// changed title anywhere invalidates everything.
	titlesChanged := len(srcs) != len(p.sources)
	for id, s := range srcs {
		if old, ok := p.sources[id]; !ok || old.Title != s.Title {
			titlesChanged = true
		}
	}
	next := make([]*outputState, 0, len(outputs))
	byID := make(map[string]*outputState, len(outputs))
	for _, o := range outputs {
		o.SourceIDs = slices.Clone(o.SourceIDs)
		old := p.byID[o.ID]
		if old != nil && !titlesChanged && sameOutput(old.out, o) && sameSources(o.SourceIDs, p.sources, srcs) {
			old.out = o
			next = append(next, old)
			byID[o.ID] = old
			continue
		}
		if old != nil {
			// A render still in flight for the old definition must not be
			// stored.
			old.gen++
			old.sel, old.renders = nil, nil
		}
		st := &outputState{out: o}
		next = append(next, st)
		byID[o.ID] = st
		p.changed(o.ID)
	}
	for id, old := range p.byID {
		if _, ok := byID[id]; !ok {
			old.gen++
			old.sel, old.renders = nil, nil
		}
	}
	p.outputs, p.byID, p.sources = next, byID, srcs
	p.index = nil
}

// Invalidate drops the cached selection and renders of every output that
// selects any of the given sources.
func (p *Publisher) Invalidate(sourceIDs ...string) {
	if len(sourceIDs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.outputs {
		if slices.ContainsFunc(st.out.SourceIDs, func(id string) bool { return slices.Contains(sourceIDs, id) }) {
			p.invalidateLocked(st)
		}
	}
}

// invalidateLocked starts a new generation of the output. Its renders
// become the stale ones that requests get while it is rebuilt.
func (p *Publisher) invalidateLocked(st *outputState) {
	if len(st.renders) > 0 && st.stale == nil {
		st.stale = make(map[renderKey]staleRender, len(st.renders))
	}
	for k, r := range st.renders {
		st.stale[k] = staleRender{r: r, gen: st.gen}
	}
	st.gen++
	st.sel, st.renders = nil, nil
	p.changed(st.out.ID)
}

// Poll compares the store's source versions with the ones seen last and
// invalidates the outputs of sources that changed, so writes by another
// process (such as `syndic feature`) reach the published feeds. The first
// Poll invalidates everything, since renders made before it cannot be
// matched to a version.
func (p *Publisher) Poll(ctx context.Context) error {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	vers, err := p.st.Versions(ctx)
	if err != nil {
		return fmt.Errorf("poll source versions: %w", err)
	}
	if p.lastVersions == nil {
		p.lastVersions = vers
		p.mu.Lock()
		for _, st := range p.outputs {
			p.invalidateLocked(st)
		}
		p.mu.Unlock()
		return nil
	}
	var changed []string
	for id, v := range vers {
		if old, ok := p.lastVersions[id]; !ok || old != v {
			changed = append(changed, id)
		}
	}
	for id := range p.lastVersions {
		if _, ok := vers[id]; !ok {
			changed = append(changed, id)
		}
	}
	p.lastVersions = vers
	if len(changed) > 0 {
		slices.Sort(changed)
		p.log.Debug("sources changed", "sources", changed)
		p.Invalidate(changed...)
	}
	return nil
}

// Outputs returns the configured outputs in configuration order.
func (p *Publisher) Outputs() []model.Output {
	p.mu.Lock()
	defer p.mu.Unlock()
	outs := make([]model.Output, len(p.outputs))
	for i, st := range p.outputs {
		outs[i] = st.out
	}
	return outs
}

// lookup returns the state of an output and the sources snapshot.
func (p *Publisher) lookup(id string) (*outputState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.byID[id]
	if st == nil {
		known := make([]string, len(p.outputs))
		for i, o := range p.outputs {
			known[i] = o.out.ID
		}
		return nil, &UnknownOutputError{ID: id, Known: known}
	}
	return st, nil
}

func sameOutput(a, b model.Output) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Description == b.Description &&
		a.Mode == b.Mode && slices.Equal(a.SourceIDs, b.SourceIDs) &&
		sameRegexps(a.Include, b.Include) && sameRegexps(a.Exclude, b.Exclude) &&
		a.MaxAge == b.MaxAge && a.Limit == b.Limit && a.Curated == b.Curated &&
		a.ShowSourceURLs == b.ShowSourceURLs
}

func sameSources(ids []string, old, cur map[string]model.SourceInfo) bool {
	for _, id := range ids {
		a, aok := old[id]
		b, bok := cur[id]
		if aok != bok || a.Title != b.Title || a.URL != b.URL || a.SiteURL != b.SiteURL ||
			!slices.Equal(a.Tags, b.Tags) || !sameRegexps(a.Include, b.Include) || !sameRegexps(a.Exclude, b.Exclude) {
			return false
		}
	}
	return true
}

func sameRegexps(a, b []*regexp.Regexp) bool {
	return slices.EqualFunc(a, b, func(x, y *regexp.Regexp) bool { return x.String() == y.String() })
}

// sourceTitle names a source for readers: its configured or feed title,
// else its id.
func sourceTitle(srcs map[string]model.SourceInfo, id string) string {
	if s, ok := srcs[id]; ok && strings.TrimSpace(s.Title) != "" {
		return s.Title
	}
	return id
}
