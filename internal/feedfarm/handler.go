package feedfarm

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Handler returns the farm's HTTP surface, for Start or for an
// httptest.Server:
//
//	GET  /s/{i}               source i's feed (format Format(i)), or its breakage
//	GET  /alt/{i}             source i's real feed, where an HTML source's alternate link points
//	GET  /img/{name}          a small PNG, for the relative images in bodies
//	POST /_farm/advance       Advance; answers the new generation as JSON
//	GET  /_farm/stats         Requests as JSON
//	GET  /_farm/expected/{i}  ExpectedItems(i) as JSON
//
// Only /s/ and /alt/ requests are counted in Requests, so that a harness
// polling the control paths does not disturb what it measures.
func (f *Farm) Handler() http.Handler { return f.handler }

func (f *Farm) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /s/{i}", f.serveSource)
	mux.HandleFunc("GET /alt/{i}", f.serveAlternate)
	mux.HandleFunc("GET /img/{name}", serveImage)
	mux.HandleFunc("POST /_farm/advance", f.serveAdvance)
	mux.HandleFunc("GET /_farm/stats", f.serveStats)
	mux.HandleFunc("GET /_farm/expected/{i}", f.serveExpected)
	return mux
}

// Stats counts the feed requests (/s/ and /alt/) a farm has answered.
type Stats struct {
	Total       int64         `json:"total"`
	OK          int64         `json:"ok"`           // 200
	NotModified int64         `json:"not_modified"` // 304
	Gzipped     int64         `json:"gzipped"`      // 200 responses sent gzip-encoded
	BytesSent   int64         `json:"bytes_sent"`   // response bodies as sent (compressed when gzipped)
	ByStatus    map[int]int64 `json:"by_status"`
}

type counters struct {
	total, gzipped, bytes atomic.Int64
	byStatus              [600]atomic.Int64
	perSource             []atomic.Int64
}

// Requests returns the counts so far.
func (f *Farm) Requests() Stats {
	s := Stats{
		Total:     f.stats.total.Load(),
		Gzipped:   f.stats.gzipped.Load(),
		BytesSent: f.stats.bytes.Load(),
		ByStatus:  map[int]int64{},
	}
	for code := range f.stats.byStatus {
		if n := f.stats.byStatus[code].Load(); n > 0 {
			s.ByStatus[code] = n
		}
	}
	s.OK, s.NotModified = s.ByStatus[http.StatusOK], s.ByStatus[http.StatusNotModified]
	return s
}

// SourceRequests returns how many feed requests source i has received,
// for checking a fetcher's schedule and politeness.
func (f *Farm) SourceRequests(i int) int64 {
	if i < 0 || i >= len(f.stats.perSource) {
		return 0
	}
	return f.stats.perSource[i].Load()
}

func (f *Farm) sourceIndex(w http.ResponseWriter, r *http.Request) (int, bool) {
	f.stats.total.Add(1)
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 || i >= f.opts.Sources {
		f.write(w, r, http.StatusNotFound, "text/plain; charset=utf-8", []byte("no such source\n"))
		return 0, false
	}
	f.stats.perSource[i].Add(1)
	return i, true
}

func (f *Farm) serveSource(w http.ResponseWriter, r *http.Request) {
	i, ok := f.sourceIndex(w, r)
	if !ok || !wait(r.Context(), f.opts.Latency) {
		return
	}
	switch f.kinds[i] {
	case "":
		f.serveFeed(w, r, i)
	case BrokenServerError:
		f.write(w, r, http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("internal server error\n"))
	case BrokenNotFound:
		f.write(w, r, http.StatusNotFound, "text/plain; charset=utf-8", []byte("404 page not found\n"))
	case BrokenInvalidXML:
		body := f.document(i).body
		f.write(w, r, http.StatusOK, contentTypes["rss"], body[:len(body)/2])
	case BrokenHTML:
		f.write(w, r, http.StatusOK, "text/html; charset=utf-8", f.htmlPage(i))
	case BrokenTooManyRequests:
		w.Header().Set("Retry-After", "120")
		f.write(w, r, http.StatusTooManyRequests, "text/plain; charset=utf-8", []byte("too many requests\n"))
	case BrokenSlow:
		if wait(r.Context(), f.opts.SlowDelay) {
			f.serveFeed(w, r, i)
		}
	}
}

func (f *Farm) serveAlternate(w http.ResponseWriter, r *http.Request) {
	i, ok := f.sourceIndex(w, r)
	if !ok || !wait(r.Context(), f.opts.Latency) {
		return
	}
	f.serveFeed(w, r, i)
}

// wait reports whether d passed before ctx ended: the client left, or the
// farm is shutting down.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *Farm) serveFeed(w http.ResponseWriter, r *http.Request, i int) {
	d := f.document(i)
	gz := d.gzip && acceptsGzip(r.Header.Values("Accept-Encoding"))
	h := w.Header()
	h["Content-Type"] = d.contentType
	h["Last-Modified"] = d.lastModHdr
	if d.gzip {
		h["Vary"] = []string{"Accept-Encoding"}
	}
	if gz {
		h["Etag"] = d.etagGz
	} else {
		h["Etag"] = d.etag
	}
	if notModified(r, d) {
		f.stats.byStatus[http.StatusNotModified].Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, length := d.body, d.length
	if gz {
		body, length = d.gzipped()
		h["Content-Encoding"] = []string{"gzip"}
		f.stats.gzipped.Add(1)
	}
	h["Content-Length"] = length
	f.stats.byStatus[http.StatusOK].Add(1)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		n, _ := w.Write(body) // a client that left is not the farm's error
		f.stats.bytes.Add(int64(n))
	}
}

// write sends a complete uncached response and counts it.
func (f *Farm) write(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	f.stats.byStatus[status].Add(1)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		n, _ := w.Write(body)
		f.stats.bytes.Add(int64(n))
	}
}

// notModified applies RFC 9110's rules: If-None-Match, compared weakly
// and against both encodings, decides when present; otherwise
// If-Modified-Since does.
func notModified(r *http.Request, d *document) bool {
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		for _, list := range inm {
			for tag := range strings.SplitSeq(list, ",") {
				tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
				if tag == "*" || tag == d.etag[0] || tag == d.etagGz[0] {
					return true
				}
			}
		}
		return false
	}
	ims, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	return err == nil && !d.lastModified.After(ims)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: it is
// listed (or "*" is) with a quality above zero.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" && coding != "*" {
				continue
			}
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
				if p, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = p
				}
			}
			if q > 0 {
				return true
			}
		}
	}
	return false
}

// htmlPage is the home page a broken-HTML source serves instead of its
// feed; its alternate link is what feed discovery should find.
func (f *Farm) htmlPage(i int) []byte {
	types := map[string]string{"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
	xmlEscape(&b, f.sourceTitle(i))
	b.WriteString("</title>\n<link rel=\"alternate\" type=\"")
	b.WriteString(types[f.Format(i)])
	b.WriteString("\" title=\"")
	xmlEscape(&b, f.sourceTitle(i))
	b.WriteString("\" href=\"/alt/")
	b.WriteString(strconv.Itoa(i))
	b.WriteString("\">\n</head>\n<body>\n<h1>")
	xmlEscape(&b, f.sourceTitle(i))
	b.WriteString("</h1>\n<p>This is the home page, not the feed.</p>\n</body>\n</html>\n")
	return b.Bytes()
}

// pixelPNG is a 1x1 transparent PNG.
const pixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

func serveImage(w http.ResponseWriter, r *http.Request) {
	png, _ := base64.StdEncoding.DecodeString(pixelPNG) // a valid constant
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Write(png)
}

func (f *Farm) serveAdvance(w http.ResponseWriter, r *http.Request) {
	f.Advance()
	writeJSON(w, map[string]int{"generation": f.Generation()})
}

func (f *Farm) serveStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, f.Requests())
}

func (f *Farm) serveExpected(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 || i >= f.opts.Sources {
		http.NotFound(w, r)
		return
	}
	items := f.ExpectedItems(i)
	if items == nil {
		items = []ExpectedItem{}
	}
	writeJSON(w, items)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // only the farm's own plain types; a failed write means the client left
}
