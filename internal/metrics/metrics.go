package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syndic-dev/syndic/internal/model"
)

// Other is the label value recorded for an id that is not in the config and
// for a value outside its fixed set.
const Other = "other"

// Fetch results accepted by [Metrics.ObserveFetch]; ok, not_modified and
// error are the model.Status* values.
const (
	ResultDeferred  = "deferred"  // not fetched: a server or politeness rule said wait
	ResultCancelled = "cancelled" // the fetch was abandoned (shutdown, reload)
)

// DeferUnspecified is the deferral reason recorded when the caller gives none.
const DeferUnspecified = "unspecified"

// Item kinds, the values of the kind label of syndic_items_total.
const (
	KindNew       = "new"       // stored for the first time
	KindUpdated   = "updated"   // already stored, content changed
	KindDuplicate = "duplicate" // the same story was already stored
)

// Metrics records syndic's operational metrics in a registry of its own and
// serves them. All methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	// mu guards the known ids. Observers hold it shared while they resolve a
	// label and update the series, so that SetKnown, which holds it
	// exclusively while deleting the series of removed ids, never races an
	// observation that would bring such a series back.
	mu      sync.RWMutex
	sources map[string]bool
	outputs map[string]bool

	fetches       *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec
	fetchBytes    *prometheus.CounterVec
	items         *prometheus.CounterVec
	deferrals     *prometheus.CounterVec
	backoffs      *prometheus.CounterVec
	schedLag      prometheus.Histogram
	schedSkipped  prometheus.Counter
	requests      *prometheus.CounterVec
	cache         *prometheus.CounterVec
	render        *prometheus.HistogramVec
	websubPings   *prometheus.CounterVec

	inFlight   *funcGauge
	dbSize     *funcGauge
	indexItems *funcGauge
	indexBytes *funcGauge
}

// New returns Metrics with every syndic series registered, plus the Go
// runtime, process and build info collectors. Until SetKnown is called every
// source and output id is recorded as "other".
func New() *Metrics {
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		sources: map[string]bool{},
		outputs: map[string]bool{},
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_fetches_total",
			Help: "Fetch attempts by source, result (ok, not_modified, error, deferred, cancelled) and error class (empty unless result is error or cancelled). 304 share: rate of result=\"not_modified\" over the rate of all.",
		}, []string{"source", "result", "error_class"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "syndic_fetch_duration_seconds",
			Help: "Duration of feed fetch attempts, from sending the request to reading the whole body or failing, by result. Deferred attempts are not observed.",
			// From a fast 304 off a nearby CDN to a request running into
			// the 30s default timeout or a longer per-source one.
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60},
		}, []string{"result"}),
		fetchBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_fetch_bytes_total",
			Help: "Bytes of feed responses read from the network (before decompression), by source.",
		}, []string{"source"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_items_total",
			Help: "Feed items processed by source and kind: new (stored for the first time), updated (changed content), duplicate (same story already stored).",
		}, []string{"source", "kind"}),
		deferrals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_deferrals_total",
			Help: "Fetches postponed by reason: retry-after, host-retry-after, cache-control, expires, ttl, backoff, unspecified, other.",
		}, []string{"reason"}),
		backoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_backoffs_total",
			Help: "Times a source entered or extended error backoff after a failed fetch, by source.",
		}, []string{"source"}),
		schedLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "syndic_scheduler_lag_seconds",
			Help: "Delay between the time a scheduled fetch was due and the time it started.",
			// Near zero when healthy; minutes when fetch concurrency is saturated.
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300},
		}),
		schedSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syndic_scheduler_skipped_total",
			Help: "Scheduled fires skipped because the previous run for the same job was still in progress.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_output_requests_total",
			Help: "HTTP requests for published outputs by output, format (rss, atom, json, other) and status (a known code, else its class such as 5xx, else other).",
		}, []string{"output", "format", "status"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_output_cache_total",
			Help: "Rendered-output cache lookups by output, format and result (hit, miss).",
		}, []string{"output", "format", "result"}),
		render: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "syndic_render_duration_seconds",
			Help: "Time to select and render an output document on a cache miss, by format.",
			// CPU-bound, usually well under 100ms even for large pages.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"format"}),
		websubPings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syndic_websub_pings_total",
			Help: "WebSub publish pings sent to hubs (one per hub and feed URL of a changed output), by output and result (ok, error).",
		}, []string{"output", "result"}),
		inFlight: newFuncGauge(
			"syndic_fetches_in_flight",
			"Fetches running now, read from the scheduler at scrape time.",
		),
		dbSize: newFuncGauge(
			"syndic_database_size_bytes",
			"Size of the SQLite database in bytes, read at scrape time; absent when it cannot be read.",
		),
		indexItems: newFuncGauge(
			"syndic_story_index_items",
			"Items whose story keys the writer holds in memory to find stories across sources; 0 until the first fetch with new items reads them.",
		),
		indexBytes: newFuncGauge(
			"syndic_story_index_bytes",
			"Memory the story index holds, outside the Go heap (counted in process_resident_memory_bytes, not in go_memstats).",
		),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.fetches, m.fetchDuration, m.fetchBytes, m.items, m.deferrals, m.backoffs,
		m.schedLag, m.schedSkipped, m.requests, m.cache, m.render, m.websubPings,
		m.inFlight, m.dbSize, m.indexItems, m.indexBytes,
	)
	// Series of fixed sets exist from the start, so rate() and absent()
	// see a zero rather than nothing before the first event.
	for _, r := range []string{
		model.DeferRetryAfter, model.DeferHostRetryAfter, model.DeferCacheControl,
		model.DeferExpires, model.DeferTTL, model.DeferBackoff, DeferUnspecified, Other,
	} {
		m.deferrals.WithLabelValues(r)
	}

	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Counts its own gathering errors as promhttp_metric_handler_errors_total.
		Registry: m.reg,
		// A collector that fails costs its own series, not the whole scrape.
		ErrorHandling:       promhttp.ContinueOnError,
		OfferedCompressions: []promhttp.Compression{promhttp.Identity, promhttp.Gzip},
	})
	m.handler = promhttp.InstrumentMetricHandler(m.reg, h)
	return m
}

// Handler serves the exposition of m's registry (text format, gzip when the
// client accepts it) for GET /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// SetKnown sets the source and output ids that may appear as label values;
// any other id is recorded as "other". Call it at start and after every
// config reload. The series of ids that were known before and are not any
// more are deleted, so removed sources do not linger until restart (their
// counters restart from zero should the id come back, which rate() handles).
func (m *Metrics) SetKnown(sourceIDs, outputIDs []string) {
	sources, outputs := idSet(sourceIDs), idSet(outputIDs)
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.sources {
		if !sources[id] {
			l := prometheus.Labels{"source": id}
			m.fetches.DeletePartialMatch(l)
			m.fetchBytes.DeletePartialMatch(l)
			m.items.DeletePartialMatch(l)
			m.backoffs.DeletePartialMatch(l)
		}
	}
	for id := range m.outputs {
		if !outputs[id] {
			l := prometheus.Labels{"output": id}
			m.requests.DeletePartialMatch(l)
			m.cache.DeletePartialMatch(l)
		}
	}
	m.sources, m.outputs = sources, outputs
	for id := range sources {
		m.fetches.WithLabelValues(id, model.StatusOK, "")
		m.fetches.WithLabelValues(id, model.StatusNotModified, "")
		m.fetchBytes.WithLabelValues(id)
		m.backoffs.WithLabelValues(id)
		for _, k := range [...]string{KindNew, KindUpdated, KindDuplicate} {
			m.items.WithLabelValues(id, k)
		}
	}
}

// idSet keeps the ids usable as label values. "other" is left out: it is
// always allowed, and deleting its series on reload would drop the counts of
// unknown ids.
func idSet(ids []string) map[string]bool {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" && id != Other && utf8.ValidString(id) {
			set[id] = true
		}
	}
	return set
}

// ObserveFetch records one fetch attempt of a source: its result (ok,
// not_modified, error, deferred, cancelled), the error class when it failed
// ("" otherwise), how long it took and how many bytes came over the wire.
func (m *Metrics) ObserveFetch(sourceID, result, errorClass string, d time.Duration, wireBytes int64) {
	result, errorClass = resultLabel(result), errorClassLabel(errorClass)
	m.mu.RLock()
	defer m.mu.RUnlock()
	src := m.sourceLabel(sourceID)
	m.fetches.WithLabelValues(src, result, errorClass).Inc()
	// A deferred attempt sent no request; its zero duration would drag the
	// histogram down.
	if result != ResultDeferred {
		m.fetchDuration.WithLabelValues(result).Observe(seconds(d))
	}
	if wireBytes > 0 {
		m.fetchBytes.WithLabelValues(src).Add(float64(wireBytes))
	}
}

// ObserveItems records the items one fetch of a source produced: newItems
// stored for the first time, updatedItems whose content changed and
// duplicateItems whose story was already stored. Counts below zero are
// ignored.
func (m *Metrics) ObserveItems(sourceID string, newItems, updatedItems, duplicateItems int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	src := m.sourceLabel(sourceID)
	for _, c := range [...]struct {
		kind string
		n    int
	}{{KindNew, newItems}, {KindUpdated, updatedItems}, {KindDuplicate, duplicateItems}} {
		if c.n > 0 {
			m.items.WithLabelValues(src, c.kind).Add(float64(c.n))
		}
	}
}

// ObserveDeferral records a fetch postponed for reason, one of the
// model.Defer* values or "unspecified" (also used for ""); anything else is
// recorded as "other".
func (m *Metrics) ObserveDeferral(reason string) {
	m.deferrals.WithLabelValues(deferralLabel(reason)).Inc()
}

// ObserveBackoff records that a source entered or extended error backoff.
func (m *Metrics) ObserveBackoff(sourceID string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.backoffs.WithLabelValues(m.sourceLabel(sourceID)).Inc()
}

// ObserveSchedulerLag records how late a scheduled fetch started. A negative
// lag (clock adjustments) counts as zero.
func (m *Metrics) ObserveSchedulerLag(d time.Duration) {
	m.schedLag.Observe(seconds(d))
}

// ObserveSkipped records a scheduled fire skipped because the previous run
// was still in progress.
func (m *Metrics) ObserveSkipped() { m.schedSkipped.Inc() }

// ObserveRequest records an HTTP request for an output in format (rss, atom,
// json, else "other") answered with status.
func (m *Metrics) ObserveRequest(outputID, format string, status int) {
	format, code := formatLabel(format), statusLabel(status)
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.requests.WithLabelValues(m.outputLabel(outputID), format, code).Inc()
}

// ObserveCache records a lookup in the rendered-output cache.
func (m *Metrics) ObserveCache(outputID, format string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	format = formatLabel(format)
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.cache.WithLabelValues(m.outputLabel(outputID), format, result).Inc()
}

// ObserveRender records how long rendering an output took. The histogram is
// labelled by format only: a histogram per output multiplies its buckets by
// the number of outputs, and render time depends on the format and the page
// size far more than on which output it is. outputID is accepted so call
// sites read like ObserveRequest and ObserveCache.
func (m *Metrics) ObserveRender(outputID, format string, d time.Duration) {
	m.render.WithLabelValues(formatLabel(format)).Observe(seconds(d))
}

// ObserveWebSubPing records one publish ping to a WebSub hub about an
// output.
func (m *Metrics) ObserveWebSubPing(outputID string, ok bool) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.websubPings.WithLabelValues(m.outputLabel(outputID), result).Inc()
}

// SetDatabaseSize installs the function that reports the database size in
// bytes. It is called at every scrape; when it returns an error (or a
// negative size) syndic_database_size_bytes is left out of that scrape
// rather than failing it. A nil size removes the metric.
func (m *Metrics) SetDatabaseSize(size func() (int64, error)) {
	if size == nil {
		m.dbSize.set(nil)
		return
	}
	m.dbSize.set(func() (float64, bool) {
		n, err := size()
		if err != nil || n < 0 {
			return 0, false
		}
		return float64(n), true
	})
}

// SetStoryIndex installs the function read at every scrape for
// syndic_story_index_items and syndic_story_index_bytes. A nil function
// removes both.
func (m *Metrics) SetStoryIndex(size func() (items, bytes int64)) {
	if size == nil {
		m.indexItems.set(nil)
		m.indexBytes.set(nil)
		return
	}
	m.indexItems.set(func() (float64, bool) {
		n, _ := size()
		return float64(n), true
	})
	m.indexBytes.set(func() (float64, bool) {
		_, b := size()
		return float64(b), true
	})
}

// SetSchedulerGauges installs the functions read at every scrape for the
// scheduler's gauges: inFlight reports the fetches running now
// (syndic_fetches_in_flight). A nil function removes its metric.
func (m *Metrics) SetSchedulerGauges(inFlight func() int) {
	if inFlight == nil {
		m.inFlight.set(nil)
		return
	}
	m.inFlight.set(func() (float64, bool) { return float64(inFlight()), true })
}

// sourceLabel and outputLabel must be called with m.mu held.
func (m *Metrics) sourceLabel(id string) string {
	if m.sources[id] {
		return id
	}
	return Other
}

func (m *Metrics) outputLabel(id string) string {
	if m.outputs[id] {
		return id
	}
	return Other
}

func resultLabel(r string) string {
	switch r {
	case model.StatusOK, model.StatusNotModified, model.StatusError, ResultDeferred, ResultCancelled:
		return r
	}
	return Other
}

func errorClassLabel(c string) string {
	switch c {
	case "", model.ErrClassDNS, model.ErrClassConnect, model.ErrClassTimeout, model.ErrClassTLS,
		model.ErrClassHTTP, model.ErrClassTooLarge, model.ErrClassRedirect, model.ErrClassParse,
		model.ErrClassNotAFeed, model.ErrClassDenied, model.ErrClassStorage, model.ErrClassCancelled,
		model.ErrClassOther:
		return c
	}
	return Other
}

func deferralLabel(r string) string {
	switch r {
	case model.DeferRetryAfter, model.DeferHostRetryAfter, model.DeferCacheControl,
		model.DeferExpires, model.DeferTTL, model.DeferBackoff, DeferUnspecified:
		return r
	case "":
		return DeferUnspecified
	}
	return Other
}

func formatLabel(f string) string {
	switch f {
	case "rss", "atom", "json":
		return f
	}
	return Other
}

// statusLabel keeps the codes syndic's output handlers answer with and folds
// any other valid code into its class, so "5xx" still says what kind of
// failure it was without letting a code become a new series.
func statusLabel(code int) string {
	switch code {
	case http.StatusOK, http.StatusNotModified, http.StatusBadRequest,
		http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusInternalServerError:
		return strconv.Itoa(code)
	}
	if code >= 100 && code <= 599 {
		return strconv.Itoa(code/100) + "xx"
	}
	return Other
}

func seconds(d time.Duration) float64 {
	return max(d, 0).Seconds()
}

// funcGauge is a gauge whose value a function supplies at scrape time; unlike
// prometheus.GaugeFunc it can be re-pointed after a reload and can leave its
// sample out when the function has no value.
type funcGauge struct {
	desc *prometheus.Desc
	f    atomic.Pointer[func() (float64, bool)]
}

func newFuncGauge(name, help string) *funcGauge {
	return &funcGauge{desc: prometheus.NewDesc(name, help, nil, nil)}
}

func (g *funcGauge) set(f func() (float64, bool)) {
	if f == nil {
		g.f.Store(nil)
		return
	}
	g.f.Store(&f)
}

// Describe implements prometheus.Collector.
func (g *funcGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *funcGauge) Collect(ch chan<- prometheus.Metric) {
	f := g.f.Load()
	if f == nil {
		return
	}
	if v, ok := (*f)(); ok {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v)
	}
}
