package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/syndic-dev/syndic/config"
	"github.com/syndic-dev/syndic/internal/admin"
	"github.com/syndic-dev/syndic/internal/fetcher"
	"github.com/syndic-dev/syndic/internal/httpserver"
	"github.com/syndic-dev/syndic/internal/ingest"
	"github.com/syndic-dev/syndic/internal/metrics"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/publish"
	"github.com/syndic-dev/syndic/internal/scheduler"
	"github.com/syndic-dev/syndic/internal/store"
	"github.com/syndic-dev/syndic/internal/websub"
)

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "serve", "[-config FILE] [-no-fetch | -no-http]", `
Run syndic as a service: every enabled source is fetched on its cron
schedule (spread over the schedule's interval, deferred while the source or
its host asked for time), and the outputs are served over HTTP on
server.listen:

  /feeds/ID.rss, /feeds/ID.atom, /feeds/ID.json   the outputs (?page=N)
  /                                              index with subscribe links
  /healthz, /readyz                              liveness and readiness
  /metrics                                       Prometheus metrics
  /api/...                                       admin API (server.admin_token_file or _env)
  /sources.opml                                  sources as OPML (server.publish_opml = true),
                                                 without those whose URL holds a credential

With server.websub_hubs, every output names those WebSub hubs, and serve
pings them (hub.mode=publish) with an output's feed URLs when its content
changes, server.websub_ping_delay after the change, so that readers get
new entries pushed. Changes to either key need a restart.

SIGHUP, or saving the config file, reloads the configuration: a valid file
is applied without a restart; an invalid one is logged with every error and
the running configuration stays. SIGINT or SIGTERM stops firing, lets
fetches in flight finish for up to server.shutdown_timeout, stops the HTTP
server and closes the database; a second signal exits at once.

While it both fetches and serves HTTP, serve runs twice as many Go
processors as the CPUs it may use, and parses one feed fewer than that CPU
count at once (at least one): readers are answered while ingestion keeps
every core busy. A GOMAXPROCS set in the environment is used as it is.
With 5,000 enabled sources or more it also runs the garbage collector at
GOGC=300 instead of 150: faster ingestion for more memory. A GOGC set in
the environment is used as it is.`)
	noFetch := fs.Bool("no-fetch", false, "serve HTTP only (a publishing replica over the same database)")
	noHTTP := fs.Bool("no-http", false, "run only the scheduler (no HTTP server)")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if *noFetch && *noHTTP {
		return &usageError{msg: "-no-fetch and -no-http together leave nothing to run"}
	}
	cfg, err := loadConfig(env, *fs.config)
	if err != nil {
		return err
	}
	d := &daemon{env: env, noFetch: *noFetch, noHTTP: *noHTTP, log: newLogger(env.Stderr, cfg)}
	d.cfg.Store(cfg)
	if !d.noFetch {
		tuneGC(env, len(cfg.EnabledSources()))
	}
	d.cpus = runtime.GOMAXPROCS(0)
	if !d.noFetch && !d.noHTTP && env.Getenv("GOMAXPROCS") == "" {
		var restore func()
		d.cpus, restore = raiseProcs()
		defer restore()
	}
	return d.run(ctx)
}

// daemon is a running `syndic serve`.
type daemon struct {
	env             *Env
	noFetch, noHTTP bool
	// cpus is GOMAXPROCS as the process started (see raiseProcs).
	cpus int
	log  *slog.Logger
	cfg  atomic.Pointer[config.Config]

	store   *store.Store
	fetcher *fetcher.Fetcher
	// ingest is replaced on reload so that policy keys (fetch.max_items,
	// dedup.window, fetch.respect_cache_headers, fetch.max_backoff) apply
	// without a restart.
	ingest  atomic.Pointer[ingest.Ingester]
	sched   *scheduler.Scheduler
	pub     *publish.Publisher
	websub  *websub.Notifier // nil without server.websub_hubs
	http    *httpserver.Server
	metrics *metrics.Metrics

	reloadMu sync.Mutex
	// schedRunning is true while the scheduler's loop runs (/readyz).
	schedRunning atomic.Bool
}

func (d *daemon) run(ctx context.Context) (err error) {
	cfg := d.cfg.Load()
	d.store, err = openStore(ctx, cfg, d.log, !d.noFetch)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.store.Close(); cerr != nil {
			d.log.Error("close database", "error", cerr)
		} else {
			d.log.Info("database closed")
		}
	}()
	d.metrics = metrics.New()
	d.metrics.SetKnown(sourceIDs(cfg), outputIDs(cfg))
	d.metrics.SetDatabaseSize(func() (int64, error) { return d.store.Size(context.Background()) })
	d.metrics.SetStoryIndex(d.store.StoryIndexSize)
	var changed func(...string)
	if len(cfg.Server.WebSubHubs) > 0 && !d.noHTTP {
		d.websub = d.newWebSub(cfg)
		changed = d.websub.Changed
	}
	if d.pub, err = newPublisher(ctx, cfg, d.store, d.env, d.metrics, changed); err != nil {
		return err
	}
	// Outputs follow changes other processes make (a `syndic fetch` from
	// cron, `syndic feature`); the loop ends with runCtx.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		d.pollOutputs(runCtx)
	}()
	defer bg.Wait()
	defer cancelRun()
	if d.websub != nil {
		// Pings end with runCtx, before the database closes.
		bg.Add(1)
		go func() {
			defer bg.Done()
			d.websub.Run(runCtx)
		}()
	}

	if !d.noFetch {
		if err := d.startScheduler(ctx, cfg); err != nil {
			return err
		}
		// shutdown's sched.Shutdown ends the loop, whatever ended the
		// serve, and waits for the fetches it started.
		d.schedRunning.Store(true)
		bg.Add(1)
		go func() {
			defer bg.Done()
			err := d.sched.Run(runCtx)
			d.schedRunning.Store(false)
			if err != nil {
				d.log.Error("scheduler stopped", "error", err)
			}
		}()
	}
	if !d.noHTTP {
		deps := httpserver.Deps{Feeds: d.pub, Ready: d.ready, Metrics: d.metrics.Handler()}
		if cfg.Server.PublishOPML {
			deps.OPML = d.opmlHandler()
		}
		token, err := adminToken(cfg, d.env.Getenv)
		if err != nil {
			return err
		}
		// The API answers 404 api_disabled without a token, so that a
		// client learns why rather than seeing a bare 404.
		deps.API = d.adminAPI(token)
		d.http = httpserver.New(httpOptions(cfg, d.log), deps)
		if err := d.http.Start(); err != nil {
			return err
		}
		d.log.Info("serving", "addr", d.http.Addr(), "base_url", cfg.Server.BaseURL, "outputs", len(cfg.Outputs))
		if d.env.Serving != nil {
			d.env.Serving(d.http.Addr())
		}
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		d.watchReloads(runCtx)
	}()

	var httpErr <-chan error
	if d.http != nil {
		httpErr = d.http.Done()
	}
	select {
	case <-ctx.Done():
		d.log.Info("shutting down", "reason", context.Cause(ctx))
	case err = <-httpErr:
		d.log.Error("http server failed", "error", err)
	}
	d.shutdown()
	return err
}

// shutdown stops in order: scheduler (waiting for fetches in flight up to
// server.shutdown_timeout, then cancelling them), HTTP server, the
// publisher's background rebuilds, database (closed by run's defer).
func (d *daemon) shutdown() {
	timeout := time.Duration(d.cfg.Load().Server.ShutdownTimeout)
	deadline, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if d.sched != nil {
		if err := d.sched.Shutdown(deadline); err != nil {
			d.log.Warn("fetches cancelled at shutdown timeout", "timeout", timeout.String(), "error", err)
		} else {
			d.log.Info("scheduler stopped")
		}
	}
	if d.http != nil {
		if err := d.http.Shutdown(deadline); err != nil {
			d.log.Warn("http server shutdown", "error", err)
		} else {
			d.log.Info("http server stopped")
		}
	}
	// Requests start the publisher's background rebuilds; with the HTTP
	// server down no more start, and the ones running must end before
	// run's defer closes the database they read.
	d.pub.Close()
}

func (d *daemon) startScheduler(ctx context.Context, cfg *config.Config) error {
	d.fetcher = newFetcher(cfg)
	d.ingest.Store(newIngester(cfg, d.fetcher, d.store, serveParsers(d.cpus)))
	d.sched = scheduler.New(scheduler.Options{
		// fetch.concurrency runs, not twice as many as syndic fetch
		// has: serve also answers readers, and with twice the runs a
		// full-speed ingestion took 3.2 s instead of 3.8 s at 500x50
		// but readers' p99 rose from 20 ms to 26 ms.
		Concurrency:      cfg.Fetch.Concurrency,
		Run:              d.fetchSource,
		State:            d.sourceState,
		HostBlockedUntil: d.fetcher.HostBlockedUntil,
		Logger:           d.log,
		// The scheduler reads zero as its default; "0s" in the config
		// means at once.
		StartupSpread: max(time.Duration(cfg.Fetch.StartupSpread), time.Nanosecond),
		Observer:      d.metrics,
	})
	if err := d.sched.SetSources(schedSources(cfg)); err != nil {
		return fmt.Errorf("schedule sources: %w", err)
	}
	tasks := []struct {
		name, spec string
		fn         func(context.Context)
	}{
		{"prune", cfg.Storage.PruneSchedule, d.prune},
		{"optimize", cfg.Storage.OptimizeSchedule, d.housekeeping("optimize", d.store.Optimize)},
		{"checkpoint", cfg.Storage.CheckpointSchedule, d.housekeeping("checkpoint", d.store.Checkpoint)},
	}
	for _, t := range tasks {
		if err := d.sched.AddTask(t.name, t.spec, t.fn); err != nil {
			return fmt.Errorf("schedule %s: %w", t.name, err)
		}
	}
	d.metrics.SetSchedulerGauges(func() int { return d.sched.Stats().InFlight })
	d.log.Info("scheduler started", "sources", len(cfg.EnabledSources()), "concurrency", cfg.Fetch.Concurrency)
	return nil
}

func schedSources(cfg *config.Config) []scheduler.Source {
	var out []scheduler.Source
	for _, s := range cfg.EnabledSources() {
		out = append(out, scheduler.Source{ID: s.ID, Spec: s.ScheduleSpec(cfg.Fetch.Schedule), Host: s.URL})
	}
	return out
}

// fetchSource is the scheduler's Run: one fetch, logged, and the outputs
// that show the source invalidated when it changed.
func (d *daemon) fetchSource(ctx context.Context, id string) {
	cfg := d.cfg.Load()
	sc, ok := cfg.Source(id)
	if !ok {
		return // removed by a reload while the fire was queued
	}
	src := ingestSource(sc)
	// The scheduler already checked the deferral; checking again here
	// would only race with it.
	src.Force = true
	res := d.ingest.Load().Run(ctx, src)
	d.logResult(res)
	d.observe(res)
	if res.New > 0 || res.Updated > 0 {
		d.pub.Invalidate(id)
	}
}

func (d *daemon) observe(res ingest.Result) {
	result, class := res.Status, ""
	switch {
	case res.ErrClass == model.ErrClassCancelled:
		result = metrics.ResultCancelled
	case res.Status == model.StatusError:
		class = errorClassOf(res)
		if res.Reason == model.DeferBackoff {
			d.metrics.ObserveBackoff(res.SourceID)
		}
	case res.Status == ingest.StatusDeferred:
		result = metrics.ResultDeferred
		d.metrics.ObserveDeferral(res.Reason)
	}
	d.metrics.ObserveFetch(res.SourceID, result, class, res.Duration, res.Bytes)
	d.metrics.ObserveItems(res.SourceID, res.New, res.Updated, res.Duplicate)
}

func sourceIDs(cfg *config.Config) []string {
	ids := make([]string, len(cfg.Sources))
	for i, s := range cfg.Sources {
		ids[i] = s.ID
	}
	return ids
}

func outputIDs(cfg *config.Config) []string {
	ids := make([]string, len(cfg.Outputs))
	for i, o := range cfg.Outputs {
		ids[i] = o.ID
	}
	return ids
}

func (d *daemon) logResult(res ingest.Result) {
	attrs := []any{"source", res.SourceID, "status", res.Status, "new", res.New, "updated", res.Updated,
		"duplicate", res.Duplicate, "duration_ms", res.Duration.Milliseconds()}
	switch res.Status {
	case model.StatusError:
		attrs = append(attrs, "error_class", errorClassOf(res), "error", res.Err)
		if !res.NextFetch.IsZero() {
			attrs = append(attrs, "next_fetch", res.NextFetch.UTC().Format(time.RFC3339), "reason", res.Reason)
		}
		if res.ErrClass == model.ErrClassCancelled {
			d.log.Info("fetch cancelled", attrs...)
			return
		}
		d.log.Warn("fetch failed", attrs...)
	case ingest.StatusDeferred:
		d.log.Info("fetch deferred", "source", res.SourceID, "reason", res.Reason, "until", res.NextFetch.UTC().Format(time.RFC3339))
	default:
		d.log.Info("fetched", attrs...)
	}
}

func (d *daemon) sourceState(ctx context.Context, id string) (scheduler.State, error) {
	s, err := d.store.SourceState(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return scheduler.State{}, nil
	}
	if err != nil {
		return scheduler.State{}, err
	}
	st := scheduler.State{LastFetch: s.LastFetch, NextFetch: s.NextFetch, Reason: s.NextFetchReason, ConsecutiveErrors: s.ConsecutiveErrors}
	return st, nil
}

func (d *daemon) prune(ctx context.Context) {
	start := time.Now()
	res, err := d.store.Prune(ctx, prunePolicy(d.cfg.Load(), start, false))
	if err != nil {
		d.log.Error("prune failed", "error", err)
		return
	}
	if res.Removed > 0 {
		d.pub.Invalidate(sortedKeys(res.BySource)...)
	}
	d.log.Info("pruned", "items", res.Removed, "orphaned", res.Orphaned, "duration_ms", time.Since(start).Milliseconds())
}

func (d *daemon) housekeeping(name string, fn func(context.Context) error) func(context.Context) {
	return func(ctx context.Context) {
		start := time.Now()
		if err := fn(ctx); err != nil {
			d.log.Error(name+" failed", "error", err)
			return
		}
		d.log.Debug(name+" done", "duration_ms", time.Since(start).Milliseconds())
	}
}

func (d *daemon) ready(ctx context.Context) error {
	if err := d.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	v, err := d.store.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("database schema: %w", err)
	}
	if v != store.LatestSchemaVersion() {
		return fmt.Errorf("database schema version %d, want %d", v, store.LatestSchemaVersion())
	}
	if !d.noFetch && !d.schedRunning.Load() {
		return errors.New("scheduler not running")
	}
	return nil
}

func (d *daemon) pollOutputs(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.pub.Poll(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("poll outputs for changes", "error", err)
			}
		}
	}
}

// watchReloads reloads on SIGHUP and when the config file changes. Editors
// replace files in several steps, so file events are debounced.
func (d *daemon) watchReloads(ctx context.Context) {
	hup := d.env.Signals
	if hup == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		hup = ch
	}
	path := d.cfg.Load().Path
	var events <-chan fsnotify.Event
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		// Watch the directory: editors that save by rename replace the
		// file's inode, which a watch on the file itself would lose.
		if err := w.Add(filepath.Dir(path)); err != nil {
			d.log.Warn("watch config for changes; reload with SIGHUP instead", "path", path, "error", err)
		} else {
			events = w.Events
		}
	} else {
		d.log.Warn("watch config for changes; reload with SIGHUP instead", "error", err)
	}
	var debounce <-chan time.Time
	abs, _ := filepath.Abs(path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.reload(ctx, "sighup")
		case ev := <-events:
			if p, _ := filepath.Abs(ev.Name); p == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				debounce = time.After(300 * time.Millisecond)
			}
		case <-debounce:
			debounce = nil
			d.reload(ctx, "file_changed")
		}
	}
}

// Reload applies the configuration file again; an invalid file is
// reported with every error and the running configuration stays. It
// returns the load error, if any.
func (d *daemon) reload(ctx context.Context, trigger string) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	old := d.cfg.Load()
	cfg, err := config.Load(old.Path)
	if err != nil {
		errs := flattenErrors(err)
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		d.log.Error("reload rejected: keeping the running configuration", "trigger", trigger, "path", old.Path, "errors", msgs)
		return err
	}
	for _, change := range restartOnly(old, cfg) {
		d.log.Warn("reload: change needs a restart to take effect", "key", change)
	}
	if !d.noFetch {
		if err := syncSources(ctx, d.store, cfg); err != nil {
			d.log.Error("reload rejected", "trigger", trigger, "error", err)
			return err
		}
	}
	infos, err := sourceInfos(ctx, cfg, d.store)
	if err != nil {
		d.log.Error("reload rejected", "trigger", trigger, "error", err)
		return err
	}
	d.cfg.Store(cfg)
	if !d.noFetch {
		tuneGC(d.env, len(cfg.EnabledSources()))
	}
	if d.sched != nil {
		d.ingest.Store(newIngester(cfg, d.fetcher, d.store, serveParsers(d.cpus)))
		if err := d.sched.SetSources(schedSources(cfg)); err != nil {
			d.log.Error("reload: reschedule sources", "error", err)
		}
	}
	d.pub.SetConfig(outputs(cfg), infos)
	d.metrics.SetKnown(sourceIDs(cfg), outputIDs(cfg))
	d.log.Info("config reloaded", "trigger", trigger, "path", cfg.Path, "sources", len(cfg.Sources), "outputs", len(cfg.Outputs))
	return nil
}

// restartOnly lists changed keys that a reload cannot apply.
func restartOnly(a, b *config.Config) []string {
	var out []string
	check := func(key string, changed bool) {
		if changed {
			out = append(out, key)
		}
	}
	check("server.listen", a.Server.Listen != b.Server.Listen)
	check("storage.path", a.StoragePath() != b.StoragePath())
	check("fetch.concurrency", a.Fetch.Concurrency != b.Fetch.Concurrency)
	check("fetch.per_host", a.Fetch.PerHost != b.Fetch.PerHost)
	check("fetch.host_interval", a.Fetch.HostInterval != b.Fetch.HostInterval)
	check("fetch.timeout", a.Fetch.Timeout != b.Fetch.Timeout)
	check("fetch.max_body", a.Fetch.MaxBody != b.Fetch.MaxBody)
	check("fetch.user_agent", a.Fetch.UserAgent != b.Fetch.UserAgent)
	check("log", a.Log != b.Log)
	check("storage.*_schedule", a.Storage.PruneSchedule != b.Storage.PruneSchedule ||
		a.Storage.OptimizeSchedule != b.Storage.OptimizeSchedule || a.Storage.CheckpointSchedule != b.Storage.CheckpointSchedule)
	check("server timeouts", a.Server.ReadTimeout != b.Server.ReadTimeout || a.Server.WriteTimeout != b.Server.WriteTimeout)
	check("server.websub_hubs", !slices.Equal(a.Server.WebSubHubs, b.Server.WebSubHubs))
	check("server.websub_ping_delay", a.Server.WebSubPingDelay != b.Server.WebSubPingDelay)
	return out
}

// newWebSub pings cfg's WebSub hubs when an output changes. It reads the
// publisher when it runs, after run has built it.
func (d *daemon) newWebSub(cfg *config.Config) *websub.Notifier {
	delay := time.Duration(cfg.Server.WebSubPingDelay)
	if delay == 0 {
		delay = -1 // "0s": at once
	}
	return websub.New(websub.Options{
		Hubs:  cfg.Server.WebSubHubs,
		Delay: delay,
		Topics: func(outputID string) []string {
			return d.pub.FeedURLs(outputID)
		},
		Version: func(ctx context.Context, outputID string) (string, error) {
			r, err := d.pub.Fresh(ctx, outputID, publish.FormatAtom)
			if err != nil {
				return "", err
			}
			return r.ETag, nil
		},
		UserAgent: cfg.UserAgent(Version()),
		Logger:    d.log,
		Observe:   d.metrics.ObserveWebSubPing,
	})
}

func httpOptions(cfg *config.Config, logger *slog.Logger) httpserver.Options {
	s := cfg.Server
	return httpserver.Options{
		Listen:            s.Listen,
		ReadHeaderTimeout: time.Duration(s.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(s.ReadTimeout),
		WriteTimeout:      time.Duration(s.WriteTimeout),
		IdleTimeout:       time.Duration(s.IdleTimeout),
		MaxHeaderBytes:    int(s.MaxHeaderBytes),
		Logger:            logger,
	}
}

// adminToken reads the admin API token from server.admin_token_file or the
// variable named by server.admin_token_env. No configured source means the
// API is off (nil token); a configured but empty one is an error.
func adminToken(cfg *config.Config, getenv func(string) string) ([]byte, error) {
	s := cfg.Server
	switch {
	case s.AdminTokenFile != "":
		b, err := os.ReadFile(s.AdminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("read server.admin_token_file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("server.admin_token_file %s is empty", s.AdminTokenFile)
		}
		return []byte(tok), nil
	case s.AdminTokenEnv != "":
		tok := strings.TrimSpace(getenv(s.AdminTokenEnv))
		if tok == "" {
			return nil, fmt.Errorf("server.admin_token_env names $%s, which is empty or unset", s.AdminTokenEnv)
		}
		return []byte(tok), nil
	}
	return nil, nil
}

// adminAPI builds the /api/ handler over the daemon's parts.
func (d *daemon) adminAPI(token []byte) http.Handler {
	deps := admin.Deps{
		Store:  d.store,
		Token:  token,
		Logger: d.log,
		TrustedProxies: func() []netip.Prefix {
			return d.cfg.Load().Server.TrustedProxyPrefixes()
		},
		Sources: func() []admin.SourceConfig {
			cfg := d.cfg.Load()
			out := make([]admin.SourceConfig, len(cfg.Sources))
			for i, s := range cfg.Sources {
				out[i] = admin.SourceConfig{ID: s.ID, URL: s.URL, Title: s.Title, Tags: s.Tags, Enabled: s.Enabled, Schedule: s.ScheduleSpec(cfg.Fetch.Schedule)}
			}
			return out
		},
		OutputSources: func(id string) ([]string, bool) {
			cfg := d.cfg.Load()
			o, ok := cfg.Output(id)
			if !ok {
				return nil, false
			}
			return cfg.OutputSources(o), true
		},
		Reload:     func(ctx context.Context) error { return d.reload(ctx, "api") },
		Invalidate: d.pub.Invalidate,
	}
	if d.sched != nil {
		deps.NextFire = d.sched.Next
		deps.Refresh = func(ctx context.Context, id string) error {
			err := d.sched.Trigger(ctx, id)
			var hb *scheduler.HostBlockedError
			switch {
			case errors.Is(err, scheduler.ErrUnknownSource):
				return fmt.Errorf("%w: %w", admin.ErrUnknownSource, err)
			case errors.Is(err, scheduler.ErrRunning):
				return fmt.Errorf("%w: %w", admin.ErrBusy, err)
			case errors.As(err, &hb):
				return &admin.DeferredError{Until: hb.Until}
			}
			return err
		}
	}
	return admin.New(deps)
}

// serveParsers is how many parses serve runs at once: one fewer than the
// cores it may use (cpus, GOMAXPROCS as the process started), at least
// one, so that readers of the outputs find a core while ingestion runs at
// full speed.
func serveParsers(cpus int) int {
	return max(1, cpus-1)
}

// procs counts the serves running in this process (tests run several) that
// raised GOMAXPROCS, and what it was before the first.
var procs struct {
	sync.Mutex
	users int
	saved int
}

// serveProcsFactor is how many Go processors serve runs per core.
const serveProcsFactor = 2

// raiseProcs sets GOMAXPROCS to serveProcsFactor times its value while
// serve both fetches and serves HTTP, and returns that value and the
// function that restores it. Go runs a ready goroutine only when a
// processor (P) is free, and ingestion keeps every P busy; a reader's
// request then waited for a running parse or write to be preempted, up to
// 10 ms at a time. With twice as many Ps as cores, a request finds an idle
// P at once and the kernel shares the cores between its thread and
// ingestion's. Measured with the harness's readers on 2 cores: p99 27.8 ms
// with 2 Ps, 20.0 ms with 3, 13.0 ms with 4 (README, Performance). An
// operator's GOMAXPROCS is left alone. Setting GOMAXPROCS ends Go's own
// updates of it when a container's CPU limit changes: serve keeps the
// limit it started with.
func raiseProcs() (cpus int, restore func()) {
	procs.Lock()
	defer procs.Unlock()
	if procs.users == 0 {
		procs.saved = runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(serveProcsFactor * procs.saved)
	}
	procs.users++
	return procs.saved, func() {
		procs.Lock()
		defer procs.Unlock()
		if procs.users--; procs.users == 0 {
			runtime.GOMAXPROCS(procs.saved)
		}
	}
}
