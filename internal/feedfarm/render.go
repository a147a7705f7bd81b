package feedfarm

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// document is one rendered feed document of one generation, with
// everything a response needs prepared once. Header values are slices the
// handler assigns without copying; nothing writes to them.
type document struct {
	gen          int
	body         []byte
	gzip         bool // Options.Gzip
	gzOnce       sync.Once
	gz           []byte // compressed on first use, so that clients that never ask do not pay
	lastModified time.Time
	contentType  []string
	etag, etagGz []string // strong, quoted; the gzip variant is its own representation
	lastModHdr   []string
	length       []string
	lengthGz     []string
}

// gzipped returns the compressed body and its Content-Length value.
func (d *document) gzipped() ([]byte, []string) {
	d.gzOnce.Do(func() {
		d.gz = gzipBytes(d.body)
		d.lengthGz = []string{strconv.Itoa(len(d.gz))}
	})
	return d.gz, d.lengthGz
}

// sourceState caches a source's current document and the rendered items
// it is made of: after Advance only the Churn new items are rendered.
type sourceState struct {
	doc   atomic.Pointer[document]
	mu    sync.Mutex // serializes rendering and guards items
	items map[int][]byte
}

var contentTypes = map[string]string{
	"rss":  "application/rss+xml; charset=utf-8",
	"atom": "application/atom+xml; charset=utf-8",
	"json": "application/feed+json; charset=utf-8",
}

// document returns source i's document of the current generation,
// rendering it on first use.
func (f *Farm) document(i int) *document {
	gen := f.Generation()
	st := &f.sources[i]
	if d := st.doc.Load(); d != nil && d.gen == gen {
		return d
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if d := st.doc.Load(); d != nil && d.gen == gen {
		return d
	}
	d := f.render(i, gen, st)
	st.doc.Store(d)
	return d
}

// docFormat is the format source i's document is rendered in. An
// invalid-XML source sends a cut RSS document whatever its URL's format.
func (f *Farm) docFormat(i int) string {
	if f.kinds[i] == BrokenInvalidXML {
		return "rss"
	}
	return f.Format(i)
}

func (f *Farm) render(i, gen int, st *sourceState) *document {
	format := f.docFormat(i)
	newest, oldest := f.window(gen)
	items := make(map[int][]byte, f.opts.Items)
	var buf bytes.Buffer
	lastModified := f.published(i, newest).Truncate(time.Second)
	f.renderHead(&buf, format, i, lastModified)
	for s := newest; s >= oldest; s-- {
		frag, ok := st.items[s]
		if !ok {
			frag = f.renderItem(format, i, s)
		}
		items[s] = frag
		if format == "json" && s != newest {
			buf.WriteByte(',')
		}
		buf.Write(frag)
	}
	f.renderTail(&buf, format)
	st.items = items

	body := buf.Bytes()
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	d := &document{
		gen:          gen,
		body:         body,
		lastModified: lastModified,
		contentType:  []string{contentTypes[format]},
		etag:         []string{`"` + tag + `"`},
		etagGz:       []string{`"` + tag + `-gz"`},
		lastModHdr:   []string{lastModified.Format(http.TimeFormat)},
		length:       []string{strconv.Itoa(len(body))},
		gzip:         f.opts.Gzip,
	}
	return d
}

// gzipBytes compresses b. The gzip header carries no name or time, so the
// output depends on b alone. BestSpeed keeps compressing a whole farm
// after Advance well under a second; the ratio barely matters on loopback.
func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed) // the level is valid
	zw.Write(b)                                        // writes to a bytes.Buffer do not fail
	zw.Close()
	return out.Bytes()
}

func (f *Farm) sourceTitle(i int) string {
	return "Farm News " + strings.TrimPrefix(SourceID(i), "farm-")
}

func (f *Farm) renderHead(b *bytes.Buffer, format string, i int, updated time.Time) {
	home := "http://news.example/" + SourceID(i) + "/"
	desc := "Synthetic local news from syndic's feed farm (seed " + strconv.FormatInt(f.opts.Seed, 10) + ")."
	switch format {
	case "rss":
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n<title>")
		xmlEscape(b, f.sourceTitle(i))
		b.WriteString("</title>\n<link>")
		xmlEscape(b, home)
		b.WriteString("</link>\n<description>")
		xmlEscape(b, desc)
		b.WriteString("</description>\n<language>en-us</language>\n<generator>syndic feedfarm</generator>\n<lastBuildDate>")
		b.WriteString(updated.Format(time.RFC1123Z))
		b.WriteString("</lastBuildDate>\n")
	case "atom":
		b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>")
		xmlEscape(b, f.sourceTitle(i))
		b.WriteString("</title>\n<subtitle>")
		xmlEscape(b, desc)
		b.WriteString("</subtitle>\n<id>tag:news.example,2026:")
		b.WriteString(SourceID(i))
		b.WriteString("</id>\n<updated>")
		b.WriteString(updated.Format(time.RFC3339))
		// The self link is relative so that the document does not depend
		// on the port the farm listens on.
		b.WriteString("</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"")
		xmlEscape(b, home)
		b.WriteString("\"/>\n<link rel=\"self\" href=\"")
		b.WriteString(f.Path(i))
		b.WriteString("\"/>\n<author><name>Farm Desk</name></author>\n<generator>syndic feedfarm</generator>\n")
	case "json":
		// feed_url is left out for the same reason as Atom's self link.
		b.WriteString(`{"version":"https://jsonfeed.org/version/1.1","title":`)
		jsonString(b, f.sourceTitle(i))
		b.WriteString(`,"home_page_url":`)
		jsonString(b, home)
		b.WriteString(`,"description":`)
		jsonString(b, desc)
		b.WriteString(`,"language":"en-US","authors":[{"name":"Farm Desk"}],"items":[`)
	}
}

func (f *Farm) renderTail(b *bytes.Buffer, format string) {
	switch format {
	case "rss":
		b.WriteString("</channel>\n</rss>\n")
	case "atom":
		b.WriteString("</feed>\n")
	case "json":
		b.WriteString("]}\n")
	}
}

func (f *Farm) renderItem(format string, source, serial int) []byte {
	it := f.meta(source, serial)
	content := f.body(it.storySource, serial)
	var b bytes.Buffer
	b.Grow(len(content) + len(content)/4 + 512)
	switch format {
	case "rss":
		b.WriteString("<item>\n<title>")
		xmlEscape(&b, it.Title)
		b.WriteString("</title>\n<link>")
		xmlEscape(&b, it.Link)
		b.WriteString("</link>\n<guid isPermaLink=\"false\">")
		xmlEscape(&b, it.GUID)
		b.WriteString("</guid>\n<pubDate>")
		b.WriteString(it.Published.Format(time.RFC1123Z))
		b.WriteString("</pubDate>\n<description>")
		xmlEscape(&b, content)
		b.WriteString("</description>\n</item>\n")
	case "atom":
		b.WriteString("<entry>\n<title type=\"text\">")
		xmlEscape(&b, it.Title)
		b.WriteString("</title>\n<id>")
		xmlEscape(&b, it.GUID)
		b.WriteString("</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"")
		xmlEscape(&b, it.Link)
		b.WriteString("\"/>\n<published>")
		b.WriteString(it.Published.Format(time.RFC3339))
		b.WriteString("</published>\n<updated>")
		b.WriteString(it.Published.Format(time.RFC3339))
		b.WriteString("</updated>\n<content type=\"html\">")
		xmlEscape(&b, content)
		b.WriteString("</content>\n</entry>\n")
	case "json":
		b.WriteString(`{"id":`)
		jsonString(&b, it.GUID)
		b.WriteString(`,"url":`)
		jsonString(&b, it.Link)
		b.WriteString(`,"title":`)
		jsonString(&b, it.Title)
		b.WriteString(`,"content_html":`)
		jsonString(&b, content)
		b.WriteString(`,"date_published":"`)
		b.WriteString(it.Published.Format(time.RFC3339))
		b.WriteString(`"}`)
	}
	return b.Bytes()
}

// xmlEscape writes s as XML character data that is also safe inside a
// double-quoted attribute.
func xmlEscape(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// jsonString writes s as a JSON string. Unlike encoding/json it leaves <,
// > and & alone, as feed publishers do, so content_html stays readable.
func jsonString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			// U+2028 and U+2029 end lines in JavaScript.
			if r != '\u2028' && r != '\u2029' {
				i += n
				continue
			}
			b.WriteString(s[last:i])
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xf])
			i += n
			last = i
			continue
		}
		b.WriteString(s[last:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		i++
		last = i
	}
	b.WriteString(s[last:])
	b.WriteByte('"')
}
