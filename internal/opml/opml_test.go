package opml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/unicode"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func parseFile(t *testing.T, name string) ([]Feed, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f)
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file string
		want []Feed
	}{
		{"feedly_nested_folders.opml", []Feed{
			{URL: "https://go.dev/blog/feed.atom", Title: "The Go Blog", SiteURL: "https://go.dev/blog", Tags: []string{"tech", "go", "must-read"}},
			{URL: "https://dave.cheney.net/feed", Title: "Dave Cheney", SiteURL: "https://dave.cheney.net", Tags: []string{"tech", "go"}},
			{URL: "https://hnrss.org/frontpage", Title: "Hacker News", SiteURL: "https://news.ycombinator.com/", Tags: []string{"tech"}},
			{URL: "https://feeds.bbci.co.uk/news/world/rss.xml", Title: "BBC News - World", SiteURL: "https://www.bbc.co.uk/news/world", Tags: []string{"world-news"}},
		}},
		{"inoreader_category_attributes.opml", []Feed{
			{URL: "https://www.nasa.gov/news-release/feed/", Title: "NASA", SiteURL: "https://www.nasa.gov", Tags: []string{"science", "space", "astronomy"}},
			{URL: "https://www.quantamagazine.org/feed/", Title: "Quanta Magazine", SiteURL: "https://www.quantamagazine.org", Tags: []string{"science", "physics", "maths_and_cs"}},
			{URL: "https://feeds.arstechnica.com/arstechnica/index", Title: "Ars Technica", SiteURL: "https://arstechnica.com", Tags: []string{"tech"}},
		}},
		{"netnewswire_flat.opml", []Feed{
			{URL: "https://daringfireball.net/feeds/main", Title: "Daring Fireball", SiteURL: "https://daringfireball.net/"},
			{URL: "https://jvns.ca/atom.xml", Title: "Julia Evans", SiteURL: "https://jvns.ca"},
			{URL: "https://example.com/feed.xml", Title: `Rock & Roll's "Blog"`, SiteURL: "https://example.com/"},
		}},
		{"iso_8859_1_encoding.opml", []Feed{
			{URL: "https://www.aerzteblatt.de/rss/news.asp", Title: "Ärzteblatt - Nachrichten", Tags: []string{"zeitschriften-fur-arzte"}},
			{URL: "http://cafe.example.fr/rss", Title: "Café Crème", Tags: []string{"zeitschriften-fur-arzte"}},
		}},
		{"utf8_bom.opml", []Feed{
			{URL: "https://www.lemonde.fr/economie/rss_full.xml", Title: "Le Monde – Économie", Tags: []string{"economie"}},
		}},
		{"handwritten_bare_ampersand.opml", []Feed{
			{URL: "https://search.example/rss?q=go&lang=en", Title: "Search results"},
			{URL: "https://tj.example/feed", Title: "Tom & Jerry"},
			{URL: "https://e.example/rss?a=1&b=2", Title: "Escaped"},
		}},
		{"newsboat_opml1_variants.opml", []Feed{
			{URL: "https://lwn.net/headlines/rss", Title: "LWN.net", Tags: []string{"multi-line-folder"}},
			{URL: "https://tiny.example.org/index.xml", Title: "Tiny Blog"},
			{URL: "https://tiny.example.org/comments.xml", Title: "Comments"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseFile(t, tt.file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

func dump(feeds []Feed) string {
	var b strings.Builder
	for _, f := range feeds {
		b.WriteString("  ")
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(strings.Join([]string{f.URL, f.Title, f.SiteURL, strings.Join(f.Tags, ",")}, " | ")), "\n", `\n`))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestParseUTF16(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-16"?>
<opml version="2.0"><body><outline text="Ünïcode"><outline text="Ω feed" xmlUrl="https://u.example/feed"/></outline></body></opml>`
	for _, e := range []unicode.Endianness{unicode.LittleEndian, unicode.BigEndian} {
		data, err := unicode.UTF16(e, unicode.UseBOM).NewEncoder().Bytes([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Parse(UTF-16 %v): %v", e, err)
		}
		want := []Feed{{URL: "https://u.example/feed", Title: "Ω feed", Tags: []string{"unicode"}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(UTF-16 %v) = %q, want %q", e, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		doc      string // or file
		file     string
		wantLine int
		wantMsg  string
	}{
		{name: "mismatched end tag", file: "broken_unclosed_body.opml", wantLine: 10, wantMsg: "closed by </body>"},
		{name: "root is not opml", file: "not_opml_rss.opml", wantLine: 4, wantMsg: "root element is <rss>"},
		{name: "truncated", doc: "<opml>\n<body>\n<outline text=\"a\"", wantLine: 3, wantMsg: "unexpected EOF"},
		{name: "unquoted attribute", doc: "<opml>\n<body>\n\n<outline text=a/></body></opml>", wantLine: 4, wantMsg: "unquoted"},
		{name: "unknown encoding", doc: "<?xml version=\"1.0\" encoding=\"x-klingon\"?>\n<opml/>", wantLine: 1, wantMsg: "x-klingon"},
		{name: "bare ampersand and a broken tag", doc: "<opml><body>\n<outline text=\"a&b\" xmlUrl=\"https://x.example/\">\n</body></opml>", wantLine: 2, wantMsg: "invalid character entity"},
		{name: "empty", doc: "", wantMsg: "no <opml> element"},
		{name: "only whitespace", doc: " \n\t", wantMsg: "no <opml> element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.file != "" {
				_, err = parseFile(t, tt.file)
			} else {
				_, err = Parse(strings.NewReader(tt.doc))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %v, want a *ParseError", err)
			}
			if pe.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if tt.wantLine > 0 && !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

var exportSources = []Source{
	{ID: "go-blog", URL: "https://go.dev/blog/feed.atom", Title: "The Go Blog", SiteURL: "https://go.dev/blog", Tags: []string{"tech", "go"}},
	{ID: "quotes", URL: "https://example.com/feed?a=1&b=<2>", Title: `Rock & Roll's "Blog" <b>` + "\nline two", Tags: []string{"music"}},
	{ID: "no-title", URL: "https://no-title.example/rss.xml"},
	{ID: "unicode", URL: "https://www.lemonde.fr/rss/une.xml", Title: "Le Monde – À la une 日本", SiteURL: "https://www.lemonde.fr/"},
}

func TestExportGolden(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	if err := Export(&buf, `My "syndic" & friends`, exportSources, now); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "export_escaping.golden.opml")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("Export =\n%s\nwant (run with -update to accept)\n%s", got, want)
	}
	if !strings.Contains(buf.String(), "<dateCreated>Tue, 04 Mar 2025 04:06:07 GMT</dateCreated>") {
		t.Errorf("dateCreated is not RFC 822 in GMT:\n%s", buf.String())
	}
}

func TestExportParseRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := Export(&buf, "round trip", exportSources, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&buf)
	if err != nil {
		t.Fatalf("Parse(Export(...)): %v", err)
	}
	if len(got) != len(exportSources) {
		t.Fatalf("got %d feeds, want %d", len(got), len(exportSources))
	}
	for i, s := range exportSources {
		title := s.Title
		if title == "" {
			title = s.ID // the required text attribute names it
		}
		want := Feed{URL: s.URL, Title: cleanText(title), SiteURL: s.SiteURL, Tags: s.Tags}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("feed %d = %q, want %q", i, got[i], want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportWriteError(t *testing.T) {
	err := Export(failWriter{}, "t", exportSources, time.Unix(0, 0))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Export to a failing writer = %v, want the write error", err)
	}
}

func TestSlugify(t *testing.T) {
	tests := []struct {
		in, tag, id string
	}{
		{"Tech", "tech", "tech"},
		{"World News", "world-news", "world-news"},
		{"  --Go!!  ", "go", "go"},
		{"Zeitschriften für Ärzte", "zeitschriften-fur-arzte", "zeitschriften-fur-arzte"},
		{"Straße & Œuvre", "strasse-oeuvre", "strasse-oeuvre"},
		{"Bob’s Blog", "bobs-blog", "bobs-blog"},
		{"snake_case_name", "snake_case_name", "snake-case-name"},
		{"_leading", "leading", "leading"},
		{"日本語", "", ""},
		{"ﬁne ligature", "fine-ligature", "fine-ligature"},
		{strings.Repeat("word ", 20), strings.TrimSuffix(strings.Repeat("word-", 13), "-"), strings.TrimSuffix(strings.Repeat("word-", 9), "-")},
		{strings.Repeat("x", 100), strings.Repeat("x", 64), strings.Repeat("x", 48)},
	}
	slug := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	for _, tt := range tests {
		if got := tagSlug(tt.in); got != tt.tag {
			t.Errorf("tagSlug(%q) = %q, want %q", tt.in, got, tt.tag)
		} else if got != "" && !slug.MatchString(got) {
			t.Errorf("tagSlug(%q) = %q is not a valid slug", tt.in, got)
		}
		if got := idSlug(tt.in); got != tt.id {
			t.Errorf("idSlug(%q) = %q, want %q", tt.in, got, tt.id)
		}
	}
}

// FuzzParse checks that no input makes Parse panic and that what it
// returns keeps its promises: every feed has a URL, tags are valid slugs
// without repeats, no two feeds share a canonical URL, and errors are
// *ParseError.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.opml")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	slug := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	existing := mustConfig(f, minimalConfig)
	f.Fuzz(func(t *testing.T, data []byte) {
		feeds, err := Parse(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %v is not a *ParseError", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, fd := range feeds {
			if fd.URL == "" {
				t.Errorf("feed without URL: %q", fd)
			}
			key := fd.URL
			if cu, ok := canonicalURL(fd.URL); ok {
				key = cu
			}
			if seen[key] {
				t.Errorf("URL %q returned twice", fd.URL)
			}
			seen[key] = true
			tags := map[string]bool{}
			for _, tag := range fd.Tags {
				if !slug.MatchString(tag) || tags[tag] {
					t.Errorf("feed %q: bad or repeated tag %q", fd.URL, tag)
				}
				tags[tag] = true
			}
		}
		// Whatever was read imports into blocks the config accepts.
		checkBlocksParse(t, Import(existing, feeds).Blocks)
	})
}

// FuzzExport checks that whatever the sources hold, Export writes a
// document Parse reads back with the same URL and tags.
func FuzzExport(f *testing.F) {
	for _, s := range exportSources {
		f.Add(s.ID, s.URL, s.Title, strings.Join(s.Tags, ","))
	}
	f.Add("x", "https://x.example/\x00\ufffe", "\x01]]>&#0;", "a,b")
	f.Fuzz(func(t *testing.T, id, url, title, tags string) {
		src := Source{ID: id, URL: url, Title: title}
		for tag := range strings.SplitSeq(tags, ",") {
			if tagSlug(tag) == tag && tag != "" {
				src.Tags = appendTag(src.Tags, tag)
			}
		}
		var buf bytes.Buffer
		if err := Export(&buf, title, []Source{src}, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		got, err := Parse(&buf)
		if err != nil {
			t.Fatalf("Parse(Export(%q)): %v\n%s", src, err, buf.String())
		}
		wantURL := strings.TrimSpace(escapeRoundTrip(url))
		if wantURL == "" {
			return // an outline without a feed URL is a folder
		}
		if len(got) != 1 {
			t.Fatalf("Parse(Export(%q)) = %q, want one feed", src, got)
		}
		if got[0].URL != wantURL {
			t.Errorf("URL = %q, want %q", got[0].URL, wantURL)
		}
		if !reflect.DeepEqual(got[0].Tags, src.Tags) {
			t.Errorf("tags = %q, want %q", got[0].Tags, src.Tags)
		}
	})
}

// escapeRoundTrip is what a string becomes after escape and XML decoding.
func escapeRoundTrip(s string) string {
	var v struct {
		A string `xml:"a,attr"`
	}
	if err := xml.Unmarshal([]byte(`<x a="`+escape(s)+`"/>`), &v); err != nil {
		return "unmarshal: " + err.Error()
	}
	return v.A
}
