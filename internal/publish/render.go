package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/syndic-dev/syndic/internal/model"
)

// summaryRunes bounds the plain-text summary of every entry.
const summaryRunes = 300

// defaultLimit is the page size of an output configured without one.
const defaultLimit = 50

// generator names syndic in the feeds it writes.
const (
	generatorName = "syndic"
	generatorURI  = "https://github.com/syndic-dev/syndic"
)

// itemURNPrefix starts every published item id. A URN rather than a URL
// under base_url keeps ids stable when the service moves; the same string is
// the Atom id, the RSS guid and the JSON Feed id.
const itemURNPrefix = "urn:syndic:item:"

// Rendered is one cached render of one output page in one format.
type Rendered struct {
	Body         []byte
	Gzip         []byte // Body gzip-compressed once, served as is
	ETag         string // strong validator of Body: quoted hex of its SHA-256
	GzipETag     string // validator of the gzip variant: ETag with "-gz" inside the quotes
	LastModified time.Time
	ContentType  string
	Entries      int // entries on this page
	Pages        int // pages of the output

	// Header values worked out once per render instead of per request,
	// as the []string that http.Header holds; shared by every response,
	// never modified.
	hdr renderedHeaders
	// links are the WebSub Link header values of a first page (the hubs
	// and rel="self"); nil without hubs and on later pages.
	links []string
}

type renderedHeaders struct {
	lastModified, contentType []string
	plain, gzip               variantHeaders
}

// variantHeaders are the headers that differ between the plain and the
// gzip body.
type variantHeaders struct {
	etag, length []string
}

// contentTypes maps each format to its media type.
var contentTypes = map[string]string{
	FormatRSS:  "application/rss+xml; charset=utf-8",
	FormatAtom: "application/atom+xml; charset=utf-8",
	FormatJSON: "application/feed+json; charset=utf-8",
}

// Render returns page (>= 1) of an output in format ("rss", "atom" or
// "json"), rendering it only when no cached render of the current selection
// exists. While an output that changed is rebuilt, Render may return its
// previous render (see Options.StaleWait). Errors match ErrUnknownOutput,
// ErrUnknownFormat or ErrNoSuchPage.
func (p *Publisher) Render(ctx context.Context, outputID, format string, page int) (*Rendered, error) {
	return p.render(ctx, outputID, format, page, p.staleWait >= 0)
}

// Fresh returns the first page of an output in format as the output is
// now: unlike Render, never a stale render that a rebuild will replace.
// WebSub pings compare it with what they last announced.
func (p *Publisher) Fresh(ctx context.Context, outputID, format string) (*Rendered, error) {
	return p.render(ctx, outputID, format, 1, false)
}

// render is Render, answering with the previous render while the output
// is rebuilt only when staleOK.
func (p *Publisher) render(ctx context.Context, outputID, format string, page int, staleOK bool) (*Rendered, error) {
	if _, ok := contentTypes[format]; !ok {
		return nil, fmt.Errorf("render output %q: %w %q", outputID, ErrUnknownFormat, format)
	}
	st, err := p.lookup(outputID)
	if err != nil {
		return nil, fmt.Errorf("render output: %w", err)
	}
	if page < 1 {
		return nil, fmt.Errorf("render output %q page %d: %w", outputID, page, ErrNoSuchPage)
	}
	key := renderKey{format, page}
	p.mu.Lock()
	r := st.renders[key]
	stale := st.stale[key].r
	p.mu.Unlock()
	if r != nil {
		p.obs.ObserveCache(outputID, format, true)
		return r, nil
	}
	if stale == nil || !staleOK {
		return p.renderNow(ctx, st, outputID, key)
	}
	return p.revalidate(ctx, st, outputID, key, stale)
}

// FeedURLs returns the subscription URLs of an output, one per format
// (rss, atom, json): the topics a WebSub hub is told about. Nil for an
// output that is not configured.
func (p *Publisher) FeedURLs(outputID string) []string {
	if _, err := p.lookup(outputID); err != nil {
		return nil
	}
	return FeedURLs(p.baseURL, outputID)
}

// FeedURLs returns the subscription URLs, one per format (rss, atom,
// json), of the output id served under baseURL (ending with "/").
func FeedURLs(baseURL, outputID string) []string {
	urls := make([]string, 0, len(formats))
	for _, f := range formats {
		urls = append(urls, outputURL(baseURL, outputID, f, 1))
	}
	return urls
}

// renderNow builds the render of key in the request, waiting for any
// build of the output in progress.
func (p *Publisher) renderNow(ctx context.Context, st *outputState, outputID string, key renderKey) (*Rendered, error) {
	st.build.Lock()
	defer st.build.Unlock()
	return p.buildLocked(ctx, st, outputID, key)
}

// buildLocked returns the render of key at the output's current
// generation, building the selection and the render as needed, and
// caches it. The caller holds st.build.
func (p *Publisher) buildLocked(ctx context.Context, st *outputState, outputID string, key renderKey) (*Rendered, error) {
	sel, v, err := p.selectionLocked(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("render output %q: %w", outputID, err)
	}
	if r := v.cached[key]; r != nil {
		p.obs.ObserveCache(outputID, key.format, true)
		return r, nil
	}
	r, err := p.renderPage(ctx, sel, &v, key)
	if errors.Is(err, errItemGone) {
		// The store dropped an item since the selection, and the
		// invalidation that says so has not arrived yet: select again.
		if sel, err = p.reselectLocked(ctx, st, &v); err != nil {
			return nil, fmt.Errorf("render output %q: %w", outputID, err)
		}
		r, err = p.renderPage(ctx, sel, &v, key)
	}
	if errors.Is(err, ErrNoSuchPage) {
		p.dropStale(st, v.gen, key)
	}
	if err != nil {
		return nil, err
	}
	p.renderCount.Add(1)
	p.obs.ObserveCache(outputID, key.format, false)
	p.keep(st, v.gen, key, r)
	return r, nil
}

// keep caches r, a render of generation gen: as the current render when
// the output has not changed since, else as the stale one when it is newer
// than the stale render there is.
func (p *Publisher) keep(st *outputState, gen uint64, key renderKey, r *Rendered) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st.gen == gen {
		if st.renders == nil {
			st.renders = map[renderKey]*Rendered{}
		}
		st.renders[key] = r
		return
	}
	if old, ok := st.stale[key]; !ok || old.gen < gen {
		if st.stale == nil {
			st.stale = map[renderKey]staleRender{}
		}
		st.stale[key] = staleRender{r: r, gen: gen}
	}
}

// dropStale forgets the stale render of a page that generation gen no
// longer has.
func (p *Publisher) dropStale(st *outputState, gen uint64, key renderKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := st.stale[key]; ok && old.gen < gen {
		delete(st.stale, key)
	}
}

// renderPage renders one page of sel in one format.
func (p *Publisher) renderPage(ctx context.Context, sel *selection, v *stateView, key renderKey) (*Rendered, error) {
	id := v.out.ID
	limit := pageSize(&v.out)
	pages := max(1, (sel.total+limit-1)/limit)
	if key.page > pages {
		return nil, fmt.Errorf("render output %q page %d of %d: %w", id, key.page, pages, ErrNoSuchPage)
	}
	start := time.Now()
	if err := p.extend(ctx, sel, key.page*limit); err != nil {
		return nil, fmt.Errorf("render output %q: %w", id, err)
	}
	lo, hi := min((key.page-1)*limit, len(sel.entries)), min(key.page*limit, len(sel.entries))
	views, err := p.pageViews(ctx, sel, v, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("render output %q: %w", id, err)
	}
	d := &doc{
		out:          &v.out,
		base:         p.baseURL,
		format:       key.format,
		page:         key.page,
		pages:        pages,
		lastModified: sel.lastModified,
		entries:      views,
	}
	if key.page == 1 {
		d.hubs = p.hubs
	}
	var body []byte
	switch key.format {
	case FormatAtom:
		body, err = renderAtom(d)
	case FormatRSS:
		body, err = renderRSS(d)
	default:
		body, err = renderJSON(d)
	}
	if err != nil {
		return nil, fmt.Errorf("render output %q as %s: %w", id, key.format, err)
	}
	r, err := newRendered(body, contentTypes[key.format], sel.lastModified, len(views), pages)
	if err != nil {
		return nil, fmt.Errorf("render output %q as %s: %w", id, key.format, err)
	}
	if len(d.hubs) > 0 {
		r.links = slices.Clip(append(slices.Clone(p.hubLinks), "<"+d.pageURL(key.format, 1)+`>; rel="self"`))
	}
	p.obs.ObserveRender(id, key.format, time.Since(start))
	p.log.Debug("rendered output", "output", id, "format", key.format, "page", key.page,
		"entries", len(views), "bytes", len(body), "duration_ms", time.Since(start).Milliseconds())
	return r, nil
}

// errItemGone reports an entry of a selection that is no longer stored.
var errItemGone = errors.New("selected item no longer stored")

// pageViews returns the views of sel's entries lo to hi, reading the items
// not viewed yet from the store in one query.
func (p *Publisher) pageViews(ctx context.Context, sel *selection, v *stateView, lo, hi int) ([]*entryView, error) {
	var missing []string
	for _, e := range sel.entries[lo:hi] {
		if sel.views[e.head.ID] == nil {
			missing = append(missing, e.head.ID)
		}
	}
	if len(missing) > 0 {
		items, err := p.st.ItemsByID(ctx, missing)
		if err != nil {
			return nil, fmt.Errorf("read page items: %w", err)
		}
		for _, id := range missing {
			if _, ok := items[id]; !ok {
				return nil, fmt.Errorf("item %q: %w", id, errItemGone)
			}
		}
		for _, e := range sel.entries[lo:hi] {
			if sel.views[e.head.ID] == nil {
				it := items[e.head.ID]
				sel.views[e.head.ID] = p.view(&v.out, &it, e.alsoIn, v.srcs, sel.lastModified)
			}
		}
	}
	views := make([]*entryView, 0, hi-lo)
	for _, e := range sel.entries[lo:hi] {
		views = append(views, sel.views[e.head.ID])
	}
	return views, nil
}

// stateView is a consistent snapshot of an output's state.
type stateView struct {
	out    model.Output
	gen    uint64
	srcs   map[string]model.SourceInfo
	cached map[renderKey]*Rendered
}

// selectionLocked returns the output's current selection, computing and
// caching it when needed. The caller holds st.build.
func (p *Publisher) selectionLocked(ctx context.Context, st *outputState) (*selection, stateView, error) {
	p.mu.Lock()
	v := stateView{out: st.out, gen: st.gen, srcs: p.sources, cached: st.renders}
	sel := st.sel
	p.mu.Unlock()
	if sel != nil {
		return sel, v, nil
	}
	// SetConfig replaces p.sources instead of changing it, so the snapshot
	// may be read without the lock.
	sel, err := p.selectEntries(ctx, &v.out, v.srcs)
	if err != nil {
		return nil, v, err
	}
	p.mu.Lock()
	if st.gen == v.gen {
		st.sel = sel
	}
	p.mu.Unlock()
	return sel, v, nil
}

// reselectLocked replaces the output's selection with a new one read from
// the store. The caller holds st.build.
func (p *Publisher) reselectLocked(ctx context.Context, st *outputState, v *stateView) (*selection, error) {
	sel, err := p.selectEntries(ctx, &v.out, v.srcs)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if st.gen == v.gen {
		st.sel = sel
	}
	p.mu.Unlock()
	return sel, nil
}

// wholeSelection is selectionLocked, every entry known, for callers that
// do not hold the output's build lock.
func (p *Publisher) wholeSelection(ctx context.Context, st *outputState) (*selection, stateView, error) {
	st.build.Lock()
	defer st.build.Unlock()
	sel, v, err := p.selectionLocked(ctx, st)
	if err != nil {
		return nil, v, err
	}
	if err := p.extend(ctx, sel, sel.total); err != nil {
		return nil, v, err
	}
	return sel, v, nil
}

func newRendered(body []byte, contentType string, lastMod time.Time, entries, pages int) (*Rendered, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	tag := etagOf(body)
	r := &Rendered{
		Body:         body,
		Gzip:         gz.Bytes(),
		ETag:         `"` + tag + `"`,
		GzipETag:     `"` + tag + `-gz"`,
		LastModified: lastMod,
		ContentType:  contentType,
		Entries:      entries,
		Pages:        pages,
	}
	r.hdr = renderedHeaders{
		lastModified: []string{lastMod.UTC().Format(http.TimeFormat)},
		contentType:  []string{contentType},
		plain:        variantHeaders{etag: []string{r.ETag}, length: []string{strconv.Itoa(len(body))}},
		gzip:         variantHeaders{etag: []string{r.GzipETag}, length: []string{strconv.Itoa(gz.Len())}},
	}
	return r, nil
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])[:32]
}

// doc is one page of one output, ready for a format's renderer.
type doc struct {
	out          *model.Output
	base         string
	format       string
	page, pages  int
	lastModified time.Time
	entries      []*entryView
	// hubs are the WebSub hubs to name: Options.Hubs on a first page.
	hubs []string
}

func (d *doc) title() string {
	if t := cleanText(strings.TrimSpace(d.out.Title)); t != "" {
		return t
	}
	return cleanText(d.out.ID)
}

// description is never empty: RSS requires one.
func (d *doc) description() string {
	if s := cleanText(strings.TrimSpace(d.out.Description)); s != "" {
		return s
	}
	return "Items from " + d.title()
}

// pageURL is the canonical URL of page n in format f: page 1 has no query,
// so it is also the feed's subscription URL.
func (d *doc) pageURL(f string, n int) string {
	return outputURL(d.base, d.out.ID, f, n)
}

func outputURL(base, id, format string, page int) string {
	u := base + "feeds/" + url.PathEscape(id) + "." + format
	if page > 1 {
		u += "?page=" + strconv.Itoa(page)
	}
	return u
}

// pagingLink is one RFC 5005 link relation of a page.
type pagingLink struct{ rel, href string }

// paging returns the RFC 5005 first/prev/next/last links of the page; a
// single-page output has none.
func (d *doc) paging() []pagingLink {
	if d.pages <= 1 {
		return nil
	}
	links := []pagingLink{{"first", d.pageURL(d.format, 1)}}
	if d.page > 1 {
		links = append(links, pagingLink{"prev", d.pageURL(d.format, d.page-1)})
	}
	if d.page < d.pages {
		links = append(links, pagingLink{"next", d.pageURL(d.format, d.page+1)})
	}
	return append(links, pagingLink{"last", d.pageURL(d.format, d.pages)})
}

// entryView is the format-independent published form of an entry: every
// string cleaned, HTML sanitized.
type entryView struct {
	id         string // itemURNPrefix + item ID
	link       string // absolute http(s) or ""
	title      string
	author     string // the item's author, else the source's title
	categories []string
	published  time.Time
	updated    time.Time
	summary    string // plain text, at most summaryRunes runes
	text       string // headlines body: summary plus the also-in note
	html       string // articles body: sanitized HTML plus the also-in note
	note       string // "Also reported by: …", "" when no other source
	alsoIn     []string

	sourceID    string
	sourceTitle string
	sourceURL   string // the source's feed URL; "" unless ShowSourceURLs
	sourceSite  string // the source's site URL; "" unless ShowSourceURLs
	story       string
}

// articles reports whether the output republishes full content.
func articles(out *model.Output) bool { return out.Mode == model.OutputModeArticles }

// view builds the published form of an item; also names the other sources
// of its story. fallback dates an item the store gave no dates at all.
func (p *Publisher) view(out *model.Output, it *model.Item, also []string, srcs map[string]model.SourceInfo, fallback time.Time) *entryView {
	v := &entryView{
		id:          itemURNPrefix + url.PathEscape(it.ID),
		link:        safeLink(it.Link),
		title:       cleanText(collapseSpace(it.Title)),
		sourceID:    cleanText(it.SourceID),
		sourceTitle: cleanText(sourceTitle(srcs, it.SourceID)),
		story:       cleanText(storyOf(it.ID, it.StoryID)),
	}
	v.author = cleanText(collapseSpace(it.Author))
	if v.author == "" {
		v.author = v.sourceTitle
	}
	for _, c := range it.Categories {
		if c = cleanText(collapseSpace(c)); c != "" && !slices.Contains(v.categories, c) {
			v.categories = append(v.categories, c)
		}
	}
	v.published = firstNonZero(it.Published, it.FirstSeen, it.Changed, fallback).UTC().Truncate(time.Second)
	v.updated = firstNonZero(it.Updated, v.published).UTC().Truncate(time.Second)
	if v.updated.Before(v.published) {
		// Readers sort and flag by updated; never show an update older than
		// the publication.
		v.updated = v.published
	}
	if s, ok := srcs[it.SourceID]; ok && out.ShowSourceURLs {
		v.sourceURL = safeLink(s.URL)
		v.sourceSite = safeLink(s.SiteURL)
	}
	for _, t := range also {
		v.alsoIn = append(v.alsoIn, cleanText(t))
	}
	if len(v.alsoIn) > 0 {
		v.note = "Also reported by: " + strings.Join(v.alsoIn, ", ")
	}

	summary := cleanText(collapseSpace(it.Summary))
	if summary == "" {
		summary = cleanText(plainText(p.strict, it.ContentHTML))
	}
	v.summary = truncateText(summary, summaryRunes)
	v.text = v.summary
	if v.note != "" {
		v.text = strings.TrimSpace(v.summary + "\n\n" + v.note)
	}
	if articles(out) {
		body := p.sanitizeHTML(it.ContentHTML, v.link)
		if strings.TrimSpace(body) == "" && v.summary != "" {
			body = "<p>" + html.EscapeString(v.summary) + "</p>"
		}
		if v.note != "" {
			body += "<p><small>" + html.EscapeString(v.note) + "</small></p>"
		}
		v.html = body
	}
	return v
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// strictPolicy strips all markup; plain-text summaries come from it.
func strictPolicy() *bluemonday.Policy { return bluemonday.StrictPolicy() }
