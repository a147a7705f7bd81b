package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// LoadOptions configure a closed-loop HTTP load: Clients goroutines, each
// sending the next request as soon as the previous answer is read, over
// keep-alive connections, like wrk.
type LoadOptions struct {
	URL     string
	Clients int // default 32
	// Duration ends the load; zero runs it until ctx ends.
	Duration time.Duration
	// IfNoneMatch, when set, is sent with every request.
	IfNoneMatch string
}

// LoadResult summarizes a load run. Every answer other than 200 or 304,
// and every transport error, is an error.
type LoadResult struct {
	Requests int
	Errors   int
	ByStatus map[int]int
	Elapsed  time.Duration
	P50, P99 time.Duration
	Max      time.Duration
	// FirstError is an example failure, for the report.
	FirstError string

	// lat holds every latency, so that the results of several runs merge
	// into one (Merge).
	lat []time.Duration
}

// Merge adds o's counts, time and latencies to r and recomputes the
// percentiles over both.
func (r LoadResult) Merge(o LoadResult) LoadResult {
	out := LoadResult{
		Requests: r.Requests + o.Requests,
		Errors:   r.Errors + o.Errors,
		ByStatus: map[int]int{},
		Elapsed:  r.Elapsed + o.Elapsed,
		lat:      append(append(make([]time.Duration, 0, len(r.lat)+len(o.lat)), r.lat...), o.lat...),
	}
	for _, m := range []map[int]int{r.ByStatus, o.ByStatus} {
		for k, v := range m {
			out.ByStatus[k] += v
		}
	}
	out.FirstError = cmp.Or(r.FirstError, o.FirstError)
	out.P50, out.P99, out.Max = percentiles(out.lat)
	return out
}

// RPS is the rate of answered requests.
func (r LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// newLoadClient returns a client that keeps one connection per load
// goroutine open and, like wrk, asks for no compression.
func newLoadClient(clients int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        clients,
			MaxIdleConnsPerHost: clients,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// Load runs the load until opts.Duration passes or ctx ends, recording
// the latency of every request.
func Load(ctx context.Context, opts LoadOptions) LoadResult {
	if opts.Clients <= 0 {
		opts.Clients = 32
	}
	client := newLoadClient(opts.Clients)
	defer client.CloseIdleConnections()
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}

	type partial struct {
		lat      []time.Duration
		errors   int
		byStatus map[int]int
		firstErr string
	}
	parts := make([]partial, opts.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range opts.Clients {
		wg.Go(func() {
			p := &parts[c]
			p.lat = make([]time.Duration, 0, 4096)
			p.byStatus = map[int]int{}
			for ctx.Err() == nil {
				t0 := time.Now()
				status, err := get(ctx, client, opts.URL, opts.IfNoneMatch)
				d := time.Since(t0)
				if ctx.Err() != nil {
					return // cut off by the deadline: not an answer
				}
				p.lat = append(p.lat, d)
				p.byStatus[status]++
				if err == nil && status != http.StatusOK && status != http.StatusNotModified {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					p.errors++
					if p.firstErr == "" {
						p.firstErr = err.Error()
					}
				}
			}
		})
	}
	wg.Wait()
	res := LoadResult{Elapsed: time.Since(start), ByStatus: map[int]int{}}
	var all []time.Duration
	for _, p := range parts {
		all = append(all, p.lat...)
		res.Errors += p.errors
		for k, v := range p.byStatus {
			res.ByStatus[k] += v
		}
		if res.FirstError == "" {
			res.FirstError = p.firstErr
		}
	}
	res.Requests = len(all)
	res.P50, res.P99, res.Max = percentiles(all)
	res.lat = all // sorted now; Merge needs only the values
	return res
}

func get(ctx context.Context, client *http.Client, url, inm string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read the whole body, as a reader does, and so the connection is
	// reused.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// percentiles returns the 50th and 99th percentiles (nearest rank) and
// the maximum; it sorts lat.
func percentiles(lat []time.Duration) (p50, p99, maxLat time.Duration) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1
		return lat[min(max(i, 0), len(lat)-1)]
	}
	return rank(0.50), rank(0.99), lat[len(lat)-1]
}
