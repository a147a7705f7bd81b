// Package opml owns syndic's exchange of subscription lists with other feed
// readers: it writes the configured sources as OPML 2.0, reads the OPML
// files other readers export (folders becoming tags), turns what was read
// into [[source]] blocks for the TOML config, and appends those blocks to a
// config file without disturbing a byte of what is already there.
package opml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/unicode"
)

// Source is one configured feed as Export writes it.
type Source struct {
	ID      string
	URL     string
	Title   string
	SiteURL string
	Tags    []string
}

// Feed is one subscription read from an OPML file. Tags are already slugs
// in the form the config accepts.
type Feed struct {
	URL     string
	Title   string
	SiteURL string
	Tags    []string
}

// rfc822 is the date format OPML 2.0 asks for (RFC 822 with a four-digit
// year, as RSS 2.0 writes it); times are written in GMT.
const rfc822 = "Mon, 02 Jan 2006 15:04:05 GMT"

// Export writes sources as an OPML 2.0 document titled title, created at
// now. The list is flat, one <outline type="rss"> per source in the given
// order; tags go into the category attribute (comma-separated, which OPML
// 2.0 reads as tags since they hold no slash), so readers that know
// categories rebuild folders from them. A source without a title is named
// by its id in the required text attribute, and has no title attribute.
func Export(w io.Writer, title string, sources []Source, now time.Time) error {
	// Written by hand rather than with xml.Marshal, which cannot write the
	// self-closing <outline/> every reader writes and expects to see.
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<opml version=\"2.0\">\n  <head>\n    <title>")
	b.WriteString(escape(title))
	b.WriteString("</title>\n    <dateCreated>")
	b.WriteString(now.UTC().Format(rfc822))
	b.WriteString("</dateCreated>\n  </head>\n  <body>\n")
	for _, s := range sources {
		text := s.Title
		if text == "" {
			text = s.ID
		}
		if text == "" {
			text = s.URL
		}
		b.WriteString(`    <outline type="rss"`)
		attr(&b, "text", text)
		attr(&b, "title", s.Title)
		attr(&b, "xmlUrl", s.URL)
		attr(&b, "htmlUrl", s.SiteURL)
		attr(&b, "category", strings.Join(s.Tags, ","))
		b.WriteString("/>\n")
	}
	b.WriteString("  </body>\n</opml>\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("export opml: %w", err)
	}
	return nil
}

// attr writes name="value" unless value is empty.
func attr(b *bytes.Buffer, name, value string) {
	if value == "" {
		return
	}
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	b.WriteString(escape(value))
	b.WriteByte('"')
}

// escape makes s safe as XML character data and inside a double-quoted
// attribute. White space other than a plain space is written as a
// character reference so that attribute normalization keeps it; characters
// XML 1.0 cannot hold at all become U+FFFD.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\t':
			b.WriteString("&#9;")
		case r == '\n':
			b.WriteString("&#10;")
		case r == '\r':
			b.WriteString("&#13;")
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || r >= 0xD800 && r <= 0xDFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ParseError is an OPML document Parse could not read. Line is 1-based,
// 0 when unknown.
type ParseError struct {
	Line int
	Msg  string
	err  error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("parse opml: line %d: %s", e.Line, e.Msg)
	}
	return "parse opml: " + e.Msg
}

// Unwrap returns the underlying cause, if any.
func (e *ParseError) Unwrap() error { return e.err }

// Parse reads an OPML 1.0 or 2.0 subscription list as other readers
// export it (Feedly, Inoreader, NetNewsWire, Miniflux, FreshRSS, newsboat
// and the like) and returns its feeds in document order.
//
// An outline with a feed address (xmlUrl, in any letter case, or url
// unless the outline says it is a link or an include) is a feed; any
// other outline is a folder. Each feed's tags are the slugs of the
// folders it sits in, outermost first, followed by its category attribute
// values (comma-separated; each "/"-separated segment of a category path
// is a tag). The title is the title attribute, else text.
//
// A feed listed more than once (Feedly writes a feed once per folder) is
// returned once, at its first place, with the tags of every listing.
// Duplicates are recognised by the same canonical URL Import uses.
//
// The version attribute may be missing. A byte order mark (UTF-8 or
// UTF-16) and any encoding the XML declaration names that x/net's charset
// package knows (ISO-8859-1, windows-1252, ...) are decoded; HTML entities
// (&nbsp;) are understood and a bare "&" is read as itself. Any other
// document that is not well-formed XML, or whose root is not <opml>, is a
// *ParseError naming the line.
func Parse(r io.Reader) ([]Feed, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("parse opml: %w", err)
	}
	data, utf16 := stripBOM(data)
	feeds, err := parse(data, utf16)
	var pe *ParseError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Msg, "invalid character entity") {
		// A bare "&" in a hand-written URL (?a=1&b=2) is the commonest
		// flaw of OPML files in the wild: escape those and read again,
		// still strictly, so other breakage stays an error naming its
		// line (escaping adds no newline).
		if fixed, ok := escapeBareAmpersands(data); ok {
			if feeds, err := parse(fixed, utf16); err == nil {
				return feeds, nil
			}
		}
	}
	return feeds, err
}

// escapeBareAmpersands replaces every "&" that does not start a character
// or entity reference the decoder knows with "&amp;". It reports whether
// it changed anything.
func escapeBareAmpersands(data []byte) ([]byte, bool) {
	var out []byte
	changed := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '&' && !isReference(data[i+1:]) {
			out = append(out, "&amp;"...)
			changed = true
			continue
		}
		out = append(out, c)
	}
	return out, changed
}

// isReference reports whether b (what follows an "&") starts with
// "#digits;", "#xhex;" or "name;" for an entity XML or HTML defines.
func isReference(b []byte) bool {
	end := bytes.IndexByte(b, ';')
	if end <= 0 || end > 32 {
		return false
	}
	ref := string(b[:end])
	if n, ok := strings.CutPrefix(ref, "#x"); ok {
		return n != "" && strings.Trim(n, "0123456789abcdefABCDEF") == ""
	}
	if n, ok := strings.CutPrefix(ref, "#"); ok {
		return n != "" && strings.Trim(n, "0123456789") == ""
	}
	switch ref {
	case "amp", "lt", "gt", "quot", "apos":
		return true
	}
	_, ok := xml.HTMLEntity[ref]
	return ok
}

func parse(data []byte, utf16 bool) ([]Feed, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		// After a UTF-16 byte order mark the bytes are already UTF-8;
		// the declaration still says what the file was.
		if utf16 && strings.HasPrefix(strings.ToLower(label), "utf-16") {
			return in, nil
		}
		return charset.NewReaderLabel(label, in)
	}
	// Hand-written OPML files carry HTML entities (&nbsp;, &eacute;) in
	// titles; they are the commonest reason a strict parser refuses one.
	d.Entity = xml.HTMLEntity

	p := &parser{index: map[string]int{}}
	if err := p.run(d); err != nil {
		return nil, err
	}
	return p.feeds, nil
}

// stripBOM removes a byte order mark, converting UTF-16 to UTF-8. It
// reports whether the input was UTF-16.
func stripBOM(data []byte) ([]byte, bool) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:], false
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		dec := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()
		out, err := dec.Bytes(data)
		if err != nil {
			return data, false
		}
		return out, true
	}
	return data, false
}

// parser walks the token stream keeping the stack of open outlines.
type parser struct {
	// folders has one entry per open <outline>: the folder's tag, or ""
	// for a feed outline or a folder whose name yields no slug.
	folders []string
	feeds   []Feed
	index   map[string]int // canonical URL -> position in feeds
}

func (p *parser) run(d *xml.Decoder) error {
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !sawRoot {
				return &ParseError{Msg: "no <opml> element"}
			}
			return nil
		}
		if err != nil {
			return syntaxError(d, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !sawRoot {
				if !strings.EqualFold(t.Name.Local, "opml") {
					line, _ := d.InputPos()
					return &ParseError{Line: line, Msg: fmt.Sprintf("root element is <%s>, not <opml>", t.Name.Local)}
				}
				sawRoot = true
				continue
			}
			if strings.EqualFold(t.Name.Local, "outline") {
				p.outline(t.Attr)
			}
		case xml.EndElement:
			if strings.EqualFold(t.Name.Local, "outline") && len(p.folders) > 0 {
				p.folders = p.folders[:len(p.folders)-1]
			}
			if strings.EqualFold(t.Name.Local, "opml") {
				// Whatever follows the root is not ours to judge.
				return nil
			}
		}
	}
}

func syntaxError(d *xml.Decoder, err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &ParseError{Line: se.Line, Msg: se.Msg, err: err}
	}
	line, _ := d.InputPos()
	return &ParseError{Line: line, Msg: err.Error(), err: err}
}

func (p *parser) outline(attrs []xml.Attr) {
	var a struct{ typ, text, title, xmlURL, url, htmlURL, category string }
	for _, at := range attrs {
		if at.Name.Space != "" {
			continue
		}
		v := strings.TrimSpace(at.Value)
		switch strings.ToLower(at.Name.Local) {
		case "type":
			a.typ = strings.ToLower(v)
		case "text":
			a.text = v
		case "title":
			a.title = v
		case "xmlurl":
			a.xmlURL = v
		case "url":
			a.url = v
		case "htmlurl":
			a.htmlURL = v
		case "category":
			a.category = v
		}
	}
	title := cleanText(a.title)
	if title == "" {
		title = cleanText(a.text)
	}
	feedURL := a.xmlURL
	if feedURL == "" && a.typ != "link" && a.typ != "include" && a.typ != "html" {
		feedURL = a.url
	}
	if feedURL == "" {
		p.folders = append(p.folders, tagSlug(title))
		return
	}
	p.folders = append(p.folders, "")

	var tags []string
	for _, f := range p.folders {
		tags = appendTag(tags, f)
	}
	for c := range strings.SplitSeq(a.category, ",") {
		for seg := range strings.SplitSeq(c, "/") {
			tags = appendTag(tags, tagSlug(seg))
		}
	}

	key := feedURL
	if cu, ok := canonicalURL(feedURL); ok {
		key = cu
	}
	if i, dup := p.index[key]; dup {
		for _, t := range tags {
			p.feeds[i].Tags = appendTag(p.feeds[i].Tags, t)
		}
		return
	}
	p.index[key] = len(p.feeds)
	p.feeds = append(p.feeds, Feed{URL: feedURL, Title: title, SiteURL: a.htmlURL, Tags: tags})
}

// appendTag appends tag unless it is empty or already there.
func appendTag(tags []string, tag string) []string {
	if tag == "" {
		return tags
	}
	for _, t := range tags {
		if t == tag {
			return tags
		}
	}
	return append(tags, tag)
}

// cleanText collapses runs of white space (newlines included) into one
// space and drops other control characters: titles end up on one line in
// a TOML file and a log.
func cleanText(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0':
			space = true
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			// dropped
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
	}
	return b.String()
}
