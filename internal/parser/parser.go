// Package parser turns a fetched feed document into a model.Feed. It is
// the only user of gofeed and owns everything between the response body
// and normalized items: charset decoding (charset.go), recognising an HTML
// page and the feeds it advertises, resolving relative links, plain-text
// titles and summaries, dates, and each item's identity key.
//
// RSS 0.90 to 2.0, RSS 1.0 (RDF), Atom 0.3 and 1.0 and JSON Feed 1.0 and
// 1.1 are read; gofeed detects which.
//
// An item's identity key (model.Item.Key) is, in order of preference:
//
//   - "guid:" + its id (RSS guid, Atom id, JSON Feed id) when the id is
//     non-empty and no other item of the document has the same one;
//   - "link:" + its canonical link (dedup.CanonicalURL) when it has an
//     http(s) link no other item of the document shares;
//   - "hash:" + a hash of its title, feed date and content, so a feed
//     without ids or links still gives stable keys.
//
// Uniqueness is judged over the whole document, including items beyond
// Options.MaxItems, so the limit never changes a key.
package parser

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"

	"github.com/syndic-dev/syndic/internal/dedup"
	"github.com/syndic-dev/syndic/internal/model"
)

// futureSlack is how far past the fetch time a feed date may lie before it
// is taken for a wrong clock and clamped: a little skew is normal, a date
// days ahead would pin an item to the top of every output.
const futureSlack = 10 * time.Minute

// Options tunes Parse.
type Options struct {
	// MaxItems is the number of items read, in document order; the rest are
	// counted in Feed.Skipped. 0 means no limit.
	MaxItems int
	// Now is the fetch time. Item dates more than 10 minutes after it are
	// clamped to it. The zero value disables clamping.
	Now time.Time
	// Known, when set, is asked once per document for the stored items
	// with the given keys (of the items identified by guid or link).
	// An item whose RawHash matches its stored one is not converted: it
	// comes back Unconverted, with the stored ContentHash. Nil, or a nil
	// map, converts every item.
	Known func(keys []string) map[string]model.KnownItem
}

// NotAFeedError reports that the document is an HTML page, not a feed.
// Alternates lists the feeds the page advertises, as absolute URLs.
type NotAFeedError struct {
	ContentType string // the response's media type, "" when none was given
	Alternates  []string
}

func (e *NotAFeedError) Error() string {
	var b strings.Builder
	b.WriteString("not a feed")
	if e.ContentType != "" {
		b.WriteString(" (" + e.ContentType + ")")
	}
	if len(e.Alternates) == 0 {
		b.WriteString(": an html page that advertises no feed")
	} else {
		b.WriteString(": the page advertises " + strings.Join(e.Alternates, ", "))
	}
	return b.String()
}

// ParseError reports a document that is not a readable feed: empty,
// truncated, malformed, or of no known format.
type ParseError struct {
	Err error
}

func (e *ParseError) Error() string { return "parse feed: " + e.Err.Error() }

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads one feed document. body is the response body, contentType
// the response's Content-Type header ("" when absent) and feedURL the URL
// the document came from, used to resolve relative links.
//
// It returns *NotAFeedError for an HTML page and *ParseError for anything
// else it cannot read. Items get every field except ID and SourceID, which
// the caller derives (model.ItemID).
func Parse(body []byte, contentType, feedURL string, opts Options) (*model.Feed, error) {
	mediaType := ""
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil {
			mediaType = strings.ToLower(mt)
		}
	}
	doc, err := toUTF8(body, contentType)
	if err != nil {
		return nil, &ParseError{Err: fmt.Errorf("decode charset: %w", err)}
	}
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 {
		return nil, &ParseError{Err: errors.New("empty document")}
	}
	if looksLikeHTML(trimmed) {
		return nil, &NotAFeedError{ContentType: mediaType, Alternates: alternates(doc, feedURL)}
	}

	fp := gofeed.NewParser()
	// The original feed carries what the universal one drops: RSS <ttl>,
	// guid isPermaLink, JSON content_text and version.
	fp.KeepOriginalFeed = true
	// Images are not read, so gofeed need not parse every RSS item's HTML
	// to find one.
	fp.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	gf, err := fp.Parse(bytes.NewReader(doc))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) && (mediaType == "text/html" || mediaType == "application/xhtml+xml") {
			// Served as HTML and not a feed: a page, whatever its markup.
			return nil, &NotAFeedError{ContentType: mediaType, Alternates: alternates(doc, feedURL)}
		}
		return nil, &ParseError{Err: err}
	}
	if jf, ok := gf.OriginalFeed().(*json.Feed); ok && !strings.Contains(jf.Version, "jsonfeed.org/version/") {
		return nil, &ParseError{Err: errors.New("json document is not a json feed (no jsonfeed.org version)")}
	}
	return convert(gf, feedURL, opts), nil
}

// looksLikeHTML sniffs an HTML document by its first markup, as browsers
// do; a feed never starts like this.
func looksLikeHTML(doc []byte) bool {
	head := bytes.ToLower(doc[:min(len(doc), 512)])
	// Skip comments and an XML declaration an XHTML page may carry.
	for {
		switch {
		case bytes.HasPrefix(head, []byte("<!--")):
			end := bytes.Index(head, []byte("-->"))
			if end < 0 {
				return false
			}
			head = bytes.TrimSpace(head[end+3:])
			continue
		case bytes.HasPrefix(head, []byte("<?xml")):
			end := bytes.Index(head, []byte("?>"))
			if end < 0 {
				return false
			}
			head = bytes.TrimSpace(head[end+2:])
			continue
		}
		break
	}
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html"))
}

// convert maps gofeed's universal feed onto model.Feed.
func convert(gf *gofeed.Feed, feedURL string, opts Options) *model.Feed {
	docURL, _ := url.Parse(feedURL)
	if docURL != nil && !docURL.IsAbs() {
		docURL = nil
	}
	f := &model.Feed{
		Title:       cleanTitle(gf.Title),
		Description: truncate(plainText(gf.Description), descriptionRune),
		Format:      gf.FeedType,
	}
	if site := absHTTP(docURL, gf.Link); site != "" {
		f.SiteURL = site
	}
	// Relative item links and content URLs are relative to the site when
	// the feed names one, else to the feed itself. gofeed has already
	// applied any xml:base in scope.
	base := docURL
	if f.SiteURL != "" {
		base, _ = url.Parse(f.SiteURL)
	}

	var rssItems []*rss.Item
	var jsonItems []*json.Item
	switch of := gf.OriginalFeed().(type) {
	case *rss.Feed:
		if ttl, err := strconv.Atoi(strings.TrimSpace(of.TTL)); err == nil && ttl > 0 {
			f.TTL = time.Duration(ttl) * time.Minute
		}
		rssItems = of.Items
	case *json.Feed:
		jsonItems = of.Items
	}

	feedAuthor := personName(gf.Authors, gf.Author)

	// Links and ids of every item first: uniqueness covers the document.
	ids := make([]itemIDs, len(gf.Items))
	guidCount := make(map[string]int, len(gf.Items))
	linkCount := make(map[string]int, len(gf.Items))
	for i, it := range gf.Items {
		if it == nil {
			continue
		}
		id := &ids[i]
		id.guid = strings.TrimSpace(it.GUID)
		if id.guid != "" {
			guidCount[id.guid]++
		}
		id.guidIsLink = guidIsLink(it, id.guid, itemAt(rssItems, i))
		id.link = itemLink(it, id.guid, id.guidIsLink, base)
		if id.canonicalURL = dedup.CanonicalURL(id.link); id.canonicalURL != "" {
			linkCount[id.canonicalURL]++
		}
	}

	n := len(gf.Items)
	if opts.MaxItems > 0 && n > opts.MaxItems {
		f.Skipped = n - opts.MaxItems
		n = opts.MaxItems
	}
	// Items identified by guid or link have their key before conversion;
	// those stored with the same raw hash need none.
	var known map[string]model.KnownItem
	if opts.Known != nil {
		var keys []string
		for i, it := range gf.Items[:n] {
			if it != nil {
				if k := preKey(ids[i], guidCount, linkCount); k != "" {
					keys = append(keys, k)
				}
			}
		}
		if len(keys) > 0 {
			known = opts.Known(keys)
		}
	}
	f.Items = make([]model.Item, 0, n)
	for i, it := range gf.Items[:n] {
		if it == nil {
			continue
		}
		ji := itemAt(jsonItems, i)
		raw := rawHash(it, ji, ids[i].link)
		if k := preKey(ids[i], guidCount, linkCount); k != "" {
			if kn, ok := known[k]; ok && kn.RawHash == raw {
				f.Items = append(f.Items, model.Item{Key: k, RawHash: raw, ContentHash: kn.ContentHash, Unconverted: true})
				continue
			}
		}
		item := convertItem(it, ji, ids[i], base, feedAuthor, opts.Now)
		item.RawHash = raw
		switch {
		case item.GUID != "" && guidCount[item.GUID] == 1:
			item.Key = "guid:" + item.GUID
		case item.CanonicalURL != "" && linkCount[item.CanonicalURL] == 1:
			item.Key = "link:" + item.CanonicalURL
		default:
			item.Key = "hash:" + hashKey(it, item)
		}
		f.Items = append(f.Items, item)
	}
	return f
}

// itemAt returns s[i], or the zero value when the original feed is of
// another format.
func itemAt[T any](s []*T, i int) *T {
	if i < len(s) {
		return s[i]
	}
	return nil
}

// itemIDs are the parts of an item's identity that convert works out for
// every item of the document before converting any.
type itemIDs struct {
	guid         string // trimmed
	guidIsLink   bool
	link         string // itemLink
	canonicalURL string // of link
}

// preKey is the key of an item identified by its guid or link, known
// before conversion; "" for an item keyed by a hash of its content.
// convert's switch gives converted items the same key.
func preKey(id itemIDs, guidCount, linkCount map[string]int) string {
	switch {
	case id.guid != "" && guidCount[id.guid] == 1:
		return "guid:" + id.guid
	case id.canonicalURL != "" && linkCount[id.canonicalURL] == 1:
		return "link:" + id.canonicalURL
	}
	return ""
}

// rawHashVersion changes whenever convertItem derives the title or text,
// and so ContentHash, differently from the same raw fields, or the hash
// itself changes: stored raw hashes then stop matching and every item is
// converted once more. 2: xxhash instead of FNV-1a, which hashed a byte at
// a time and copied every field (0.12 s of a 3.5 s first ingest).
const rawHashVersion = "2"

// rawHash hashes what convertItem derives an item's ContentHash from: its
// title, content, description, JSON Feed content_text (and whether it
// has content_html), and its link, which titles an item with neither
// title nor text. Zero is reserved for "unknown".
func rawHash(it *gofeed.Item, ji *json.Item, link string) int64 {
	h := xxhash.New()
	for _, s := range []string{rawHashVersion, it.Title, it.Content, it.Description, link} {
		h.WriteString(s)
		h.Write(zeroByte)
	}
	if ji != nil {
		if ji.ContentHTML != "" {
			h.Write(oneByte)
		}
		h.Write(zeroByte)
		h.WriteString(ji.ContentText)
	}
	v := int64(h.Sum64())
	if v == 0 {
		v = 1
	}
	return v
}

var zeroByte, oneByte = []byte{0}, []byte{1}

// convertItem normalizes one item; Key is set by the caller.
func convertItem(it *gofeed.Item, ji *json.Item, id itemIDs, base *url.URL, feedAuthor string, now time.Time) model.Item {
	link := id.link
	item := model.Item{
		GUID:         id.guid,
		GUIDIsLink:   id.guidIsLink,
		Link:         link,
		CanonicalURL: id.canonicalURL,
		Title:        cleanTitle(it.Title),
		Author:       personName(it.Authors, it.Author),
		Categories:   categories(it.Categories),
		Published:    itemDate(it, now),
	}
	if item.Author == "" {
		item.Author = feedAuthor
	}

	// Content HTML and its text: the longer of description and content,
	// since feeds put the full article in either and a teaser in the other.
	contentHTML, text := it.Content, plainText(it.Content)
	if ji != nil && ji.ContentHTML == "" && ji.ContentText != "" {
		contentHTML, text = escapeText(ji.ContentText), collapseSpace(ji.ContentText)
	}
	if desc := plainText(it.Description); len(desc) > len(text) {
		contentHTML, text = it.Description, desc
	}
	item.ContentHTML = validUTF8(resolveHTML(strings.TrimSpace(contentHTML), base))
	item.Summary = truncate(text, summaryRunes)

	if item.Title == "" {
		switch {
		case text != "":
			item.Title = truncate(text, titleFromText)
		case link != "":
			item.Title = link
		default:
			item.Title = "(untitled)"
		}
	}
	item.ContentHash, item.StoryKeys, item.TitleSketch = dedup.Fingerprint(item.Title, text, item.CanonicalURL)
	return item
}

// guidIsLink reports whether an item's id is itself a permalink: an
// http(s) URL, and for RSS not marked isPermaLink="false" (the default is
// true).
func guidIsLink(it *gofeed.Item, guid string, ri *rss.Item) bool {
	if !isHTTPURL(guid) {
		return false
	}
	if ri != nil && ri.GUID != nil {
		return !strings.EqualFold(strings.TrimSpace(ri.GUID.IsPermalink), "false")
	}
	return true
}

// itemLink is the item's absolute http(s) link: its link, else its first
// other link (Atom without rel="alternate", JSON external_url), else a
// permalink guid.
func itemLink(it *gofeed.Item, guid string, guidLink bool, base *url.URL) string {
	candidates := append([]string{it.Link}, it.Links...)
	if guidLink {
		candidates = append(candidates, guid)
	}
	for _, c := range candidates {
		if l := absHTTP(base, c); l != "" {
			return l
		}
	}
	return ""
}

// absHTTP resolves ref against base and returns it when the result is an
// absolute http(s) URL, else "". Other schemes (javascript:, mailto:) are
// no article links.
func absHTTP(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if !u.IsAbs() && base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return validUTF8(u.String())
}

// validUTF8 replaces each run of invalid UTF-8 in s with U+FFFD.
// strings.ToValidUTF8 decodes every rune to find out that there is none;
// utf8.ValidString checks eight ASCII bytes at a time, and nearly all
// text is valid already (the document was made valid UTF-8 before
// parsing). On 2 KB of HTML with a few quotes and dashes: 1,580 -> 820 ns.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// itemDate is the published date, else the updated date, in UTC; zero
// when the feed gave neither. A date in the future beyond futureSlack is
// clamped to now.
func itemDate(it *gofeed.Item, now time.Time) time.Time {
	var t time.Time
	switch {
	case it.PublishedParsed != nil:
		t = *it.PublishedParsed
	case it.UpdatedParsed != nil:
		t = *it.UpdatedParsed
	default:
		return time.Time{}
	}
	if !now.IsZero() && t.After(now.Add(futureSlack)) {
		t = now
	}
	return t.UTC()
}

// hashKey identifies an item that has neither a unique id nor a unique
// link by its title, feed date and content. The date is the feed's own
// (before clamping), so the key does not depend on the fetch time.
func hashKey(it *gofeed.Item, item model.Item) string {
	date := strings.TrimSpace(it.Published)
	if date == "" {
		date = strings.TrimSpace(it.Updated)
	}
	sum := sha256.Sum256([]byte(item.Title + "\n" + date + "\n" + item.ContentHTML))
	return hex.EncodeToString(sum[:16])
}

// personName is the first named person, as plain text.
func personName(people []*gofeed.Person, fallback *gofeed.Person) string {
	for _, p := range people {
		if p != nil {
			if name := cleanTitle(p.Name); name != "" {
				return name
			}
		}
	}
	if fallback != nil {
		return cleanTitle(fallback.Name)
	}
	return ""
}

// categories cleans category names and drops empty and repeated ones.
func categories(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	var out []string
	seen := make(map[string]bool)
	for _, c := range in {
		c = cleanTitle(c)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}
