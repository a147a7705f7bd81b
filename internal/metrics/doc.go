// Package metrics owns syndic's Prometheus instrumentation: the series served
// at GET /metrics, their names, help texts, buckets and label values. It is
// the only importer of github.com/prometheus/client_golang; the rest of
// syndic calls the Observe* methods with plain strings, ints and durations,
// and no Prometheus type leaves this package.
//
// Metrics uses its own registry, never the global default one, so that two
// instances (tests, an in-process restart) never collide and nothing a
// library registers at init time leaks into syndic's exposition.
//
// # Label values
//
// Every label value comes from a config id or from a fixed set, and the
// package enforces it: an id not passed to [Metrics.SetKnown] and a value
// outside its fixed set are both recorded as "other". That bounds the number
// of series whatever a feed or an HTTP client sends. When SetKnown runs again
// after a reload, the series of ids that left the config are deleted.
//
// # Series
//
// Fetching (one observation per fetch attempt of a source):
//
//	syndic_fetches_total{source,result,error_class}  counter
//	    result: ok, not_modified, error, deferred, cancelled
//	    error_class: "" (no error), dns, connect, timeout, tls, http_status,
//	    too_large, redirect, parse, not_a_feed, denied, storage, cancelled, other
//	syndic_fetch_duration_seconds{result}            histogram, 10ms..60s (not observed for deferred)
//	syndic_fetch_bytes_total{source}                 counter, bytes read from the wire (before decompression)
//	syndic_items_total{source,kind}                  counter, kind: new, updated, duplicate
//	syndic_deferrals_total{reason}                   counter, reason: retry-after, host-retry-after,
//	                                                 cache-control, expires, ttl, backoff, unspecified, other
//	syndic_backoffs_total{source}                    counter, a source entered or extended error backoff
//
// Scheduling:
//
//	syndic_scheduler_lag_seconds                     histogram, fire time minus planned time
//	syndic_scheduler_skipped_total                   counter, fires skipped because the previous run was still going
//	syndic_fetches_in_flight                         gauge, read at scrape time
//
// Serving outputs:
//
//	syndic_output_requests_total{output,format,status} counter
//	    format: rss, atom, json, other
//	    status: 200, 304, 400, 404, 405, 500, else the class (2xx..5xx), else other
//	syndic_output_cache_total{output,format,result}  counter, result: hit, miss
//	syndic_render_duration_seconds{format}           histogram, 0.5ms..2.5s
//
// Storage:
//
//	syndic_database_size_bytes                       gauge, read at scrape time; absent when it cannot be read
//
// The Go runtime (go_*), process (process_*), build (go_build_info) and
// handler (promhttp_metric_handler_*) collectors are registered too.
//
// # PromQL
//
// Share of fetches answered 304 Not Modified over the last hour (the counters
// suffice; no ratio gauge is exported because a ratio cannot be aggregated):
//
//	sum(rate(syndic_fetches_total{result="not_modified"}[1h]))
//	  / sum(rate(syndic_fetches_total[1h]))
//
// To count only attempts that reached a server, divide by
// syndic_fetches_total{result=~"ok|not_modified|error"} instead: deferred and
// cancelled attempts never did.
//
// Sources that failed in the last hour, by error class:
//
//	sum by (source, error_class) (increase(syndic_fetches_total{result="error"}[1h])) > 0
//
// 95th percentile fetch duration:
//
//	histogram_quantile(0.95, sum by (le) (rate(syndic_fetch_duration_seconds_bucket[5m])))
//
// New items per hour and source:
//
//	sum by (source) (increase(syndic_items_total{kind="new"}[1h]))
//
// Output cache hit ratio:
//
//	sum(rate(syndic_output_cache_total{result="hit"}[5m])) / sum(rate(syndic_output_cache_total[5m]))
//
// Server errors on outputs:
//
//	sum by (output) (rate(syndic_output_requests_total{status=~"5.."}[5m]))
//
// Scheduler falling behind (p99 lag over a second):
//
//	histogram_quantile(0.99, sum by (le) (rate(syndic_scheduler_lag_seconds_bucket[10m]))) > 1
//
// Database size unreadable (the gauge is omitted rather than failing the scrape):
//
//	absent(syndic_database_size_bytes)
package metrics
