package parser

// This file keeps the conversion as it was before it was tuned for speed
// (commit 1ad6e2b), as the reference the differential tests and fuzz
// targets compare the current code with: every field of every item, its
// content hash and story keys are stored in databases, so the tuned code
// must give byte-identical results for every input. The helpers the tuning
// left alone (links, dates, hash keys, charset detection) and the dedup
// calls are shared; dedup keeps its own reference.

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/syndic-dev/syndic/internal/dedup"
	"github.com/syndic-dev/syndic/internal/model"
)

func refParse(body []byte, contentType, feedURL string, opts Options) (*model.Feed, error) {
	mediaType := ""
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err == nil {
			mediaType = strings.ToLower(mt)
		}
	}
	doc, err := refToUTF8(body, contentType)
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
	fp.KeepOriginalFeed = true
	gf, err := fp.Parse(bytes.NewReader(doc))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) && (mediaType == "text/html" || mediaType == "application/xhtml+xml") {
			return nil, &NotAFeedError{ContentType: mediaType, Alternates: alternates(doc, feedURL)}
		}
		return nil, &ParseError{Err: err}
	}
	if jf, ok := gf.OriginalFeed().(*json.Feed); ok && !strings.Contains(jf.Version, "jsonfeed.org/version/") {
		return nil, &ParseError{Err: errors.New("json document is not a json feed (no jsonfeed.org version)")}
	}
	return refConvert(gf, feedURL, opts), nil
}

func refConvert(gf *gofeed.Feed, feedURL string, opts Options) *model.Feed {
	docURL, _ := url.Parse(feedURL)
	if docURL != nil && !docURL.IsAbs() {
		docURL = nil
	}
	f := &model.Feed{Title: refCleanTitle(gf.Title), Description: refTruncate(refPlainText(gf.Description), descriptionRune), Format: gf.FeedType}
	if site := absHTTP(docURL, gf.Link); site != "" {
		f.SiteURL = site
	}
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
	feedAuthor := refPersonName(gf.Authors, gf.Author)
	links := make([]string, len(gf.Items))
	guidCount := make(map[string]int)
	linkCount := make(map[string]int)
	for i, it := range gf.Items {
		if it == nil {
			continue
		}
		guid := strings.TrimSpace(it.GUID)
		if guid != "" {
			guidCount[guid]++
		}
		links[i] = itemLink(it, guid, guidIsLink(it, guid, itemAt(rssItems, i)), base)
		if c := dedup.CanonicalURL(links[i]); c != "" {
			linkCount[c]++
		}
	}
	n := len(gf.Items)
	if opts.MaxItems > 0 && n > opts.MaxItems {
		f.Skipped = n - opts.MaxItems
		n = opts.MaxItems
	}
	f.Items = make([]model.Item, 0, n)
	for i, it := range gf.Items[:n] {
		if it == nil {
			continue
		}
		item := refConvertItem(it, itemAt(rssItems, i), itemAt(jsonItems, i), links[i], base, feedAuthor, opts.Now)
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

func refConvertItem(it *gofeed.Item, ri *rss.Item, ji *json.Item, link string, base *url.URL, feedAuthor string, now time.Time) model.Item {
	guid := strings.TrimSpace(it.GUID)
	item := model.Item{GUID: guid, GUIDIsLink: guidIsLink(it, guid, ri), Link: link, CanonicalURL: dedup.CanonicalURL(link), Title: refCleanTitle(it.Title), Author: refPersonName(it.Authors, it.Author), Categories: refCategories(it.Categories), Published: itemDate(it, now)}
	if item.Author == "" {
		item.Author = feedAuthor
	}
	contentHTML, text := it.Content, refPlainText(it.Content)
	if ji != nil && ji.ContentHTML == "" && ji.ContentText != "" {
		contentHTML, text = escapeText(ji.ContentText), refCollapseSpace(ji.ContentText)
	}
	if desc := refPlainText(it.Description); len(desc) > len(text) {
		contentHTML, text = it.Description, desc
	}
	item.ContentHTML = strings.ToValidUTF8(refResolveHTML(strings.TrimSpace(contentHTML), base), "\uFFFD")
	item.Summary = refTruncate(text, summaryRunes)
	if item.Title == "" {
		switch {
		case text != "":
			item.Title = refTruncate(text, titleFromText)
		case link != "":
			item.Title = link
		default:
			item.Title = "(untitled)"
		}
	}
	item.ContentHash = dedup.ContentHash(item.Title, text)
	item.StoryKeys = dedup.StoryKeys(item.Title, text, item.CanonicalURL)
	item.TitleSketch = dedup.TitleSketch(item.Title)
	return item
}

func refPersonName(people []*gofeed.Person, fallback *gofeed.Person) string {
	for _, p := range people {
		if p != nil {
			if name := refCleanTitle(p.Name); name != "" {
				return name
			}
		}
	}
	if fallback != nil {
		return refCleanTitle(fallback.Name)
	}
	return ""
}

func refCategories(in []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, c := range in {
		c = refCleanTitle(c)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

func refPlainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return refCollapseSpace(s)
	}
	var b strings.Builder
	z := xhtml.NewTokenizer(strings.NewReader(s))
	hidden := 0
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return refCollapseSpace(b.String())
		case xhtml.TextToken:
			if hidden == 0 {
				b.Write(z.Text())
			}
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if hiddenElements[a] {
				switch {
				case tt == xhtml.StartTagToken:
					hidden++
				case tt == xhtml.EndTagToken && hidden > 0:
					hidden--
				}
			}
			if blockElements[a] {
				b.WriteByte(' ')
			}
		}
	}
}

func refCollapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case unicode.IsControl(r) || r == '\uFEFF' || r == 0xFFFE || r == 0xFFFF:
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func refCleanTitle(s string) string {
	t := refPlainText(s)
	if strings.Contains(t, "<") && strings.Contains(t, ">") {
		t = refPlainText(t)
	}
	return t
}

func refTruncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if n == 0 {
			cut = i
			break
		}
		n--
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > cut/2 {
		cut = sp
	}
	return strings.TrimRightFunc(s[:cut], func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r)
	}) + "…"
}

func refResolveHTML(s string, base *url.URL) string {
	if base == nil || !strings.Contains(s, "=") {
		return s
	}
	var out bytes.Buffer
	out.Grow(len(s) + 64)
	z := xhtml.NewTokenizer(strings.NewReader(s))
	changed := false
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		raw := z.Raw()
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			out.Write(raw)
			continue
		}
		tok := z.Token()
		modified := false
		for i, a := range tok.Attr {
			var v string
			switch {
			case urlAttrs[a.Key]:
				v = refResolveRef(base, a.Val)
			case a.Key == "srcset":
				v = refResolveSrcset(base, a.Val)
			default:
				continue
			}
			if v != a.Val {
				tok.Attr[i].Val = v
				modified = true
			}
		}
		if !modified {
			out.Write(raw)
			continue
		}
		changed = true
		out.WriteString(tok.String())
	}
	if !changed {
		return s
	}
	return out.String()
}

func refResolveRef(base *url.URL, ref string) string {
	r := strings.TrimSpace(ref)
	if r == "" || strings.HasPrefix(r, "#") {
		return ref
	}
	u, err := url.Parse(r)
	if err != nil || u.IsAbs() {
		return ref
	}
	return base.ResolveReference(u).String()
}

func refResolveSrcset(base *url.URL, v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		fields := strings.Fields(p)
		if len(fields) == 0 {
			continue
		}
		fields[0] = refResolveRef(base, fields[0])
		parts[i] = strings.Join(fields, " ")
	}
	return strings.Join(parts, ", ")
}

func refToUTF8(body []byte, contentType string) ([]byte, error) {
	enc, rest := detectEncoding(body, contentType)
	var out []byte
	if enc == nil {
		out = bytes.ToValidUTF8(rest, []byte("\uFFFD"))
	} else {
		decoded, err := enc.NewDecoder().Bytes(rest)
		if err != nil {
			return nil, err
		}
		out = bytes.ToValidUTF8(decoded, []byte("\uFFFD"))
	}
	return rewriteXMLDecl(refDropIllegalXMLChars(out)), nil
}

func refDropIllegalXMLChars(b []byte) []byte {
	illegal := func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF
	}
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if illegal(r) {
			break
		}
		i += size
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, i, len(b))
	copy(out, b[:i])
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if !illegal(r) {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
