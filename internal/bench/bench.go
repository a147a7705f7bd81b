package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

// Options configure a benchmark run. Zero fields take the defaults of
// cmd/syndicbench.
type Options struct {
	Sources int   // N; default 500
	Items   int   // M, items per feed; default 50
	Churn   int   // K, items added per feed before the churn poll; default 5
	Seed    int64 // the farm's seed; default 1
	Gzip    bool  // the farm gzips responses
	// Latency is added by the farm before every feed response.
	Latency time.Duration
	Workers int // fetch concurrency of every system; default 16
	// Rounds repeats each first ingest this many times, the systems taking
	// turns, each round on fresh databases; the report keeps each
	// system's fastest round and lists the others. Default 1.
	Rounds int

	SkipPublish bool          // skip publishing and readers-during-ingestion
	Duration    time.Duration // of each publishing load; default 5s
	Clients     int           // publishing load connections; default 32
	Readers     int           // readers during ingestion; default 16
	Output      string        // the output id published; default "all"
	// ColdStart, when positive, builds a database of about this many
	// items with `syndic fetch` (and the raw limit at the same scale) and
	// times `syndic serve -no-fetch` to its first served feed.
	ColdStart int

	Dir    string // work directory, required; the databases go here
	Self   string // this program, re-executed for ChildEnv modes; required
	Syndic string // the syndic binary; built into Dir when empty
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Sources, 500)
	def(&o.Items, 50)
	def(&o.Workers, 16)
	def(&o.Rounds, 1)
	def(&o.Clients, 32)
	def(&o.Readers, 16)
	if o.Churn < 0 {
		o.Churn = 0
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Output == "" {
		o.Output = "all"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Systems and passes of the ingestion table.
const (
	SysRaw       = "raw fetch+parse"
	SysRawSQLite = "raw fetch+parse+SQLite"
	SysSyndic    = "syndic fetch"

	PassFirst  = "first ingest"
	PassRepoll = "all-304 re-poll"
	PassChurn  = "churn poll"
)

// PassResult is one system's measurement of one pass.
type PassResult struct {
	System, Pass string
	Scale        string // "500x50"
	ProcStats
	Items   int    // items parsed (raw) or newly stored (syndic)
	Summary string // the system's own account of the pass
	DBBytes int64  // after the pass (syndic: and its search catch-up); 0 when nothing is stored
	Stored  int    // items in the database after the pass
	Check   *Check // syndic only: loss against what the farm published
	// SearchCatchUp is syndic only: the pass leaves its new items for the
	// search index to take in later (serve when idle, or the next search);
	// the harness runs that search right after the pass and times it.
	SearchCatchUp *ProcStats
	// Rounds holds every round of a repeated first ingest
	// (Options.Rounds > 1), in the order they ran; the result is the
	// fastest of them.
	Rounds []Round
}

// Round is one round of a repeated pass.
type Round struct {
	Wall    time.Duration
	Summary string
}

// ItemsPerSec is Items over wall time.
func (p PassResult) ItemsPerSec() float64 {
	if p.Wall <= 0 {
		return 0
	}
	return float64(p.Items) / p.Wall.Seconds()
}

// PublishResult is one publishing load.
type PublishResult struct {
	Server      string // "syndic serve" or "net/http from memory"
	Conditional bool   // If-None-Match sent (304 answers)
	Bytes       int    // body size of a 200
	LoadResult
}

// ReadersResult is the readers-during-ingestion measurement.
type ReadersResult struct {
	Readers      int
	IngestWall   time.Duration // serve start to the last source fetched
	Sources      int           // fetch results logged
	LockedLogged int           // log lines mentioning "database is locked"
	Serve        ProcStats     // the whole serve process
	Check        Check
	LoadResult
}

// ColdStartResult times serve from start to its first served feed.
type ColdStartResult struct {
	Items   int
	DBBytes int64
	Wall    time.Duration
}

// Report is the outcome of Run.
type Report struct {
	Opts    Options
	Machine string
	Started time.Time
	Passes  []PassResult
	Publish []PublishResult
	Readers *ReadersResult
	Cold    []ColdStartResult
	Notes   []string
}

// Run measures everything Options ask for and returns the report. A
// failing measurement ends the run with an error; a missed target does
// not.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if opts.Dir == "" || opts.Self == "" {
		return nil, errors.New("bench: Options.Dir and Options.Self are required")
	}
	r := &Report{Opts: opts, Machine: Machine(), Started: time.Now()}
	if opts.Syndic == "" {
		r.progress("building syndic")
		bin, err := BuildSyndic(ctx, opts.Dir)
		if err != nil {
			return nil, err
		}
		r.Opts.Syndic, opts.Syndic = bin, bin
	}
	if err := r.ingestion(ctx, opts.Sources, opts.Items, true); err != nil {
		return r, err
	}
	if !opts.SkipPublish {
		if err := r.publishing(ctx); err != nil {
			return r, err
		}
		if err := r.readers(ctx); err != nil {
			return r, err
		}
	}
	if opts.ColdStart > 0 {
		if err := r.coldStart(ctx); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (r *Report) progress(format string, args ...any) {
	fmt.Fprintf(r.Opts.Progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (r *Report) newFarm(sources, items int) (*feedfarm.Farm, error) {
	farm := feedfarm.New(feedfarm.Options{
		Sources: sources,
		Items:   items,
		Seed:    r.Opts.Seed,
		Gzip:    r.Opts.Gzip,
		Churn:   r.Opts.Churn,
		Latency: r.Opts.Latency,
	})
	// Rendering is the farm's cost, not the system's: do it up front.
	farm.Prerender()
	if _, err := farm.Start(); err != nil {
		return nil, err
	}
	return farm, nil
}

// scaleDir is the work directory of one farm scale.
func (r *Report) scaleDir(name string) (string, error) {
	dir := filepath.Join(r.Opts.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("make work directory: %w", err)
	}
	return dir, nil
}

// ingestion runs the three passes for the raw limits and syndic fetch
// against one farm, pass by pass, so that the systems compared in a pass
// run minutes apart at most. With all=false (a large scale) only the first
// ingest of raw+SQLite and syndic run.
func (r *Report) ingestion(ctx context.Context, sources, items int, all bool) error {
	scale := fmt.Sprintf("%dx%d", sources, items)
	dir, err := r.scaleDir("ingest-" + scale)
	if err != nil {
		return err
	}
	r.progress("farm %s: rendering and starting", scale)
	farm, err := r.newFarm(sources, items)
	if err != nil {
		return err
	}
	defer farm.Close()
	urls := make([]string, sources)
	for i := range urls {
		urls[i] = farm.URL(i)
	}
	urlFile := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(urlFile, []byte(strings.Join(urls, "\n")), 0o644); err != nil {
		return fmt.Errorf("write urls: %w", err)
	}
	cfg := filepath.Join(dir, "syndic.toml")
	syndicDB := filepath.Join(dir, "syndic.db")
	if err := WriteSyndicConfig(farm, cfg, ConfigOptions{DBPath: syndicDB, Workers: r.Opts.Workers}); err != nil {
		return err
	}
	exp := expected{}
	exp.add(farm)

	passes := []string{PassFirst, PassRepoll, PassChurn}
	if !all {
		passes = passes[:1]
	}
	type rawSys struct{ name, db string }
	raws := []rawSys{{SysRaw, ""}, {SysRawSQLite, filepath.Join(dir, "raw.db")}}
	if !all {
		raws = raws[1:]
	}
	rawState := func(name string) string {
		return filepath.Join(dir, strings.NewReplacer(" ", "_", "+", "_").Replace(name)+".state")
	}
	for _, pass := range passes {
		if pass == PassChurn {
			farm.Advance()
			farm.Prerender()
			exp.add(farm)
		}
		rounds := 1
		if pass == PassFirst {
			rounds = r.Opts.Rounds
		}
		// by system, in the order they run: raws, then syndic
		results := make([][]PassResult, len(raws)+1)
		for round := range rounds {
			if round > 0 {
				// Every round is a first ingest: fresh databases and no
				// validators.
				files := []string{syndicDB, syndicDB + "-wal", syndicDB + "-shm"}
				for _, s := range raws {
					files = append(files, rawState(s.name))
					if s.db != "" {
						files = append(files, s.db, s.db+"-wal", s.db+"-shm")
					}
				}
				for _, f := range files {
					if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("reset for round %d: %w", round+1, err)
					}
				}
			}
			for i, s := range raws {
				r.progress("%s: %s %s%s", scale, s.name, pass, roundNote(round, rounds))
				res, err := r.rawPass(ctx, urlFile, rawState(s.name), s.db)
				if err != nil {
					return err
				}
				res.System, res.Pass, res.Scale = s.name, pass, scale
				results[i] = append(results[i], res)
			}
			r.progress("%s: %s %s%s", scale, SysSyndic, pass, roundNote(round, rounds))
			res, err := r.syndicFetch(ctx, cfg, syndicDB, exp)
			if err != nil {
				return err
			}
			res.Pass, res.Scale = pass, scale
			res.Items = res.Stored - r.lastStored(scale)
			results[len(raws)] = append(results[len(raws)], res)
		}
		for _, rs := range results {
			r.Passes = append(r.Passes, fastest(rs))
		}
	}
	return nil
}

// roundNote labels a round in progress lines when there are several.
func roundNote(round, rounds int) string {
	if rounds <= 1 {
		return ""
	}
	return fmt.Sprintf(" (round %d of %d)", round+1, rounds)
}

// fastest returns the round of rs with the least wall time, with every
// round's wall time in Rounds when there are several. Loss is never
// hidden by a faster round: the check kept is the worst round's.
func fastest(rs []PassResult) PassResult {
	best := rs[0]
	for _, p := range rs[1:] {
		if p.Wall < best.Wall {
			best = p
		}
	}
	if len(rs) == 1 {
		return best
	}
	for _, p := range rs {
		best.Rounds = append(best.Rounds, Round{Wall: p.Wall, Summary: p.Summary})
		if c := p.Check; c != nil && best.Check != nil && c.Missing+c.Extra > best.Check.Missing+best.Check.Extra {
			best.Check = c
		}
	}
	return best
}

// lastStored is the item count after syndic's latest pass at scale.
func (r *Report) lastStored(scale string) int {
	for i := len(r.Passes) - 1; i >= 0; i-- {
		if p := r.Passes[i]; p.System == SysSyndic && p.Scale == scale {
			return p.Stored
		}
	}
	return 0
}

// pass finds a measurement.
func (r *Report) pass(system, pass, scale string) *PassResult {
	for i := range r.Passes {
		if p := &r.Passes[i]; p.System == system && p.Pass == pass && p.Scale == scale {
			return p
		}
	}
	return nil
}

func (r *Report) rawPass(ctx context.Context, urlFile, state, db string) (PassResult, error) {
	args := []string{"-urls", urlFile, "-state", state, "-workers", fmt.Sprint(r.Opts.Workers)}
	if db != "" {
		args = append(args, "-db", db)
	}
	st, out, err := runProc(ctx, []string{ChildEnv + "=raw"}, r.Opts.Self, args...)
	if err != nil {
		return PassResult{}, err
	}
	var rr RawResult
	if err := json.Unmarshal(out, &rr); err != nil {
		return PassResult{}, fmt.Errorf("read raw result %q: %w", out, err)
	}
	res := PassResult{
		ProcStats: st,
		Items:     rr.Items,
		Summary: fmt.Sprintf("%d ok, %d not modified, %d errors; %d items parsed",
			rr.Fetched, rr.NotModified, rr.Errors, rr.Items),
	}
	if rr.FirstError != "" {
		res.Summary += "; first error: " + rr.FirstError
	}
	if db != "" {
		res.Summary += fmt.Sprintf(", %d new", rr.Inserted)
		res.DBBytes = dbBytes(db)
		if res.Stored, err = countRows(ctx, db, "items"); err != nil {
			return PassResult{}, err
		}
	}
	return res, nil
}

var totalLine = regexp.MustCompile(`(?m)^total: .*$`)

func (r *Report) syndicFetch(ctx context.Context, cfg, db string, exp expected) (PassResult, error) {
	// -q: one line per failure and the total, as a cron job would run it.
	st, out, err := runProc(ctx, nil, r.Opts.Syndic, "fetch", "-q", "-config", cfg)
	if err != nil {
		return PassResult{}, err
	}
	check, err := checkSyndicDB(ctx, db, exp)
	if err != nil {
		return PassResult{}, err
	}
	// Any search first indexes whatever waits for the index, so the
	// database is measured with its search index complete.
	search, _, err := runProc(ctx, nil, r.Opts.Syndic, "items", "-q", "catchup", "-limit", "1", "-config", cfg)
	if err != nil {
		return PassResult{}, fmt.Errorf("search after the pass: %w", err)
	}
	return PassResult{
		System:        SysSyndic,
		ProcStats:     st,
		Items:         check.Stored,
		Summary:       strings.TrimPrefix(totalLine.FindString(string(out)), "total: "),
		DBBytes:       dbBytes(db),
		Stored:        check.Stored,
		Check:         &check,
		SearchCatchUp: &search,
	}, nil
}

// publishing serves the ingested database with `syndic serve -no-fetch`
// and the same bytes from a minimal net/http child, and loads both.
// publishSlices is how many turns each publishing load is split into.
const publishSlices = 5

// publishSlice is how long each turn of a publishing load of duration d
// runs.
func publishSlice(d time.Duration) time.Duration {
	return max(d/publishSlices, 100*time.Millisecond)
}

func (r *Report) publishing(ctx context.Context) error {
	scale := fmt.Sprintf("%dx%d", r.Opts.Sources, r.Opts.Items)
	dir := filepath.Join(r.Opts.Dir, "ingest-"+scale)
	cfg := filepath.Join(dir, "syndic.toml")
	r.progress("publishing: starting syndic serve -no-fetch")
	srv, err := startServer(ctx, nil, false, syndicAddr, nil, r.Opts.Syndic, "serve", "-no-fetch", "-config", cfg)
	if err != nil {
		return err
	}
	defer srv.stop() //nolint:errcheck // stopped explicitly below; this is for early returns
	url := "http://" + srv.addr + "/feeds/" + r.Opts.Output + ".atom"
	if _, err := waitOK(ctx, url, 2*time.Minute); err != nil {
		return err
	}
	r.Cold = append(r.Cold, ColdStartResult{Items: r.lastStored(scale), DBBytes: dbBytes(filepath.Join(dir, "syndic.db")), Wall: time.Since(srv.start)})

	body, ctype, etag, err := fetchOnce(ctx, url)
	if err != nil {
		return err
	}
	bodyFile := filepath.Join(dir, "ref-body")
	if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
		return fmt.Errorf("write reference body: %w", err)
	}
	refETag := etag
	if refETag == "" {
		refETag = `"ref"`
		r.Notes = append(r.Notes, "syndic sent no ETag: its If-None-Match rows are omitted")
	}
	ref, err := startServer(ctx, []string{ChildEnv + "=ref"}, true, childAddr, nil, r.Opts.Self,
		"-file", bodyFile, "-type", ctype, "-etag", refETag)
	if err != nil {
		return err
	}
	defer ref.stop() //nolint:errcheck // as above
	refURL := "http://" + ref.addr + "/feeds/" + r.Opts.Output + ".atom"

	type target struct {
		name, url, inm string
		cond           bool
	}
	targets := []target{
		{"syndic serve", url, "", false},
		{"net/http from memory", refURL, "", false},
	}
	if etag != "" {
		targets = append(targets,
			target{"syndic serve", url, etag, true},
			target{"net/http from memory", refURL, refETag, true})
	}
	// Each pair (syndic and the reference, for one kind of request) is
	// measured in turns of Duration/publishSlices each, so that a change
	// in the shared machine's load during the run falls on both alike
	// rather than on whichever ran at that moment.
	warm := max(r.Opts.Duration/5, 200*time.Millisecond)
	slice := publishSlice(r.Opts.Duration)
	for pair := 0; pair < len(targets); pair += 2 {
		ts := targets[pair : pair+2]
		results := make([]LoadResult, len(ts))
		for _, t := range ts {
			Load(ctx, LoadOptions{URL: t.url, Clients: r.Opts.Clients, Duration: warm, IfNoneMatch: t.inm})
		}
		r.progress("publishing: %s and %s in turns, If-None-Match %v, %d clients, %s each",
			ts[0].name, ts[1].name, ts[0].cond, r.Opts.Clients, r.Opts.Duration)
		for i := range publishSlices {
			for j, t := range ts {
				res := Load(ctx, LoadOptions{URL: t.url, Clients: r.Opts.Clients, Duration: slice, IfNoneMatch: t.inm})
				if i == 0 {
					results[j] = res
				} else {
					results[j] = results[j].Merge(res)
				}
			}
		}
		for j, t := range ts {
			r.Publish = append(r.Publish, PublishResult{Server: t.name, Conditional: t.cond, Bytes: len(body), LoadResult: results[j]})
		}
	}
	if _, err := ref.stop(); err != nil {
		return err
	}
	_, err = srv.stop()
	return err
}

// readers starts `syndic serve` with fetching on a fresh database and a
// fresh farm, and reads an output continuously while every source is
// ingested at once.
func (r *Report) readers(ctx context.Context) error {
	scale := fmt.Sprintf("%dx%d", r.Opts.Sources, r.Opts.Items)
	dir, err := r.scaleDir("readers-" + scale)
	if err != nil {
		return err
	}
	farm, err := r.newFarm(r.Opts.Sources, r.Opts.Items)
	if err != nil {
		return err
	}
	defer farm.Close()
	exp := expected{}
	exp.add(farm)
	cfg := filepath.Join(dir, "syndic.toml")
	db := filepath.Join(dir, "syndic.db")
	if err := WriteSyndicConfig(farm, cfg, ConfigOptions{DBPath: db, Workers: r.Opts.Workers, Serve: true}); err != nil {
		return err
	}
	var fetched, locked atomic.Int64
	finished := make(chan struct{})
	n := int64(r.Opts.Sources)
	onLine := func(line string) {
		if strings.Contains(line, "database is locked") || strings.Contains(line, "SQLITE_BUSY") {
			locked.Add(1)
		}
		if strings.Contains(line, "msg=fetched") || strings.Contains(line, `msg="fetch failed"`) ||
			strings.Contains(line, `msg="fetch cancelled"`) {
			if fetched.Add(1) == n {
				close(finished)
			}
		}
	}
	r.progress("readers: syndic serve ingesting %s while %d readers read", scale, r.Opts.Readers)
	srv, err := startServer(ctx, nil, false, syndicAddr, onLine, r.Opts.Syndic, "serve", "-config", cfg)
	if err != nil {
		return err
	}
	defer srv.stop() //nolint:errcheck // stopped explicitly below; this is for early returns
	loadCtx, cancel := context.WithCancel(ctx)
	var ingestWall time.Duration
	go func() {
		defer cancel()
		select {
		case <-finished:
			ingestWall = time.Since(srv.start)
		case <-time.After(15 * time.Minute):
		case <-loadCtx.Done():
		}
	}()
	res := Load(loadCtx, LoadOptions{URL: "http://" + srv.addr + "/feeds/" + r.Opts.Output + ".atom", Clients: r.Opts.Readers})
	<-loadCtx.Done()
	st, err := srv.stop()
	if err != nil {
		return err
	}
	if ingestWall == 0 {
		return fmt.Errorf("readers: only %d of %d sources fetched within 15m", fetched.Load(), n)
	}
	check, err := checkSyndicDB(ctx, db, exp)
	if err != nil {
		return err
	}
	r.Readers = &ReadersResult{
		Readers: r.Opts.Readers, IngestWall: ingestWall, Sources: int(fetched.Load()),
		LockedLogged: int(locked.Load()), Serve: st, Check: check, LoadResult: res,
	}
	return nil
}

// coldStart ingests a large farm (syndic and raw+SQLite first ingest at
// that scale) and times serve's start on the result.
func (r *Report) coldStart(ctx context.Context) error {
	items := r.Opts.Items
	sources := (r.Opts.ColdStart + items - 1) / items
	if err := r.ingestion(ctx, sources, items, false); err != nil {
		return err
	}
	scale := fmt.Sprintf("%dx%d", sources, items)
	dir := filepath.Join(r.Opts.Dir, "ingest-"+scale)
	db := filepath.Join(dir, "syndic.db")
	r.progress("cold start: syndic serve -no-fetch on %d items", r.lastStored(scale))
	srv, err := startServer(ctx, nil, false, syndicAddr, nil, r.Opts.Syndic, "serve", "-no-fetch", "-config", filepath.Join(dir, "syndic.toml"))
	if err != nil {
		return err
	}
	_, err = waitOK(ctx, "http://"+srv.addr+"/feeds/"+r.Opts.Output+".atom", 2*time.Minute)
	wall := time.Since(srv.start)
	if _, serr := srv.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	r.Cold = append(r.Cold, ColdStartResult{Items: r.lastStored(scale), DBBytes: dbBytes(db), Wall: wall})
	return nil
}

// waitOK polls url until it answers 200 and returns how many attempts it
// took.
func waitOK(ctx context.Context, url string, limit time.Duration) (int, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(limit)
	for n := 1; ; n++ {
		status, err := get(ctx, client, url, "")
		if err == nil && status == http.StatusOK {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("wait for 200 from %s: status %d, %v", url, status, err)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func fetchOnce(ctx context.Context, url string) (body []byte, ctype, etag string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", "", err
	}
	// Uncompressed, as the load asks for it, so the ETag is the one the
	// load's If-None-Match must match.
	resp, err := newLoadClient(1).Do(req)
	if err != nil {
		return nil, "", "", fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", "", fmt.Errorf("get %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	return body, resp.Header.Get("Content-Type"), resp.Header.Get("ETag"), nil
}
