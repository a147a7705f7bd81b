package parser

import (
	"bytes"
	"html"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Length bounds for derived text.
const (
	summaryRunes    = 500 // Item.Summary
	titleFromText   = 80  // a title made from the text of an untitled item
	descriptionRune = 1000
)

// blockElements end a run of text: their content is a separate phrase, so
// "<p>a</p><p>b</p>" reads "a b", while "<b>a</b>b" stays "ab".
var blockElements = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Br: true, atom.Dd: true, atom.Div: true, atom.Dl: true, atom.Dt: true,
	atom.Figcaption: true, atom.Figure: true, atom.Footer: true, atom.Form: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true,
	atom.H6: true, atom.Header: true, atom.Hr: true, atom.Img: true, atom.Li: true,
	atom.Main: true, atom.Nav: true, atom.Ol: true, atom.P: true, atom.Pre: true,
	atom.Section: true, atom.Table: true, atom.Td: true, atom.Th: true,
	atom.Tr: true, atom.Ul: true,
}

// hiddenElements hold no readable text.
var hiddenElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Template: true, atom.Noscript: true,
	atom.Iframe: true, atom.Object: true, atom.Svg: true, atom.Math: true,
	atom.Head: true, atom.Title: true,
}

// plainText returns the readable text of an HTML fragment: tags removed
// (and the content of script, style and similar elements), entities
// decoded, control characters removed, whitespace collapsed.
func plainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return collapseSpace(s)
	}
	var b strings.Builder
	z := xhtml.NewTokenizer(strings.NewReader(s))
	hidden := 0
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return collapseSpace(b.String())
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

// collapseSpace replaces runs of white space with one space, drops other
// control characters and invalid UTF-8, and trims the ends.
func collapseSpace(s string) string {
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

// cleanTitle turns a feed's title field into plain text. Titles are
// declared text but often carry escaped markup or entities.
func cleanTitle(s string) string {
	t := plainText(s)
	// Markup escaped once more than needed ("&lt;b&gt;") is still markup.
	if strings.Contains(t, "<") && strings.Contains(t, ">") {
		t = plainText(t)
	}
	return t
}

// truncate cuts s to at most n runes at a word boundary, marking the cut
// with "…".
func truncate(s string, n int) string {
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

// urlAttrs are the attributes whose value is one URL.
var urlAttrs = map[string]bool{"href": true, "src": true, "poster": true, "cite": true, "action": true}

// resolveHTML makes relative URLs in href, src, poster, cite, action and
// srcset attributes absolute against base. Only tags that change are
// re-serialized; everything else is copied byte for byte, so the HTML
// stays as the publisher wrote it.
func resolveHTML(s string, base *url.URL) string {
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
				v = resolveRef(base, a.Val)
			case a.Key == "srcset":
				v = resolveSrcset(base, a.Val)
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

// resolveRef resolves ref against base when it is relative. Fragment-only
// references stay: they point inside the content itself.
func resolveRef(base *url.URL, ref string) string {
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

// resolveSrcset resolves each image candidate of a srcset attribute.
func resolveSrcset(base *url.URL, v string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		fields := strings.Fields(p)
		if len(fields) == 0 {
			continue
		}
		fields[0] = resolveRef(base, fields[0])
		parts[i] = strings.Join(fields, " ")
	}
	return strings.Join(parts, ", ")
}

// feedLinkTypes are the link types that announce a feed.
var feedLinkTypes = map[string]bool{
	"application/rss+xml":   true,
	"application/atom+xml":  true,
	"application/feed+json": true,
	"application/json":      true,
	"application/rdf+xml":   true,
}

// alternates lists the feeds an HTML page advertises with
// <link rel="alternate" type="..." href="...">, made absolute against the
// page's <base href> or pageURL, without duplicates, in document order.
func alternates(page []byte, pageURL string) []string {
	base, _ := url.Parse(pageURL)
	var out []string
	seen := make(map[string]bool)
	z := xhtml.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			return out
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		if !hasAttr {
			continue
		}
		a := atom.Lookup(name)
		if a != atom.Link && a != atom.Base {
			continue
		}
		attrs := make(map[string]string)
		for {
			k, v, more := z.TagAttr()
			attrs[string(k)] = string(v)
			if !more {
				break
			}
		}
		href := strings.TrimSpace(attrs["href"])
		if href == "" {
			continue
		}
		if a == atom.Base {
			if u, err := url.Parse(href); err == nil && base != nil {
				base = base.ResolveReference(u)
			} else if err == nil {
				base = u
			}
			continue
		}
		if !hasToken(attrs["rel"], "alternate") {
			continue
		}
		typ, _, _ := strings.Cut(strings.ToLower(attrs["type"]), ";")
		if !feedLinkTypes[strings.TrimSpace(typ)] {
			continue
		}
		u, err := url.Parse(href)
		if err != nil {
			continue
		}
		if base != nil {
			u = base.ResolveReference(u)
		}
		if !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		s := u.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
}

// hasToken reports whether the space-separated list holds tok, ignoring
// case, as rel attributes are compared.
func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// escapeText turns plain text into HTML, keeping its paragraphs.
func escapeText(s string) string {
	s = html.EscapeString(strings.TrimSpace(s))
	return strings.ReplaceAll(s, "\n", "<br>\n")
}
