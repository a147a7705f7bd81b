package parser

import (
	"bytes"
	"encoding/binary"
	"html"
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/syndic-dev/syndic/internal/swar"
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

// bufPool recycles the scratch buffers that text is gathered in before it
// is collapsed. putBuf drops a buffer an unusually long item has grown.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func putBuf(p *[]byte, b []byte) {
	if cap(b) <= 256<<10 {
		*p = b
		bufPool.Put(p)
	}
}

// plainText returns the readable text of an HTML fragment: tags removed
// (and the content of script, style and similar elements), entities
// decoded, control characters removed, whitespace collapsed.
func plainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return collapseSpace(s)
	}
	buf := bufPool.Get().(*[]byte)
	b, ok := appendHTMLText((*buf)[:0], s)
	if !ok {
		b = appendHTMLTextTokenized((*buf)[:0], s)
	}
	t := collapseBytes(b)
	putBuf(buf, b)
	return t
}

// textGatherer collects the text of markup for plainText: text outside
// hidden elements, and a space for every block element.
type textGatherer struct {
	text   []byte
	hidden int // depth in hidden elements
}

func (g *textGatherer) tag(a atom.Atom, start, end bool) {
	if hiddenElements[a] {
		switch {
		case start:
			g.hidden++
		case end && g.hidden > 0:
			g.hidden--
		}
	}
	if blockElements[a] {
		g.text = append(g.text, ' ')
	}
}

// appendHTMLText appends the text of s to dst as appendHTMLTextTokenized
// does, using htmlScanner. It reports false, leaving dst in any state, for
// markup the scanner leaves to the Tokenizer.
func appendHTMLText(dst []byte, s string) ([]byte, bool) {
	z := htmlScanner{s: s}
	g := textGatherer{text: dst}
	for {
		switch k := z.next(); k {
		case tokEOF, tokCutTag:
			return g.text, true
		case tokUnsupported:
			return g.text, false
		case tokText:
			if g.hidden == 0 {
				g.text = appendUnescaped(g.text, s[z.tok.start:z.tok.end])
			}
		case tokStartTag, tokSelfClosingTag, tokEndTag:
			g.tag(z.atom(), k == tokStartTag, k == tokEndTag)
		}
	}
}

// appendUnescaped appends text with its entities decoded as the Tokenizer
// decodes a text token, that is as xhtml.UnescapeString does. (The
// Tokenizer also turns "\r\n" and "\r" into "\n" first; plainText
// collapses all three into one space anyway.)
func appendUnescaped(dst []byte, text string) []byte {
	for {
		i := strings.IndexByte(text, '&')
		if i < 0 {
			return append(dst, text...)
		}
		dst = append(dst, text[:i]...)
		text = text[i:]
		r, n := commonEntity(text)
		if n == 0 {
			// Decoding reads on from each '&' and never back, so the
			// Tokenizer's own unescaping can take over from here.
			return append(dst, xhtml.UnescapeString(text)...)
		}
		dst = utf8.AppendRune(dst, r)
		text = text[n:]
	}
}

// commonEntity decodes the character reference at the start of s (which
// starts with '&') and returns it and its length, when it is one that feeds
// use all the time: a numeric reference to a character that stands for
// itself, or one of a few named ones, each closed by ';'. Otherwise it
// returns 0, 0.
func commonEntity(s string) (rune, int) {
	if len(s) < 4 {
		return 0, 0
	}
	if s[1] == '#' {
		i, base := 2, 10
		if s[2] == 'x' || s[2] == 'X' {
			i, base = 3, 16
		}
		x, start := 0, i
		for ; i < len(s) && i-start < 7; i++ {
			d := digitValue(s[i])
			if d >= base {
				break
			}
			x = x*base + d
		}
		if i == start || i == len(s) || s[i] != ';' {
			return 0, 0
		}
		if x == 0 || 0x80 <= x && x <= 0x9F || 0xD800 <= x && x <= 0xDFFF || x > utf8.MaxRune {
			return 0, 0 // replaced by another character
		}
		return rune(x), i + 1
	}
	end := strings.IndexByte(s[:min(len(s), 8)], ';')
	if end < 0 {
		return 0, 0
	}
	var r rune
	switch s[1:end] {
	case "amp":
		r = '&'
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "quot":
		r = '"'
	case "apos":
		r = '\''
	case "nbsp":
		r = '\u00A0'
	case "lsquo":
		r = '‘'
	case "rsquo":
		r = '’'
	case "ldquo":
		r = '“'
	case "rdquo":
		r = '”'
	case "ndash":
		r = '–'
	case "mdash":
		r = '—'
	case "hellip":
		r = '…'
	default:
		return 0, 0
	}
	return r, end + 1
}

// digitValue is the value of a hexadecimal digit, 16 for other bytes.
func digitValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return 16
}

// appendHTMLTextTokenized appends the text of s to dst: the text outside
// script, style and similar elements, entities decoded, and a space for
// every block element.
func appendHTMLTextTokenized(dst []byte, s string) []byte {
	z := xhtml.NewTokenizer(strings.NewReader(s))
	g := textGatherer{text: dst}
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			return g.text
		case xhtml.TextToken:
			if g.hidden == 0 {
				g.text = append(g.text, z.Text()...)
			}
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			name, _ := z.TagName()
			g.tag(atom.Lookup(name), tt == xhtml.StartTagToken, tt == xhtml.EndTagToken)
		}
	}
}

// Classes of ASCII characters for collapseSpace.
const (
	asciiKeep  = iota
	asciiSpace // unicode.IsSpace
	asciiDrop  // other control characters
)

var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for i := range c {
		switch r := rune(i); {
		case unicode.IsSpace(r):
			c[i] = asciiSpace
		case unicode.IsControl(r):
			c[i] = asciiDrop
		}
	}
	return c
}()

// dropRune reports whether collapseSpace drops a non-space rune.
func dropRune(r rune) bool {
	return unicode.IsControl(r) || r == '\uFEFF' || r == 0xFFFE || r == 0xFFFF
}

// collapseSpace replaces runs of white space with one space, drops other
// control characters and invalid UTF-8, and trims the ends.
func collapseSpace(s string) string {
	if isCollapsed(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	invalid := false // the previous byte was part of invalid UTF-8
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			invalid = false
			switch asciiClass[c] {
			case asciiSpace:
				space = b.Len() > 0
			case asciiDrop:
			default:
				if space {
					b.WriteByte(' ')
					space = false
				}
				b.WriteByte(c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 {
			// A run of invalid bytes reads as one U+FFFD, as
			// strings.ToValidUTF8 has it.
			i++
			if invalid {
				continue
			}
			invalid = true
		} else {
			i += size
			invalid = false
		}
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
		case dropRune(r):
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

// isCollapsed reports whether collapseSpace(s) is s: valid UTF-8 without
// control characters, other white space than single inner spaces.
func isCollapsed(s string) bool {
	space := true // no leading space
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ':
				if space {
					return false
				}
				space = true
			case asciiClass[c] != asciiKeep:
				return false
			default:
				space = false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if size == 1 || unicode.IsSpace(r) || dropRune(r) {
			return false
		}
		space = false
		i += size
	}
	return !space || s == ""
}

// collapseBytes returns collapseSpace(string(b)), collapsing b in place.
func collapseBytes(b []byte) string {
	if !utf8.Valid(b) {
		return collapseSpace(string(b))
	}
	w := 0
	space := false
	for i := 0; i < len(b); {
		c := b[i]
		if keptASCII[c] {
			// Text is mostly runs of printable ASCII with single spaces
			// between words, which stay as they are: find the run's end
			// and move it in one copy, or not at all while nothing
			// before it was dropped.
			j := keptRunEnd(b, i+1)
			if space {
				b[w] = ' '
				w++
				space = false
			}
			if w != i {
				copy(b[w:], b[i:j])
			}
			w += j - i
			i = j
			continue
		}
		if c < utf8.RuneSelf {
			i++
			switch asciiClass[c] {
			case asciiSpace:
				space = w > 0
			case asciiDrop:
			default:
				if space {
					b[w] = ' '
					w++
					space = false
				}
				b[w] = c
				w++
			}
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case unicode.IsSpace(r):
			space = w > 0
		case dropRune(r):
		default:
			if space {
				b[w] = ' '
				w++
				space = false
			}
			w += copy(b[w:], b[i:i+size])
		}
		i += size
	}
	return string(b[:w])
}

// keptRunEnd returns the end of the run of kept ASCII bytes that goes on
// at b[i], single spaces between them included: the first byte at or
// after i that collapseBytes does not keep as it is. b[i-1] is kept.
//
// Kept bytes are exactly 0x21-0x7E (keptASCII), so eight bytes at a time
// are tested as one word: the run stops at a byte outside 0x20-0x7E, at
// the first of two spaces, or, for a space before a stop, at that space.
func keptRunEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		v := binary.LittleEndian.Uint64(b[i:])
		l := v & swar.Low7
		// Per byte, without carries between bytes: high bit set, low
		// seven bits below 0x20, or all seven set (0x7F).
		bad := (v | ^(l + 0x6060606060606060) | (l + swar.Ones)) & swar.Highs
		x := (v ^ 0x2020202020202020) & swar.Low7
		sp := ^((x + swar.Low7) | v | swar.Low7) // 0x80 in every byte that is a space
		if stop := swar.Stops(bad, sp); stop != 0 {
			return i + swar.RunEnd(sp, stop)
		}
		i += swar.Advance(sp)
	}
	return keptRunEndBytewise(b, i)
}

// keptRunEndBytewise is keptRunEnd a byte at a time, for the last bytes.
func keptRunEndBytewise(b []byte, i int) int {
	for i < len(b) {
		c := b[i]
		if keptASCII[c] {
			i++
			continue
		}
		if c == ' ' && i+1 < len(b) && keptASCII[b[i+1]] {
			i += 2
			continue
		}
		break
	}
	return i
}

// keptASCII marks the bytes that are ASCII of class asciiKeep.
var keptASCII = func() (k [256]bool) {
	for c := range utf8.RuneSelf {
		k[c] = asciiClass[c] == asciiKeep
	}
	return k
}()

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
	if len(s) <= n {
		return s
	}
	// cut is where rune n starts; s is short enough when there is none.
	cut := -1
	for i, count := 0, 0; i < len(s); count++ {
		if count == n {
			cut = i
			break
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
	}
	if cut < 0 {
		return s
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

// attrResolver returns how resolveHTML rewrites the value of the attribute
// named key (in lower case), nil for an attribute it leaves alone.
func attrResolver(key string) func(base *url.URL, val string) string {
	switch {
	case urlAttrs[key]:
		return resolveRef
	case key == "srcset":
		return resolveSrcset
	}
	return nil
}

// resolveHTML makes relative URLs in href, src, poster, cite, action and
// srcset attributes absolute against base. Only tags that change are
// re-serialized; everything else is copied byte for byte, so the HTML
// stays as the publisher wrote it.
func resolveHTML(s string, base *url.URL) string {
	if base == nil || !strings.Contains(s, "=") {
		return s
	}
	if out, ok := resolveHTMLScanned(s, base); ok {
		return out
	}
	return resolveHTMLTokenized(s, base)
}

// resolveHTMLScanned is resolveHTMLTokenized with htmlScanner. It reports
// false for markup the scanner leaves to the Tokenizer, and for tags to
// re-serialize whose attributes hold entities, carriage returns or NUL
// bytes, which the Tokenizer would decode first.
func resolveHTMLScanned(s string, base *url.URL) (string, bool) {
	z := htmlScanner{s: s}
	var buf *[]byte
	var out []byte // nil until a tag changes
	done := 0      // s[:done] is in out
	end := len(s)
	for {
		switch k := z.next(); k {
		case tokCutTag:
			// The Tokenizer stops at a cut tag, which is lost.
			end = z.tok.start
			fallthrough
		case tokEOF:
			if out == nil {
				return s, true
			}
			out = append(out, s[done:end]...)
			res := string(out)
			putBuf(buf, out)
			return res, true
		case tokUnsupported:
			if buf != nil {
				putBuf(buf, out)
			}
			return "", false
		case tokStartTag, tokSelfClosingTag:
			tag, changed, ok := z.resolveTag(k, base)
			if !ok {
				if buf != nil {
					putBuf(buf, out)
				}
				return "", false
			}
			if changed {
				if out == nil {
					buf = bufPool.Get().(*[]byte)
					out = (*buf)[:0]
				}
				out = append(out, s[done:z.tok.start]...)
				out = append(out, tag...)
				done = z.tok.end
			}
		}
	}
}

// resolveTag returns the current start tag with its URLs resolved, as
// resolveHTMLTokenized re-serializes it, and whether it changed.
func (z *htmlScanner) resolveTag(k tokenKind, base *url.URL) (tag string, changed, ok bool) {
	s := z.s
	var vals [maxAttrs]string // values resolved, by attribute
	var changedAt [maxAttrs]bool
	for i, a := range z.attrs() {
		var lower [len("srcset")]byte
		key := s[a.key.start:a.key.end]
		if len(key) > len(lower) {
			continue // no URL attribute has a name this long
		}
		for j := range len(key) {
			lower[j] = lowerASCII(key[j])
		}
		resolve := attrResolver(string(lower[:len(key)]))
		if resolve == nil {
			continue
		}
		val := s[a.val.start:a.val.end]
		if strings.ContainsAny(val, "&\r\x00") {
			return "", false, false
		}
		if v := resolve(base, val); v != val {
			vals[i], changedAt[i], changed = v, true, true
		}
	}
	if !changed {
		return "", false, true
	}
	name := s[z.name.start:z.name.end]
	if strings.IndexByte(name, 0) >= 0 {
		return "", false, false
	}
	// Names in lower case (ASCII only), as the Tokenizer gives them.
	tok := xhtml.Token{Type: xhtml.StartTagToken, Data: lowerASCIIString(name)}
	if k == tokSelfClosingTag {
		tok.Type = xhtml.SelfClosingTagToken
	}
	tok.Attr = make([]xhtml.Attribute, z.nAttrs)
	for i, a := range z.attrs() {
		key, val := s[a.key.start:a.key.end], s[a.val.start:a.val.end]
		if strings.IndexByte(key, 0) >= 0 || strings.ContainsAny(val, "&\r\x00") {
			return "", false, false
		}
		if changedAt[i] {
			val = vals[i]
		}
		tok.Attr[i] = xhtml.Attribute{Key: lowerASCIIString(key), Val: val}
	}
	return tok.String(), true, true
}

func lowerASCIIString(s string) string {
	for i := range len(s) {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// resolveHTMLTokenized is resolveHTML for any markup, with the Tokenizer.
func resolveHTMLTokenized(s string, base *url.URL) string {
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
			resolve := attrResolver(a.Key)
			if resolve == nil {
				continue
			}
			if v := resolve(base, a.Val); v != a.Val {
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
	if r == "" || r[0] == '#' || hasScheme(r) {
		// A scheme makes url.Parse either fail or return an absolute URL:
		// ref stays either way.
		return ref
	}
	u, err := url.Parse(r)
	if err != nil || u.IsAbs() {
		return ref
	}
	return base.ResolveReference(u).String()
}

// hasScheme reports whether s starts with a URL scheme and ':', as
// net/url finds one.
func hasScheme(s string) bool {
	for i := range len(s) {
		switch c := s[i]; {
		case isASCIILetter(c):
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return false
			}
		case c == ':':
			return i > 0
		default:
			return false
		}
	}
	return false
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
