// Package scheduler decides when each source is fetched: it plans fires
// from cron specs, spreads them by source id, defers them while a source or
// its host asks for a pause, caps how many fetches run at once and never
// runs one source twice at the same time. It also runs housekeeping tasks
// on their own schedules. The fetch itself, and recording its outcome, is
// the caller's Run callback. It is the only importer of robfig/cron, used
// for parsing specs and computing next times only; the timer loop is its
// own so that tests can drive it with testing/synctest.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syndic-dev/syndic/internal/model"
)

// DefaultStartupSpread is how widely stale sources are staggered when they
// are first scheduled, unless Options.StartupSpread says otherwise.
const DefaultStartupSpread = time.Minute

// ReasonUnspecified counts deferrals whose State gave no Reason.
const ReasonUnspecified = "unspecified"

// Errors returned by the Scheduler.
var (
	ErrUnknownSource = errors.New("unknown source")
	ErrRunning       = errors.New("source is already being fetched")
	ErrHostBlocked   = errors.New("host asked to retry later")
	ErrClosed        = errors.New("scheduler is shut down")
	ErrNoRun         = errors.New("scheduler has no Run function")
	ErrAlreadyRun    = errors.New("scheduler is already running")
)

// HostBlockedError reports that a source's host asked for a pause (429 or
// 503 with Retry-After) until Until. It matches ErrHostBlocked.
type HostBlockedError struct {
	Host  string
	Until time.Time
}

func (e *HostBlockedError) Error() string {
	return fmt.Sprintf("host %q asked to retry after %s", e.Host, e.Until.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrHostBlocked) true.
func (e *HostBlockedError) Is(target error) bool { return target == ErrHostBlocked }

// Source is one scheduled source.
type Source struct {
	ID   string
	Spec string // cron spec (see ValidateSpec)
	Host string // key of host-wide deferral (fetcher.Host(url))
}

// State is what the scheduler needs to know about a source's last fetch.
type State struct {
	LastFetch time.Time // zero: never fetched
	// NextFetch is the earliest time the source may be fetched again by a
	// scheduled fire; Reason says why (model.Defer*).
	NextFetch         time.Time
	Reason            string
	ConsecutiveErrors int
}

// Options configure a Scheduler.
type Options struct {
	// Concurrency caps the Run calls in flight; <= 0 means 1.
	Concurrency int
	// Run fetches one source. The scheduler holds a concurrency slot while
	// it runs. ctx is cancelled only when Shutdown runs out of time.
	Run func(ctx context.Context, sourceID string)
	// State is read before each scheduled fire and when a source is added.
	// Nil means every source is stale and never deferred.
	State func(ctx context.Context, sourceID string) (State, error)
	// HostBlockedUntil reports a host-wide deferral (429/503); may be nil.
	HostBlockedUntil func(host string) time.Time
	Logger           *slog.Logger
	// StartupSpread staggers stale sources when they are added: they fire
	// within [0, min(StartupSpread, interval)). Zero means
	// DefaultStartupSpread.
	StartupSpread time.Duration
	// Observer, when set, is told of skips, deferrals and lag as they
	// happen (metrics); Stats has the same as totals.
	Observer Observer
}

// Observer receives scheduling events. Calls must be cheap, safe for
// concurrent use and must not call back into the Scheduler: some are made
// with its lock held.
type Observer interface {
	ObserveSkipped()
	ObserveDeferral(reason string)
	ObserveSchedulerLag(d time.Duration)
}

type nopObserver struct{}

func (nopObserver) ObserveSkipped()                   {}
func (nopObserver) ObserveDeferral(string)            {}
func (nopObserver) ObserveSchedulerLag(time.Duration) {}

// Stats are counters since New.
type Stats struct {
	Sources int   // sources scheduled now
	Fired   int64 // scheduled fires that came due, whatever became of them
	Skipped int64 // fires dropped because the source was still running
	// Deferred counts fires not run because the source or its host asked
	// for a pause, by reason: State.Reason (model.Defer*, or
	// ReasonUnspecified) or model.DeferHostRetryAfter.
	Deferred  map[string]int64
	Ran       int64 // Run calls started, scheduled and triggered
	Triggered int64 // Run calls started by Trigger
	InFlight  int   // Run calls running now
	// LagLast and LagMax measure scheduled runs: actual start minus planned
	// fire time, including the wait for a concurrency slot.
	LagLast time.Duration
	LagMax  time.Duration
}

// Scheduler fires sources and housekeeping tasks. Its methods are safe for
// concurrent use.
type Scheduler struct {
	opts   Options
	log    *slog.Logger
	sem    chan struct{} // one token per Run call in flight
	wake   chan struct{} // the plan changed: the loop recomputes its timer
	stop   chan struct{} // closed by Shutdown
	setMu  sync.Mutex    // serializes SetSources, which reads State unlocked
	runCtx context.Context
	cancel context.CancelFunc // cancels runCtx: Shutdown out of time

	mu      sync.Mutex
	sources map[string]*entry
	tasks   map[string]*task
	busy    map[string]bool // source ids waiting for a slot or running
	stats   Stats
	closed  bool
	looping bool
	active  int           // goroutines started and not yet finished
	idle    chan struct{} // closed when active drops to zero
}

type entry struct {
	src     Source
	sched   cron.Schedule
	nominal time.Time // the cron time the planned fire belongs to
	fire    time.Time // planned fire: nominal plus spread; zero: never
}

type task struct {
	name    string
	sched   cron.Schedule
	fn      func(ctx context.Context)
	next    time.Time
	running bool
}

// New returns a Scheduler with no sources. Start it with Run and stop it
// with Shutdown.
func New(opts Options) *Scheduler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.StartupSpread == 0 {
		opts.StartupSpread = DefaultStartupSpread
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Runs outlive Run's context on purpose: a signal stops the firing, and
	// Shutdown then gives in-flight fetches their grace period.
	runCtx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		opts:    opts,
		log:     log,
		sem:     make(chan struct{}, opts.Concurrency),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		runCtx:  runCtx,
		cancel:  cancel,
		sources: make(map[string]*entry),
		tasks:   make(map[string]*task),
		busy:    make(map[string]bool),
		stats:   Stats{Deferred: make(map[string]int64)},
	}
}

// SetSources replaces the scheduled set: new sources are planned (stale
// ones soon, staggered; fresh ones at their regular fire), sources whose
// spec changed are planned anew, removed ones stop firing (a fetch of one
// already running finishes), and unchanged ones keep their timing. An
// invalid set changes nothing. Plans are made relative to the time of the
// call, so the first call belongs just before or after Run: fires that
// fall due before Run starts all fire at once when it does.
func (s *Scheduler) SetSources(sources []Source) error {
	scheds, err := parseSources(sources)
	if err != nil {
		return err
	}
	s.setMu.Lock()
	defer s.setMu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("set sources: %w", ErrClosed)
	}
	var plan []Source // new or with a changed spec
	for _, src := range sources {
		if e, ok := s.sources[src.ID]; !ok || e.src.Spec != src.Spec {
			plan = append(plan, src)
		}
	}
	s.mu.Unlock()

	// State reads are I/O: done without the lock, which is why SetSources
	// calls are serialized by setMu instead.
	last := make(map[string]time.Time, len(plan))
	for _, src := range plan {
		last[src.ID] = s.lastFetch(src.ID)
	}

	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*entry, len(sources))
	var added, changed int
	for _, src := range sources {
		e, ok := s.sources[src.ID]
		switch {
		case !ok:
			added++
			e = &entry{}
		case e.src.Spec != src.Spec:
			changed++
		default:
			e.src = src // the host may have changed; the timing stays
			next[src.ID] = e
			continue
		}
		e.src, e.sched = src, scheds[src.ID]
		e.nominal, e.fire = startFire(e.sched, src.ID, now, last[src.ID], s.opts.StartupSpread)
		next[src.ID] = e
	}
	removed := len(s.sources) + added - len(next)
	s.sources = next
	s.stats.Sources = len(next)
	s.poke()
	s.log.Info("sources scheduled",
		slog.Int("sources", len(next)), slog.Int("added", added),
		slog.Int("changed", changed), slog.Int("removed", removed))
	return nil
}

// parseSources checks ids and specs, reporting every problem at once.
func parseSources(sources []Source) (map[string]cron.Schedule, error) {
	scheds := make(map[string]cron.Schedule, len(sources))
	var errs []error
	for i, src := range sources {
		if src.ID == "" {
			errs = append(errs, fmt.Errorf("source[%d]: empty id", i))
			continue
		}
		if _, dup := scheds[src.ID]; dup {
			errs = append(errs, fmt.Errorf("source[%d]: duplicate id %q", i, src.ID))
			continue
		}
		sched, err := specParser.Parse(src.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("source %q: invalid cron spec %q: %w", src.ID, src.Spec, err))
			continue
		}
		scheds[src.ID] = sched
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("set sources: %w", err)
	}
	return scheds, nil
}

// lastFetch reads a source's last fetch time; on error the source counts
// as stale, which costs at most one early fetch.
func (s *Scheduler) lastFetch(id string) time.Time {
	if s.opts.State == nil {
		return time.Time{}
	}
	st, err := s.opts.State(s.runCtx, id)
	if err != nil {
		s.log.Error("read source state", slog.String("source", id), slog.Any("error", err))
		return time.Time{}
	}
	return st.LastFetch
}

// AddTask schedules fn on spec (housekeeping: prune, optimize, checkpoint).
// A task never runs concurrently with itself (a fire that finds it running
// is dropped) and does not count against Options.Concurrency.
func (s *Scheduler) AddTask(name, spec string, fn func(ctx context.Context)) error {
	sched, err := specParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("add task %q: invalid cron spec %q: %w", name, spec, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("add task %q: %w", name, ErrClosed)
	}
	if _, dup := s.tasks[name]; dup {
		return fmt.Errorf("add task %q: duplicate name", name)
	}
	s.tasks[name] = &task{name: name, sched: sched, fn: fn, next: sched.Next(time.Now())}
	s.poke()
	return nil
}

// poke tells the loop that the plan changed. Called with mu held.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fires sources and tasks until ctx is done or Shutdown is called, then
// returns nil. It does not wait for runs in flight (Shutdown does); fires
// still waiting for a concurrency slot are dropped.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.opts.Run == nil {
		return ErrNoRun
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.looping:
		s.mu.Unlock()
		return ErrAlreadyRun
	}
	s.looping = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.looping = false
		s.mu.Unlock()
	}()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		next := s.dispatch(ctx, now)
		var due <-chan time.Time
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
			due = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		case <-s.wake:
		case <-due:
		}
	}
}

// dispatch starts every fire due at now, plans the following ones and
// returns the earliest planned time (zero when nothing is planned).
func (s *Scheduler) dispatch(ctx context.Context, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || ctx.Err() != nil {
		return time.Time{}
	}
	var earliest time.Time
	for id, e := range s.sources {
		if !e.fire.IsZero() && !e.fire.After(now) {
			planned := e.fire
			e.nominal, e.fire = nextFire(e.sched, id, e.nominal, now)
			s.stats.Fired++
			if s.busy[id] {
				s.stats.Skipped++
				s.opts.Observer.ObserveSkipped()
				s.log.Debug("skipped", slog.String("source", id), slog.String("reason", "running"))
			} else {
				s.busy[id] = true
				s.goLocked(func() { s.fire(ctx, id, planned) })
			}
		}
		earliest = earlier(earliest, e.fire)
	}
	for _, t := range s.tasks {
		if !t.next.IsZero() && !t.next.After(now) {
			t.next = t.sched.Next(now)
			if t.running {
				s.log.Debug("skipped", slog.String("task", t.name), slog.String("reason", "running"))
			} else {
				t.running = true
				s.goLocked(func() { s.runTask(t) })
			}
		}
		earliest = earlier(earliest, t.next)
	}
	return earliest
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// goLocked starts fn as a goroutine that Shutdown waits for. Called with
// mu held and s.closed false.
func (s *Scheduler) goLocked(fn func()) {
	if s.active == 0 {
		s.idle = make(chan struct{})
	}
	s.active++
	go func() {
		defer s.done()
		fn()
	}()
}

func (s *Scheduler) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.active == 0 {
		close(s.idle)
	}
}

// fire is one scheduled fire of a source: wait for a slot, check for a
// deferral, run. The source is marked busy by the caller.
func (s *Scheduler) fire(ctx context.Context, id string, planned time.Time) {
	defer s.unbusy(id)
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return
	case <-s.stop:
		return
	}
	defer func() { <-s.sem }()

	s.mu.Lock()
	e, ok := s.sources[id]
	var host string
	if ok {
		host = e.src.Host
	}
	s.mu.Unlock()
	if !ok || ctx.Err() != nil {
		return // removed, or the loop stopped, while waiting for the slot
	}
	if reason, until, errs, ok := s.deferral(ctx, id, host); ok {
		s.mu.Lock()
		s.stats.Deferred[reason]++
		s.mu.Unlock()
		s.opts.Observer.ObserveDeferral(reason)
		s.log.Debug("deferred", slog.String("source", id), slog.String("reason", reason),
			slog.Time("until", until), slog.Int("consecutive_errors", errs))
		return
	}
	select {
	case <-ctx.Done():
		return // the loop stopped while the state was read
	case <-s.stop:
		return // Shutdown waits for runs in flight, it starts none
	default:
	}
	s.run(id, planned, false)
}

// deferral reports whether the source or its host asked not to be fetched
// now, why and until when. A failing State read does not hold fetches up:
// it is logged and the fire proceeds.
func (s *Scheduler) deferral(ctx context.Context, id, host string) (reason string, until time.Time, errs int, deferred bool) {
	if s.opts.State != nil {
		st, err := s.opts.State(ctx, id)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log.Error("read source state", slog.String("source", id), slog.Any("error", err))
			}
		case st.NextFetch.After(time.Now()):
			reason = st.Reason
			if reason == "" {
				reason = ReasonUnspecified
			}
			return reason, st.NextFetch, st.ConsecutiveErrors, true
		default:
			errs = st.ConsecutiveErrors
		}
	}
	if until, ok := s.hostBlocked(host); ok {
		return model.DeferHostRetryAfter, until, errs, true
	}
	return "", time.Time{}, errs, false
}

func (s *Scheduler) hostBlocked(host string) (time.Time, bool) {
	if s.opts.HostBlockedUntil == nil {
		return time.Time{}, false
	}
	until := s.opts.HostBlockedUntil(host)
	return until, until.After(time.Now())
}

// run calls Options.Run with a slot held. Lag is measured for scheduled
// fires only: a trigger has no planned time.
func (s *Scheduler) run(id string, planned time.Time, triggered bool) {
	s.mu.Lock()
	s.stats.Ran++
	s.stats.InFlight++
	if triggered {
		s.stats.Triggered++
	} else {
		lag := time.Since(planned)
		s.stats.LagLast = lag
		s.stats.LagMax = max(s.stats.LagMax, lag)
	}
	s.mu.Unlock()
	if !triggered {
		s.opts.Observer.ObserveSchedulerLag(time.Since(planned))
	}
	defer func() {
		s.mu.Lock()
		s.stats.InFlight--
		s.mu.Unlock()
	}()
	s.opts.Run(s.runCtx, id)
}

func (s *Scheduler) unbusy(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, id)
}

func (s *Scheduler) runTask(t *task) {
	defer func() {
		s.mu.Lock()
		t.running = false
		s.mu.Unlock()
	}()
	t.fn(s.runCtx)
}

// Trigger fetches a source now, outside its schedule. It bypasses the
// source's own deferral (cache headers, backoff) but not a host-wide one
// (*HostBlockedError), and never runs a source twice at once (ErrRunning).
// It waits for a concurrency slot as long as ctx allows, starts the fetch
// and returns without waiting for it; Shutdown does.
func (s *Scheduler) Trigger(ctx context.Context, sourceID string) error {
	s.mu.Lock()
	e, ok := s.sources[sourceID]
	var host string
	if ok {
		host = e.src.Host
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("trigger source %q: %w", sourceID, ErrUnknownSource)
	}
	// Checked without the lock: the callback belongs to another package.
	if until, blocked := s.hostBlocked(host); blocked {
		return fmt.Errorf("trigger source %q: %w", sourceID, &HostBlockedError{Host: host, Until: until})
	}

	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("trigger source %q: %w", sourceID, ErrClosed)
	case s.sources[sourceID] == nil:
		s.mu.Unlock()
		return fmt.Errorf("trigger source %q: %w", sourceID, ErrUnknownSource)
	case s.busy[sourceID]:
		s.mu.Unlock()
		return fmt.Errorf("trigger source %q: %w", sourceID, ErrRunning)
	}
	s.busy[sourceID] = true
	s.mu.Unlock()

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		s.unbusy(sourceID)
		return fmt.Errorf("trigger source %q: wait for a fetch slot: %w", sourceID, ctx.Err())
	case <-s.stop:
		s.unbusy(sourceID)
		return fmt.Errorf("trigger source %q: %w", sourceID, ErrClosed)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed { // Shutdown began while we took the slot
		<-s.sem
		delete(s.busy, sourceID)
		return fmt.Errorf("trigger source %q: %w", sourceID, ErrClosed)
	}
	s.goLocked(func() {
		defer s.unbusy(sourceID)
		defer func() { <-s.sem }()
		s.run(sourceID, time.Time{}, true)
	})
	return nil
}

// Shutdown stops firing (Run returns) and waits for the runs and tasks in
// flight. When ctx ends first it cancels their context, waits for them to
// return and returns ctx.Err(). Later calls to SetSources, AddTask, Trigger
// and Run fail with ErrClosed.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	idle := s.idle
	busy := s.active > 0
	s.mu.Unlock()
	defer s.cancel()
	if !busy {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-idle
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Deferred = maps.Clone(s.stats.Deferred)
	return st
}

// Next returns the next planned fire of a source (spread included), and
// false for an unknown source or a spec that never fires again.
func (s *Scheduler) Next(sourceID string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sources[sourceID]
	if !ok || e.fire.IsZero() {
		return time.Time{}, false
	}
	return e.fire, true
}
