package metrics

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"
)

// scrape GETs /metrics from m's handler over a real loopback server and
// parses the text exposition.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: status %d: %s", resp.StatusCode, body)
	}
	return parse(t, resp.Body)
}

func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(promodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

// sample finds the series of family name whose labels are exactly labels and
// returns its value: the counter or gauge value, or a histogram's count.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, s := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range s.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, labels) {
			continue
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// labelValues lists the values label takes across the series of family name.
func labelValues(fams map[string]*dto.MetricFamily, name, label string) map[string]bool {
	vals := map[string]bool{}
	for _, s := range fams[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				vals[l.GetValue()] = true
			}
		}
	}
	return vals
}

type want struct {
	name   string
	labels map[string]string
	value  float64
}

func check(t *testing.T, fams map[string]*dto.MetricFamily, wants []want) {
	t.Helper()
	for _, w := range wants {
		got, ok := sample(fams, w.name, w.labels)
		if !ok {
			t.Errorf("%s%v: missing", w.name, w.labels)
			continue
		}
		if got != w.value {
			t.Errorf("%s%v = %g, want %g", w.name, w.labels, got, w.value)
		}
	}
}

// l spells a label set briefly in the tables below.
type l = map[string]string

func TestScrapeAfterObservations(t *testing.T) {
	m := New()
	m.SetKnown([]string{"state-dept", "bbc"}, []string{"headlines"})

	m.ObserveFetch("state-dept", "ok", "", 200*time.Millisecond, 1500)
	m.ObserveFetch("state-dept", "not_modified", "", 50*time.Millisecond, 300)
	m.ObserveFetch("state-dept", "not_modified", "", 40*time.Millisecond, 300)
	m.ObserveFetch("bbc", "error", "timeout", 30*time.Second, 0)
	m.ObserveFetch("bbc", "deferred", "", 0, 0)
	m.ObserveItems("state-dept", 3, 1, 2)
	m.ObserveItems("state-dept", 1, 0, 0)
	m.ObserveDeferral("retry-after")
	m.ObserveDeferral("retry-after")
	m.ObserveDeferral("ttl")
	m.ObserveBackoff("bbc")
	m.ObserveSchedulerLag(20 * time.Millisecond)
	m.ObserveSchedulerLag(2 * time.Second)
	m.ObserveSkipped()
	m.ObserveRequest("headlines", "rss", 200)
	m.ObserveRequest("headlines", "rss", 200)
	m.ObserveRequest("headlines", "atom", 304)
	m.ObserveCache("headlines", "rss", true)
	m.ObserveCache("headlines", "rss", false)
	m.ObserveRender("headlines", "rss", 3*time.Millisecond)
	m.SetDatabaseSize(func() (int64, error) { return 4096, nil })
	m.SetSchedulerGauges(func() int { return 5 })

	fams := scrape(t, m)
	check(t, fams, []want{
		{"syndic_fetches_total", l{"source": "state-dept", "result": "ok", "error_class": ""}, 1},
		{"syndic_fetches_total", l{"source": "state-dept", "result": "not_modified", "error_class": ""}, 2},
		{"syndic_fetches_total", l{"source": "bbc", "result": "error", "error_class": "timeout"}, 1},
		{"syndic_fetches_total", l{"source": "bbc", "result": "deferred", "error_class": ""}, 1},
		{"syndic_fetch_duration_seconds", l{"result": "ok"}, 1},
		{"syndic_fetch_duration_seconds", l{"result": "not_modified"}, 2},
		{"syndic_fetch_duration_seconds", l{"result": "error"}, 1},
		{"syndic_fetch_bytes_total", l{"source": "state-dept"}, 2100},
		{"syndic_fetch_bytes_total", l{"source": "bbc"}, 0},
		{"syndic_items_total", l{"source": "state-dept", "kind": "new"}, 4},
		{"syndic_items_total", l{"source": "state-dept", "kind": "updated"}, 1},
		{"syndic_items_total", l{"source": "state-dept", "kind": "duplicate"}, 2},
		{"syndic_deferrals_total", l{"reason": "retry-after"}, 2},
		{"syndic_deferrals_total", l{"reason": "ttl"}, 1},
		{"syndic_deferrals_total", l{"reason": "cache-control"}, 0},
		{"syndic_backoffs_total", l{"source": "bbc"}, 1},
		{"syndic_backoffs_total", l{"source": "state-dept"}, 0},
		{"syndic_scheduler_lag_seconds", l{}, 2},
		{"syndic_scheduler_skipped_total", l{}, 1},
		{"syndic_fetches_in_flight", l{}, 5},
		{"syndic_output_requests_total", l{"output": "headlines", "format": "rss", "status": "200"}, 2},
		{"syndic_output_requests_total", l{"output": "headlines", "format": "atom", "status": "304"}, 1},
		{"syndic_output_cache_total", l{"output": "headlines", "format": "rss", "result": "hit"}, 1},
		{"syndic_output_cache_total", l{"output": "headlines", "format": "rss", "result": "miss"}, 1},
		{"syndic_render_duration_seconds", l{"format": "rss"}, 1},
		{"syndic_database_size_bytes", l{}, 4096},
	})
	if _, ok := sample(fams, "syndic_fetch_duration_seconds", l{"result": "deferred"}); ok {
		t.Error("syndic_fetch_duration_seconds has a deferred series; deferred attempts send no request")
	}

	// Histogram sums are in seconds.
	for _, s := range fams["syndic_scheduler_lag_seconds"].GetMetric() {
		if got, want := s.GetHistogram().GetSampleSum(), 2.02; got != want {
			t.Errorf("syndic_scheduler_lag_seconds_sum = %g, want %g", got, want)
		}
	}
	// The collectors every Go service is expected to have.
	for _, name := range []string{"go_goroutines", "go_build_info", "process_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing from exposition", name)
		}
	}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP text", name)
		}
	}
}

func TestUnknownIDsBecomeOther(t *testing.T) {
	tests := []struct {
		name    string
		observe func(m *Metrics)
		want    want
	}{
		{"fetch unknown source", func(m *Metrics) { m.ObserveFetch("nope", "ok", "", time.Second, 10) },
			want{"syndic_fetches_total", l{"source": "other", "result": "ok", "error_class": ""}, 1}},
		{"bytes unknown source", func(m *Metrics) { m.ObserveFetch("nope", "ok", "", time.Second, 10) },
			want{"syndic_fetch_bytes_total", l{"source": "other"}, 10}},
		{"empty source", func(m *Metrics) { m.ObserveBackoff("") },
			want{"syndic_backoffs_total", l{"source": "other"}, 1}},
		{"items unknown source", func(m *Metrics) { m.ObserveItems("https://evil.example/?x=1", 2, 0, 0) },
			want{"syndic_items_total", l{"source": "other", "kind": "new"}, 2}},
		{"request unknown output", func(m *Metrics) { m.ObserveRequest("../../etc/passwd", "rss", 404) },
			want{"syndic_output_requests_total", l{"output": "other", "format": "rss", "status": "404"}, 1}},
		{"cache unknown output", func(m *Metrics) { m.ObserveCache("x", "json", true) },
			want{"syndic_output_cache_total", l{"output": "other", "format": "json", "result": "hit"}, 1}},
		{"output id used as source", func(m *Metrics) { m.ObserveBackoff("headlines") },
			want{"syndic_backoffs_total", l{"source": "other"}, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.SetKnown([]string{"known"}, []string{"headlines"})
			tt.observe(m)
			check(t, scrape(t, m), []want{tt.want})
		})
	}
}

func TestUnknownBeforeSetKnown(t *testing.T) {
	m := New()
	m.ObserveFetch("state-dept", "ok", "", time.Second, 0)
	check(t, scrape(t, m), []want{
		{"syndic_fetches_total", l{"source": "other", "result": "ok", "error_class": ""}, 1},
	})
}

func TestFixedSets(t *testing.T) {
	tests := []struct {
		name    string
		observe func(m *Metrics)
		want    want
	}{
		{"unknown result", func(m *Metrics) { m.ObserveFetch("a", "exploded", "", time.Second, 0) },
			want{"syndic_fetches_total", l{"source": "a", "result": "other", "error_class": ""}, 1}},
		{"unknown result duration", func(m *Metrics) { m.ObserveFetch("a", "exploded", "", time.Second, 0) },
			want{"syndic_fetch_duration_seconds", l{"result": "other"}, 1}},
		{"cancelled", func(m *Metrics) { m.ObserveFetch("a", "cancelled", "cancelled", time.Second, 0) },
			want{"syndic_fetches_total", l{"source": "a", "result": "cancelled", "error_class": "cancelled"}, 1}},
		{"unknown error class", func(m *Metrics) { m.ObserveFetch("a", "error", "dial tcp 10.0.0.1:443: refused", time.Second, 0) },
			want{"syndic_fetches_total", l{"source": "a", "result": "error", "error_class": "other"}, 1}},
		{"known error class", func(m *Metrics) { m.ObserveFetch("a", "error", "not_a_feed", time.Second, 0) },
			want{"syndic_fetches_total", l{"source": "a", "result": "error", "error_class": "not_a_feed"}, 1}},
		{"unknown format request", func(m *Metrics) { m.ObserveRequest("o", "xml", 200) },
			want{"syndic_output_requests_total", l{"output": "o", "format": "other", "status": "200"}, 1}},
		{"format is case sensitive", func(m *Metrics) { m.ObserveCache("o", "RSS", false) },
			want{"syndic_output_cache_total", l{"output": "o", "format": "other", "result": "miss"}, 1}},
		{"unknown format render", func(m *Metrics) { m.ObserveRender("o", "html", time.Millisecond) },
			want{"syndic_render_duration_seconds", l{"format": "other"}, 1}},
		{"unknown reason", func(m *Metrics) { m.ObserveDeferral("because") },
			want{"syndic_deferrals_total", l{"reason": "other"}, 1}},
		{"empty reason", func(m *Metrics) { m.ObserveDeferral("") },
			want{"syndic_deferrals_total", l{"reason": "unspecified"}, 1}},
		{"host retry-after", func(m *Metrics) { m.ObserveDeferral("host-retry-after") },
			want{"syndic_deferrals_total", l{"reason": "host-retry-after"}, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.SetKnown([]string{"a"}, []string{"o"})
			tt.observe(m)
			check(t, scrape(t, m), []want{tt.want})
		})
	}
}

func TestStatusLabel(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{200, "200"}, {304, "304"}, {400, "400"}, {404, "404"}, {405, "405"}, {500, "500"},
		{206, "2xx"}, {301, "3xx"}, {429, "4xx"}, {503, "5xx"}, {101, "1xx"},
		{0, "other"}, {-1, "other"}, {99, "other"}, {600, "other"}, {999, "other"},
	}
	for _, tt := range tests {
		if got := statusLabel(tt.code); got != tt.want {
			t.Errorf("statusLabel(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestFixedSetsAreBounded(t *testing.T) {
	// Whatever the callers pass, each fixed-set label takes only the
	// documented values.
	m := New()
	m.SetKnown([]string{"a"}, []string{"o"})
	for i := range 50 {
		junk := fmt.Sprintf("junk-%d", i)
		m.ObserveFetch("a", junk, junk, time.Millisecond, 1)
		m.ObserveDeferral(junk)
		m.ObserveRequest("o", junk, 1000+i)
		m.ObserveCache("o", junk, i%2 == 0)
		m.ObserveRender("o", junk, time.Millisecond)
	}
	fams := scrape(t, m)
	tests := []struct {
		name, label string
		allowed     []string
	}{
		{"syndic_fetches_total", "result", []string{"ok", "not_modified", "error", "deferred", "cancelled", "other"}},
		{"syndic_fetches_total", "error_class", []string{"", "other"}},
		{"syndic_deferrals_total", "reason", []string{"retry-after", "host-retry-after", "cache-control", "expires", "ttl", "backoff", "unspecified", "other"}},
		{"syndic_output_requests_total", "format", []string{"other"}},
		{"syndic_output_requests_total", "status", []string{"other"}},
		{"syndic_output_cache_total", "format", []string{"other"}},
		{"syndic_render_duration_seconds", "format", []string{"other"}},
	}
	for _, tt := range tests {
		allowed := map[string]bool{}
		for _, v := range tt.allowed {
			allowed[v] = true
		}
		for v := range labelValues(fams, tt.name, tt.label) {
			if !allowed[v] {
				t.Errorf("%s{%s=%q}: value outside the fixed set", tt.name, tt.label, v)
			}
		}
	}
}

func TestSetKnownReload(t *testing.T) {
	m := New()
	m.SetKnown([]string{"old", "kept"}, []string{"gone", "stays"})
	m.ObserveFetch("old", "ok", "", time.Second, 100)
	m.ObserveFetch("kept", "ok", "", time.Second, 100)
	m.ObserveItems("old", 1, 0, 0)
	m.ObserveBackoff("old")
	m.ObserveFetch("stranger", "ok", "", time.Second, 0)
	m.ObserveRequest("gone", "rss", 200)
	m.ObserveCache("gone", "rss", true)
	m.ObserveRequest("stays", "rss", 200)

	m.SetKnown([]string{"kept", "added"}, []string{"stays"})
	m.ObserveFetch("old", "ok", "", time.Second, 0) // now unknown

	fams := scrape(t, m)
	for _, name := range []string{"syndic_fetches_total", "syndic_fetch_bytes_total", "syndic_items_total", "syndic_backoffs_total"} {
		if labelValues(fams, name, "source")["old"] {
			t.Errorf("%s still has source=\"old\" after it left the config", name)
		}
	}
	for _, name := range []string{"syndic_output_requests_total", "syndic_output_cache_total"} {
		if labelValues(fams, name, "output")["gone"] {
			t.Errorf("%s still has output=\"gone\" after it left the config", name)
		}
	}
	check(t, fams, []want{
		// Kept ids keep counting across the reload.
		{"syndic_fetches_total", l{"source": "kept", "result": "ok", "error_class": ""}, 1},
		{"syndic_fetch_bytes_total", l{"source": "kept"}, 100},
		{"syndic_output_requests_total", l{"output": "stays", "format": "rss", "status": "200"}, 1},
		// "other" survives reloads: it holds the stranger and the removed id.
		{"syndic_fetches_total", l{"source": "other", "result": "ok", "error_class": ""}, 2},
		// New ids start at zero so rate() has a series from the first scrape.
		{"syndic_fetches_total", l{"source": "added", "result": "ok", "error_class": ""}, 0},
		{"syndic_fetches_total", l{"source": "added", "result": "not_modified", "error_class": ""}, 0},
		{"syndic_items_total", l{"source": "added", "kind": "new"}, 0},
		{"syndic_fetch_bytes_total", l{"source": "added"}, 0},
		{"syndic_backoffs_total", l{"source": "added"}, 0},
	})
}

func TestSetKnownSourceNamedOther(t *testing.T) {
	// A config id "other" shares the bucket of unknown ids; a reload that
	// drops it must not delete that bucket.
	m := New()
	m.SetKnown([]string{"other"}, nil)
	m.ObserveBackoff("other")
	m.ObserveBackoff("unknown")
	m.SetKnown(nil, nil)
	check(t, scrape(t, m), []want{
		{"syndic_backoffs_total", l{"source": "other"}, 2},
	})
}

func TestDatabaseSize(t *testing.T) {
	m := New()
	if _, ok := scrape(t, m)["syndic_database_size_bytes"]; ok {
		t.Error("syndic_database_size_bytes exposed before SetDatabaseSize")
	}

	var calls atomic.Int32
	size := int64(1 << 20)
	var sizeErr error
	m.SetDatabaseSize(func() (int64, error) {
		calls.Add(1)
		return size, sizeErr
	})
	if got := calls.Load(); got != 0 {
		t.Errorf("size function called %d times before any scrape, want 0", got)
	}
	check(t, scrape(t, m), []want{{"syndic_database_size_bytes", l{}, 1 << 20}})
	if got := calls.Load(); got != 1 {
		t.Errorf("size function called %d times after one scrape, want 1", got)
	}

	// Read at scrape time, not cached.
	size = 2 << 20
	check(t, scrape(t, m), []want{{"syndic_database_size_bytes", l{}, 2 << 20}})

	// An error drops the metric, not the scrape.
	m.ObserveSkipped()
	sizeErr = errors.New("stat syndic.db: no such file or directory")
	fams := scrape(t, m) // fails the test unless status 200
	if _, ok := fams["syndic_database_size_bytes"]; ok {
		t.Error("syndic_database_size_bytes exposed although the size function failed")
	}
	check(t, fams, []want{
		{"syndic_scheduler_skipped_total", l{}, 1},
		// The handler counts no gathering error: omitting is not failing.
		{"promhttp_metric_handler_errors_total", l{"cause": "gathering"}, 0},
	})

	// A negative size is no size.
	size, sizeErr = -1, nil
	if _, ok := scrape(t, m)["syndic_database_size_bytes"]; ok {
		t.Error("syndic_database_size_bytes exposed for a negative size")
	}

	m.SetDatabaseSize(nil)
	if _, ok := scrape(t, m)["syndic_database_size_bytes"]; ok {
		t.Error("syndic_database_size_bytes exposed after SetDatabaseSize(nil)")
	}
}

func TestStoryIndexGauges(t *testing.T) {
	m := New()
	if _, ok := scrape(t, m)["syndic_story_index_bytes"]; ok {
		t.Error("syndic_story_index_bytes exposed before SetStoryIndex")
	}
	items, bytes := int64(3), int64(4096)
	m.SetStoryIndex(func() (int64, int64) { return items, bytes })
	check(t, scrape(t, m), []want{
		{"syndic_story_index_items", l{}, 3},
		{"syndic_story_index_bytes", l{}, 4096},
	})
	items, bytes = 500000, 65<<20 // read at scrape time
	check(t, scrape(t, m), []want{
		{"syndic_story_index_items", l{}, 500000},
		{"syndic_story_index_bytes", l{}, 65 << 20},
	})
	m.SetStoryIndex(nil)
	fams := scrape(t, m)
	if _, ok := fams["syndic_story_index_items"]; ok {
		t.Error("syndic_story_index_items exposed after SetStoryIndex(nil)")
	}
}

func TestSchedulerGauges(t *testing.T) {
	m := New()
	if _, ok := scrape(t, m)["syndic_fetches_in_flight"]; ok {
		t.Error("syndic_fetches_in_flight exposed before SetSchedulerGauges")
	}
	n := 3
	m.SetSchedulerGauges(func() int { return n })
	check(t, scrape(t, m), []want{{"syndic_fetches_in_flight", l{}, 3}})
	n = 0
	check(t, scrape(t, m), []want{{"syndic_fetches_in_flight", l{}, 0}})
	// A reload installs the new scheduler's function.
	m.SetSchedulerGauges(func() int { return 7 })
	check(t, scrape(t, m), []want{{"syndic_fetches_in_flight", l{}, 7}})
}

func TestNegativeInputsIgnored(t *testing.T) {
	m := New()
	m.SetKnown([]string{"a"}, nil)
	// Counters panic on negative adds; these must not.
	m.ObserveItems("a", -1, -5, 2)
	m.ObserveFetch("a", "ok", "", -time.Second, -10)
	m.ObserveSchedulerLag(-time.Minute)
	fams := scrape(t, m)
	check(t, fams, []want{
		{"syndic_items_total", l{"source": "a", "kind": "new"}, 0},
		{"syndic_items_total", l{"source": "a", "kind": "updated"}, 0},
		{"syndic_items_total", l{"source": "a", "kind": "duplicate"}, 2},
		{"syndic_fetch_bytes_total", l{"source": "a"}, 0},
		{"syndic_scheduler_lag_seconds", l{}, 1},
	})
	for _, name := range []string{"syndic_scheduler_lag_seconds", "syndic_fetch_duration_seconds"} {
		for _, s := range fams[name].GetMetric() {
			if got := s.GetHistogram().GetSampleSum(); got != 0 {
				t.Errorf("%s_sum = %g, want 0 (negative durations count as zero)", name, got)
			}
		}
	}
}

func TestHandlerGzip(t *testing.T) {
	m := New()
	m.ObserveSkipped()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Setting the header ourselves stops the transport from decoding
	// transparently, so the test sees what went over the wire.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if got, want := resp.Header.Get("Content-Encoding"), "gzip"; got != want {
		t.Fatalf("Content-Encoding = %q, want %q", got, want)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("gzip reader: %v", err)
	}
	check(t, parse(t, zr), []want{{"syndic_scheduler_skipped_total", l{}, 1}})
}

func TestInstancesAreIndependent(t *testing.T) {
	// Each Metrics has its own registry: two never collide or share counts.
	a, b := New(), New()
	a.ObserveSkipped()
	check(t, scrape(t, b), []want{{"syndic_scheduler_skipped_total", l{}, 0}})
	check(t, scrape(t, a), []want{{"syndic_scheduler_skipped_total", l{}, 1}})
}

func TestConcurrentObservations(t *testing.T) {
	m := New()
	sources, outputs := []string{"a", "b"}, []string{"o"}
	m.SetKnown(sources, outputs)
	m.SetDatabaseSize(func() (int64, error) { return 1, nil })
	var inFlight atomic.Int64
	m.SetSchedulerGauges(func() int { return int(inFlight.Load()) })
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		src := sources[w%len(sources)]
		wg.Go(func() {
			for i := range rounds {
				inFlight.Add(1)
				m.ObserveFetch(src, "ok", "", time.Millisecond, 10)
				m.ObserveItems(src, 1, 1, 1)
				m.ObserveDeferral("ttl")
				m.ObserveBackoff(src)
				m.ObserveSchedulerLag(time.Millisecond)
				m.ObserveSkipped()
				m.ObserveRequest("o", "rss", 200)
				m.ObserveCache("o", "rss", i%2 == 0)
				m.ObserveRender("o", "rss", time.Millisecond)
				inFlight.Add(-1)
			}
		})
	}
	// Reloads with the same ids and scrapes run alongside the observers.
	wg.Go(func() {
		for range 20 {
			m.SetKnown(sources, outputs)
		}
	})
	wg.Go(func() {
		for range 5 {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Errorf("scrape: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	wg.Wait()

	const perSource = workers / 2 * rounds
	check(t, scrape(t, m), []want{
		{"syndic_fetches_total", l{"source": "a", "result": "ok", "error_class": ""}, perSource},
		{"syndic_fetches_total", l{"source": "b", "result": "ok", "error_class": ""}, perSource},
		{"syndic_fetch_bytes_total", l{"source": "a"}, perSource * 10},
		{"syndic_items_total", l{"source": "b", "kind": "duplicate"}, perSource},
		{"syndic_backoffs_total", l{"source": "a"}, perSource},
		{"syndic_deferrals_total", l{"reason": "ttl"}, workers * rounds},
		{"syndic_scheduler_skipped_total", l{}, workers * rounds},
		{"syndic_scheduler_lag_seconds", l{}, workers * rounds},
		{"syndic_output_requests_total", l{"output": "o", "format": "rss", "status": "200"}, workers * rounds},
		{"syndic_output_cache_total", l{"output": "o", "format": "rss", "result": "hit"}, workers * rounds / 2},
		{"syndic_render_duration_seconds", l{"format": "rss"}, workers * rounds},
		{"syndic_fetches_in_flight", l{}, 0},
	})
}

func BenchmarkObserveFetch(b *testing.B) {
	m := New()
	m.SetKnown([]string{"a"}, nil)
	for b.Loop() {
		m.ObserveFetch("a", "ok", "", time.Millisecond, 100)
	}
}
