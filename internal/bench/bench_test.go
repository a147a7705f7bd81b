package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

// TestMain lets the test binary serve as the harness's child, as
// cmd/syndicbench does.
func TestMain(m *testing.M) {
	if mode := os.Getenv(ChildEnv); mode != "" {
		os.Exit(ChildMain(context.Background(), mode, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestRawPass(t *testing.T) {
	farm := feedfarm.New(feedfarm.Options{Sources: 6, Items: 4, Churn: 2})
	if _, err := farm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { farm.Close() })
	urls := make([]string, farm.Sources())
	for i := range urls {
		urls[i] = farm.URL(i)
	}
	dir := t.TempDir()
	opts := RawOptions{URLs: urls, Workers: 3, DBPath: filepath.Join(dir, "raw.db"), StatePath: filepath.Join(dir, "state.json")}
	ctx := context.Background()

	tests := []struct {
		name    string
		advance bool
		want    RawResult
	}{
		{"first ingest", false, RawResult{Fetched: 6, Items: 24, Inserted: 24}},
		{"all-304 re-poll", false, RawResult{NotModified: 6}},
		{"churn poll", true, RawResult{Fetched: 6, Items: 24, Inserted: 12}},
	}
	for _, tt := range tests {
		if tt.advance {
			farm.Advance()
		}
		got, err := RawPass(ctx, opts)
		if err != nil {
			t.Fatalf("%s: RawPass: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: RawPass = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if n, err := countRows(ctx, opts.DBPath, "items"); err != nil || n != 36 {
		t.Errorf("raw items = %d, %v; want 36", n, err)
	}
}

func TestPercentiles(t *testing.T) {
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(100-i) * time.Millisecond
	}
	p50, p99, maxLat := percentiles(lat)
	if p50 != 50*time.Millisecond || p99 != 99*time.Millisecond || maxLat != 100*time.Millisecond {
		t.Errorf("percentiles = %v, %v, %v; want 50ms, 99ms, 100ms", p50, p99, maxLat)
	}
}

// TestMergeLoads: turns of a load add up to one result whose percentiles
// cover every request.
func TestMergeLoads(t *testing.T) {
	run := func(from, to int, status int, elapsed time.Duration) LoadResult {
		var lat []time.Duration
		for i := from; i <= to; i++ {
			lat = append(lat, time.Duration(i)*time.Millisecond)
		}
		r := LoadResult{Requests: len(lat), ByStatus: map[int]int{status: len(lat)}, Elapsed: elapsed, lat: slices.Clone(lat)}
		r.P50, r.P99, r.Max = percentiles(lat)
		return r
	}
	a := run(51, 100, 200, time.Second)
	b := run(1, 50, 304, time.Second)
	b.Errors, b.FirstError = 1, "status 500"
	m := a.Merge(b)
	if m.Requests != 100 || m.Elapsed != 2*time.Second || m.RPS() != 50 || m.Errors != 1 || m.FirstError != "status 500" {
		t.Errorf("merged %+v", m)
	}
	if m.ByStatus[200] != 50 || m.ByStatus[304] != 50 {
		t.Errorf("merged statuses %v", m.ByStatus)
	}
	if m.P50 != 50*time.Millisecond || m.P99 != 99*time.Millisecond || m.Max != 100*time.Millisecond {
		t.Errorf("merged percentiles %v, %v, %v; want 50ms, 99ms, 100ms", m.P50, m.P99, m.Max)
	}
	if a.P50 != 75*time.Millisecond {
		t.Errorf("Merge changed its receiver: p50 %v", a.P50)
	}
}

// TestRunTiny runs the whole harness at a tiny scale against the real
// syndic binary: the raw limits, the three syndic fetch passes with the
// loss check, and the report.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the syndic binary")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Sources: 5, Items: 3, Churn: 2, Rounds: 2, SkipPublish: true, Dir: t.TempDir(), Self: self})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := len(rep.Passes), 9; got != want {
		t.Fatalf("passes = %d, want %d", got, want)
	}
	// Every round of the first ingest starts over: fresh databases and
	// no validators, so that none of them is a re-poll.
	for _, p := range rep.Passes {
		if p.Pass != PassFirst {
			if p.Rounds != nil {
				t.Errorf("%s %s: rounds %+v, want only the first ingest repeated", p.System, p.Pass, p.Rounds)
			}
			continue
		}
		if len(p.Rounds) != 2 {
			t.Fatalf("%s first ingest: %d rounds, want 2", p.System, len(p.Rounds))
		}
		for i, round := range p.Rounds {
			if !strings.Contains(round.Summary, "5 ok, 0 not modified") {
				t.Errorf("%s first ingest, round %d: %q, want every source fetched anew", p.System, i+1, round.Summary)
			}
			if round.Wall < p.Wall {
				t.Errorf("%s first ingest: round %d took %v, less than the %v kept", p.System, i+1, round.Wall, p.Wall)
			}
		}
	}
	wantStored := map[string]int{PassFirst: 15, PassRepoll: 15, PassChurn: 25}
	for _, p := range rep.Passes {
		if p.System != SysSyndic {
			continue
		}
		if p.Check == nil || p.Check.Missing != 0 || p.Check.Extra != 0 {
			t.Errorf("%s: check = %+v, want nothing missing or extra", p.Pass, p.Check)
		}
		if got, want := p.Stored, wantStored[p.Pass]; got != want {
			t.Errorf("%s: stored = %d, want %d", p.Pass, got, want)
		}
		if p.Wall <= 0 || p.MaxRSSKB <= 0 {
			t.Errorf("%s: stats = %+v, want wall and peak RSS measured", p.Pass, p.ProcStats)
		}
		if p.SearchCatchUp == nil || p.SearchCatchUp.Wall <= 0 {
			t.Errorf("%s: search catch-up = %+v, want it timed", p.Pass, p.SearchCatchUp)
		}
	}
	if pending, err := countRows(ctx, filepath.Join(rep.Opts.Dir, "ingest-5x3", "syndic.db"), "search_pending"); err != nil || pending != 0 {
		t.Errorf("%d items wait for the search index after the last catch-up (%v), want none", pending, err)
	}
	var b bytes.Buffer
	rep.Markdown(&b)
	for _, want := range []string{"| 5x3 | syndic fetch | churn poll |", "zero loss at 5x3", "### Targets", "with the search index catch-up after it", "then the search index took in the pass's new items in", "Every first ingest ran 2 rounds", "(the fastest of 2 rounds: "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestPairTiny compares the syndic binary with itself at a tiny scale:
// both ingest every item in every round, into databases of their own, and
// the report gives each round's CPU of both and the ratio.
func TestPairTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the syndic binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin, err := BuildSyndic(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Pair(ctx, Options{Sources: 5, Items: 3, Rounds: 2, Dir: dir, Syndic: bin}, bin)
	if err != nil {
		t.Fatalf("Pair: %v", err)
	}
	if len(rep.Rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(rep.Rounds))
	}
	for i, r := range rep.Rounds {
		for name, p := range map[string]PassResult{"A": r.A, "B": r.B} {
			if p.Check == nil || p.Check.Stored != 15 || p.Check.Missing != 0 || p.CPU <= 0 || p.Wall <= 0 {
				t.Errorf("round %d, %s: %+v (check %+v), want 15 items stored and CPU measured", i+1, name, p.ProcStats, p.Check)
			}
		}
		if r.Ratio() <= 0 {
			t.Errorf("round %d: ratio %v", i+1, r.Ratio())
		}
	}
	for _, f := range []string{"a.db", "b.db"} {
		if n, err := countRows(ctx, filepath.Join(dir, "pair-5x3", f), "items"); err != nil || n != 15 {
			t.Errorf("%s: %d items (%v), want 15: each build writes its own database", f, n, err)
		}
	}
	var b bytes.Buffer
	rep.Markdown(&b)
	for _, want := range []string{"| 1 |", "| 2 |", "CPU B/A over all rounds: ", "Both stored every item in every round"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestFastest: a repeated pass keeps its fastest round, lists every
// round in order, and never lets a faster round hide a loss.
func TestFastest(t *testing.T) {
	round := func(wall time.Duration, missing int) PassResult {
		return PassResult{ProcStats: ProcStats{Wall: wall}, Summary: wall.String(), Check: &Check{Stored: 10 - missing, Expected: 10, Missing: missing}}
	}
	got := fastest([]PassResult{round(3*time.Second, 0), round(time.Second, 0), round(2*time.Second, 1)})
	if got.Wall != time.Second || got.Summary != "1s" {
		t.Errorf("kept %v %q, want the 1s round", got.Wall, got.Summary)
	}
	var walls []time.Duration
	for _, r := range got.Rounds {
		walls = append(walls, r.Wall)
	}
	if want := []time.Duration{3 * time.Second, time.Second, 2 * time.Second}; !slices.Equal(walls, want) {
		t.Errorf("rounds %v, want %v", walls, want)
	}
	if got.Check.Missing != 1 {
		t.Errorf("check %+v, want the round that lost an item", got.Check)
	}
	if one := fastest([]PassResult{round(time.Second, 0)}); one.Rounds != nil {
		t.Errorf("a single round lists rounds %+v, want none", one.Rounds)
	}
}

func TestRefHandler(t *testing.T) {
	h := RefHandler([]byte("<feed/>"), "application/atom+xml", `"x"`)
	tests := []struct {
		inm        string
		wantStatus int
		wantBody   string
	}{
		{"", 200, "<feed/>"},
		{`"x"`, 304, ""},
		{`"y"`, 200, "<feed/>"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("If-None-Match=%s", tt.inm), func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/feeds/all.atom", nil)
			if tt.inm != "" {
				req.Header.Set("If-None-Match", tt.inm)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestFarmChild runs the farm in a child process as the profiler does:
// the configuration it writes points at it, Advance changes its documents
// and Stop ends it.
func TestFarmChild(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg, db := filepath.Join(dir, "farm.toml"), filepath.Join(dir, "farm.db")
	farm, err := StartFarmChild(ctx, self, Options{Sources: 4, Items: 3, Seed: 7, Churn: 2}, cfg, db, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer farm.Stop() //nolint:errcheck // checked below; a second call is a no-op
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(text), "[[source]]"); n != 4 {
		t.Errorf("configuration has %d sources, want 4:\n%s", n, text)
	}
	if !strings.Contains(string(text), farm.base+"/s/3") || !strings.Contains(string(text), db) {
		t.Errorf("configuration does not point at %s and %s:\n%s", farm.base, db, text)
	}
	etag := func() string {
		t.Helper()
		resp, err := http.Get(farm.base + "/s/0")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /s/0: %s", resp.Status)
		}
		return resp.Header.Get("ETag")
	}
	before := etag()
	if err := farm.Advance(ctx); err != nil {
		t.Fatal(err)
	}
	if after := etag(); after == before {
		t.Errorf("ETag %s unchanged after Advance", after)
	}
	if err := farm.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if resp, err := http.Get(farm.base + "/s/0"); err == nil {
		resp.Body.Close()
		t.Errorf("farm still answers after Stop: %s", resp.Status)
	}
}
