package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FeedHandler serves GET and HEAD /feeds/{id}.{rss|atom|json}?page=N with
// strong ETags, Last-Modified, 304s and pre-compressed gzip.
func (p *Publisher) FeedHandler() http.Handler {
	return http.HandlerFunc(p.serveFeed)
}

func (p *Publisher) serveFeed(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	p.serveFeedStatus(rec, r)
	id, format := "", ""
	if name, ok := strings.CutPrefix(r.URL.Path, "/feeds/"); ok {
		if dot := strings.LastIndexByte(name, '.'); dot >= 0 {
			id, format = name[:dot], name[dot+1:]
		}
	}
	p.obs.ObserveRequest(id, format, rec.status)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (p *Publisher) serveFeedStatus(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r) {
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/feeds/")
	dot := strings.LastIndexByte(name, '.')
	if !ok || dot < 0 || strings.Contains(name, "/") {
		p.notFound(w, fmt.Sprintf("no feed at %s", r.URL.Path))
		return
	}
	id, format := name[:dot], name[dot+1:]
	if _, known := contentTypes[format]; !known {
		p.notFound(w, fmt.Sprintf("no format %q: use .rss, .atom or .json", format))
		return
	}
	page := 1
	if v, ok := pageParam(r); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			textError(w, http.StatusBadRequest, fmt.Sprintf("page %q is not a positive integer", v))
			return
		}
		page = n
	}
	rd, err := p.Render(r.Context(), id, format, page)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownOutput):
		p.notFound(w, fmt.Sprintf("no output %q", id))
		return
	case errors.Is(err, ErrNoSuchPage):
		textError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody is left to answer.
		return
	default:
		p.log.Error("render feed", "output", id, "format", format, "page", page, "error", err)
		textError(w, http.StatusInternalServerError, "internal error rendering the feed")
		return
	}
	w.Header()["X-Content-Type-Options"] = nosniffHeader
	p.serveRendered(w, r, rd)
}

// pageParam returns the first page parameter of r's query. Most requests
// have no query, and parsing an empty one still allocates.
func pageParam(r *http.Request) (string, bool) {
	if r.URL.RawQuery == "" {
		return "", false
	}
	vals, ok := r.URL.Query()["page"]
	if !ok {
		return "", false
	}
	return vals[0], true
}

// allowMethod answers 405 to anything but GET and HEAD.
func allowMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	textError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}

// notFound answers 404 with the outputs that do exist, so a mistyped
// subscription URL can be corrected from the error page.
func (p *Publisher) notFound(w http.ResponseWriter, msg string) {
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString("\n\n")
	outs := p.Outputs()
	if len(outs) == 0 {
		b.WriteString("no outputs are configured\n")
	} else {
		b.WriteString("outputs:\n")
	}
	for _, o := range outs {
		fmt.Fprintf(&b, "  %s\n", cleanText(o.ID))
		for _, f := range formats {
			fmt.Fprintf(&b, "    %s\n", outputURL(p.baseURL, o.ID, f, 1))
		}
	}
	textError(w, http.StatusNotFound, strings.TrimRight(b.String(), "\n"))
}

// serveRendered writes a cached render with caching headers, answering 304
// when the client's validators match.
func (p *Publisher) serveRendered(w http.ResponseWriter, r *http.Request, rd *Rendered) {
	// Values are assigned under their canonical keys from slices made once
	// (see Rendered.hdr): Header.Set would canonicalize each key and
	// allocate each value on every request.
	h := w.Header()
	h["Vary"] = varyHeader
	h["Cache-Control"] = p.cacheControlHeader
	gz := acceptsGzip(r.Header.Values("Accept-Encoding"))
	etag, body, hd := rd.ETag, rd.Body, &rd.hdr.plain
	if gz {
		etag, body, hd = rd.GzipETag, rd.Gzip, &rd.hdr.gzip
	}
	h["Etag"] = hd.etag
	if rd.links != nil {
		h["Link"] = rd.links
	}
	if notModified(r, etag, rd.LastModified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Last-Modified"] = rd.hdr.lastModified
	h["Content-Type"] = rd.hdr.contentType
	if gz {
		h["Content-Encoding"] = gzipHeader
	}
	h["Content-Length"] = hd.length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // a failed write means the client left
	}
}

// Header values shared by every response. Nothing appends to them in
// place: each has a capacity of its length.
var (
	varyHeader    = []string{"Accept-Encoding"}
	gzipHeader    = []string{"gzip"}
	nosniffHeader = []string{"nosniff"}
)

// notModified applies RFC 9110 section 13.2.2: If-None-Match (weak
// comparison) decides when present; If-Modified-Since only without it.
func notModified(r *http.Request, etag string, lastMod time.Time) bool {
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 {
		return etagListMatches(strings.Join(inm, ","), etag)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !lastMod.Truncate(time.Second).After(t)
	}
	return false
}

// etagListMatches reports whether an If-None-Match list names etag under
// weak comparison (W/ prefixes ignored), or is "*".
func etagListMatches(list, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for s := list; ; {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return false
		}
		if s[0] == '*' {
			return true
		}
		s = strings.TrimPrefix(s, "W/")
		if s == "" || s[0] != '"' {
			// Not an entity-tag: skip to the next list member.
			i := strings.IndexByte(s, ',')
			if i < 0 {
				return false
			}
			s = s[i:]
			continue
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false
		}
		if s[:end+2] == want {
			return true
		}
		s = s[end+2:]
	}
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q > 0), given
// explicitly or through "*".
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for param := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(param), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil {
						f = 0
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// IndexHandler serves GET and HEAD / : an HTML page listing every output
// with subscribe links and autodiscovery tags. Other paths are 404.
func (p *Publisher) IndexHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			p.notFound(w, fmt.Sprintf("no page at %s", r.URL.Path))
			return
		}
		if !allowMethod(w, r) {
			return
		}
		rd, err := p.indexPage()
		if err != nil {
			p.log.Error("render index", "error", err)
			textError(w, http.StatusInternalServerError, "internal error rendering the index")
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		p.serveRendered(w, r, rd)
	})
}

var indexTemplate = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feeds</title>
{{- range .}}{{$o := .}}{{range .Formats}}
<link rel="alternate" type="{{template "type" .}}" title="{{$o.Title}} ({{.Name}})" href="{{.URL}}">
{{- end}}{{end}}
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;line-height:1.5}li{margin-bottom:1rem}</style>
</head>
<body>
<h1>Feeds</h1>
{{- if not .}}
<p>No outputs are configured.</p>
{{- else}}
<ul>
{{- range .}}
<li><strong>{{.Title}}</strong>{{with .Description}}: {{.}}{{end}}<br>
{{range $i, $f := .Formats}}{{if $i}} · {{end}}<a href="{{$f.URL}}" type="{{template "type" $f}}">{{$f.Name}}</a>{{end}}</li>
{{- end}}
</ul>
{{- end}}
</body>
</html>
{{- define "type"}}{{/* literal, so "+" is not written as &#43; for naive autodiscovery */ -}}
{{if eq .Format "rss"}}application/rss+xml{{else if eq .Format "atom"}}application/atom+xml{{else}}application/feed+json{{end}}
{{- end}}`))

type indexOutput struct {
	Title, Description string
	Formats            []indexFormat
}

type indexFormat struct {
	Format, Name, URL string
}

var formatNames = map[string]string{FormatRSS: "RSS", FormatAtom: "Atom", FormatJSON: "JSON Feed"}

// indexPage returns the cached index, building it after each SetConfig.
func (p *Publisher) indexPage() (*Rendered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.index != nil {
		return p.index, nil
	}
	data := make([]indexOutput, 0, len(p.outputs))
	for _, st := range p.outputs {
		o := st.out
		d := &doc{out: &o}
		io := indexOutput{Title: d.title(), Description: cleanText(o.Description)}
		for _, f := range formats {
			io.Formats = append(io.Formats, indexFormat{Format: f, Name: formatNames[f], URL: outputURL(p.baseURL, o.ID, f, 1)})
		}
		data = append(data, io)
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render index: %w", err)
	}
	rd, err := newRendered(buf.Bytes(), "text/html; charset=utf-8", p.now().UTC().Truncate(time.Second), len(data), 1)
	if err != nil {
		return nil, fmt.Errorf("render index: %w", err)
	}
	p.index = rd
	return rd, nil
}
