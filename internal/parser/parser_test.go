package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/syndic-dev/syndic/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// fetchTime is the Options.Now of every fixture test.
var fetchTime = time.Date(2024, 6, 10, 12, 0, 0, 0, time.UTC)

const fixtureURL = "https://feeds.example.org/feed.xml"

// goldenCases are the fixtures that parse into a feed, each compared with
// testdata/NAME.golden.json. XML fixtures describe themselves in a leading
// comment; JSON fixtures are described here.
var goldenCases = []struct {
	file        string
	contentType string
	about       string
}{
	{file: "rss2_basic.xml", contentType: "application/rss+xml"},
	{file: "rss2_guid_is_permalink_false.xml"},
	{file: "rss2_no_guids_keys_from_links.xml"},
	{file: "rss2_duplicate_guids_fall_back_to_link.xml"},
	{file: "rss2_no_guid_no_link_hash_keys.xml"},
	{file: "rss2_ttl.xml"},
	{file: "rss091.xml"},
	{file: "rss10_rdf.xml", contentType: "application/rdf+xml"},
	{file: "atom10_xml_base_relative_links.xml", contentType: "application/atom+xml"},
	{file: "atom03.xml"},
	{file: "jsonfeed11.json", contentType: "application/feed+json",
		about: "JSON Feed 1.1: authors array, content_html with a relative link, tags, an item without title whose content_text becomes the title, date_modified only, a relative url"},
	{file: "jsonfeed10.json", contentType: "application/json",
		about: "JSON Feed 1.0: numeric id coerced to a string, author object, content_text only (escaped into HTML), external_url as the link"},
	{file: "charset_iso_8859_1.xml"},
	{file: "charset_windows_1251.xml"},
	{file: "charset_windows_1252.xml"},
	{file: "charset_koi8_r.xml"},
	{file: "charset_utf16le_bom.xml"},
	{file: "charset_utf16be_bom.xml"},
	{file: "charset_only_in_http_header.xml", contentType: "application/rss+xml; charset=windows-1251"},
	{file: "control_characters.xml"},
	{file: "entities_in_titles.xml"},
	{file: "item_without_title.xml"},
	{file: "far_future_date.xml"},
	{file: "missing_dates.xml"},
	{file: "billion_laughs.xml"},
}

// errorCases are the fixtures that must not parse into a feed.
var errorCases = []struct {
	file        string
	contentType string
	about       string
}{
	{file: "html_page_with_alternates.html", contentType: "text/html; charset=utf-8"},
	{file: "empty.xml", about: "an empty body"},
	{file: "truncated.xml"},
	{file: "json_not_a_feed.json", contentType: "application/json", about: "a JSON API response that is not a feed"},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

// TestFixturesListed keeps every fixture in a table, so none is silently
// left out of the tests.
func TestFixturesListed(t *testing.T) {
	listed := make(map[string]bool)
	for _, c := range goldenCases {
		listed[c.file] = true
		listed[strings.TrimSuffix(c.file, filepath.Ext(c.file))+".golden.json"] = true
	}
	for _, c := range errorCases {
		listed[c.file] = true
	}
	listed["farm.golden.txt"] = true // TestParseFarmGolden
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && !listed[e.Name()] {
			t.Errorf("testdata/%s is in no test table", e.Name())
		}
	}
}

func TestParseGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.file, func(t *testing.T) {
			feed, err := Parse(readFixture(t, tc.file), tc.contentType, fixtureURL, Options{Now: fetchTime})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkInvariants(t, feed)
			got, err := json.MarshalIndent(feed, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, filepath.Ext(tc.file))+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) differs from %s (run with -update and review the diff):\n%s", tc.file, golden, got)
			}
		})
	}
}

// checkInvariants holds for every feed Parse returns.
func checkInvariants(t *testing.T, feed *model.Feed) {
	t.Helper()
	if !utf8.ValidString(feed.Title) || !utf8.ValidString(feed.Description) || !utf8.ValidString(feed.SiteURL) {
		t.Errorf("feed fields not valid UTF-8: %q %q %q", feed.Title, feed.Description, feed.SiteURL)
	}
	for i, it := range feed.Items {
		if it.Key == "" {
			t.Errorf("item %d: empty Key", i)
		}
		if it.Title == "" {
			t.Errorf("item %d: empty Title", i)
		}
		if it.ID != "" || it.SourceID != "" {
			t.Errorf("item %d: ID %q / SourceID %q set by the parser", i, it.ID, it.SourceID)
		}
		if !it.Published.IsZero() && it.Published.Location() != time.UTC {
			t.Errorf("item %d: Published %v not UTC", i, it.Published)
		}
		fields := append([]string{it.Key, it.GUID, it.Link, it.CanonicalURL, it.Title, it.Author, it.ContentHTML, it.Summary, it.ContentHash}, it.Categories...)
		for _, f := range append(fields, it.StoryKeys...) {
			if !utf8.ValidString(f) {
				t.Errorf("item %d: field %q not valid UTF-8", i, f)
			}
		}
	}
}

func parseFixture(t *testing.T, file, contentType string) *model.Feed {
	t.Helper()
	feed, err := Parse(readFixture(t, file), contentType, fixtureURL, Options{Now: fetchTime})
	if err != nil {
		t.Fatalf("Parse(%s): %v", file, err)
	}
	return feed
}

func keys(feed *model.Feed) []string {
	var out []string
	for _, it := range feed.Items {
		out = append(out, it.Key)
	}
	return out
}

// TestParseKeys spells out the identity rules the goldens record.
func TestParseKeys(t *testing.T) {
	tests := []struct {
		file string
		want []string // exact keys, or "hash:" for any hash key
	}{
		{"rss2_guid_is_permalink_false.xml", []string{
			"guid:tag:flags.example.com,2024:a",
			"guid:https://flags.example.com/internal/77",
			"guid:https://flags.example.com/b?utm_campaign=x",
			"guid:https://flags.example.com/c",
		}},
		{"rss2_no_guids_keys_from_links.xml", []string{
			"link:https://noguid.example.net/blog/one",
			"link:https://noguid.example.net/blog/two.html",
			"hash:", "hash:",
		}},
		{"rss2_duplicate_guids_fall_back_to_link.xml", []string{
			"link:https://dupes.example.org/first",
			"link:https://dupes.example.org/second",
			"guid:post-3",
		}},
		{"rss2_no_guid_no_link_hash_keys.xml", []string{"hash:", "hash:"}},
		{"rss091.xml", []string{
			"link:http://writetheweb.com/read.php?item=24",
			"link:http://writetheweb.com/read.php?item=23",
		}},
		{"rss10_rdf.xml", []string{"link:https://rdf.example.org/a", "link:https://rdf.example.org/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := keys(parseFixture(t, tt.file, ""))
			if len(got) != len(tt.want) {
				t.Fatalf("keys = %q, want %d keys", got, len(tt.want))
			}
			for i, w := range tt.want {
				if w == "hash:" && strings.HasPrefix(got[i], "hash:") && len(got[i]) > len("hash:") {
					continue
				}
				if got[i] != w {
					t.Errorf("key %d = %q, want %q", i, got[i], w)
				}
			}
		})
	}

	// Hash keys are stable from one fetch to the next and distinct.
	a := keys(parseFixture(t, "rss2_no_guid_no_link_hash_keys.xml", ""))
	later, err := Parse(readFixture(t, "rss2_no_guid_no_link_hash_keys.xml"), "", fixtureURL, Options{Now: fetchTime.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if b := keys(later); !reflect.DeepEqual(a, b) {
		t.Errorf("hash keys changed between fetches: %q vs %q", a, b)
	}
	if a[0] == a[1] {
		t.Errorf("different items got the same hash key %q", a[0])
	}
}

func TestParseGUIDIsLink(t *testing.T) {
	feed := parseFixture(t, "rss2_guid_is_permalink_false.xml", "")
	want := []struct {
		isLink bool
		link   string
	}{
		{false, "https://flags.example.com/a"},
		{false, ""},
		{true, "https://flags.example.com/b?utm_campaign=x"},
		{true, "https://flags.example.com/c"},
	}
	for i, w := range want {
		it := feed.Items[i]
		if it.GUIDIsLink != w.isLink || it.Link != w.link {
			t.Errorf("item %d: GUIDIsLink %v Link %q, want %v %q", i, it.GUIDIsLink, it.Link, w.isLink, w.link)
		}
	}
	if got, want := feed.Items[2].CanonicalURL, "https://flags.example.com/b"; got != want {
		t.Errorf("CanonicalURL = %q, want %q", got, want)
	}
}

func TestParseCharsets(t *testing.T) {
	tests := []struct {
		file, contentType, title string
	}{
		{"charset_iso_8859_1.xml", "", "Café crème à Zürich"},
		{"charset_windows_1251.xml", "", "Новости дня: Москва"},
		{"charset_windows_1252.xml", "", "“Quoted” headline – €100 deal"},
		{"charset_koi8_r.xml", "", "Привет, мир"},
		{"charset_utf16le_bom.xml", "", "Ünïcödé in UTF-16LE"},
		{"charset_utf16be_bom.xml", "", "Ünïcödé in UTF-16BE"},
		{"charset_only_in_http_header.xml", "application/rss+xml; charset=windows-1251", "Заголовок из HTTP"},
		// The HTTP charset wins over the declaration.
		{"charset_koi8_r.xml", "text/xml; charset=koi8-r", "Привет, мир"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			feed := parseFixture(t, tt.file, tt.contentType)
			if feed.Title != tt.title {
				t.Errorf("feed title = %q, want %q", feed.Title, tt.title)
			}
			if len(feed.Items) != 1 || feed.Items[0].Title != tt.title {
				t.Errorf("items = %+v, want one titled %q", feed.Items, tt.title)
			}
		})
	}
}

func TestParseTitles(t *testing.T) {
	feed := parseFixture(t, "entities_in_titles.xml", "")
	want := []string{
		"Tom & Jerry",
		"Ben & Jerry’s",
		"Café — numeric",
		"Named éntity … in CDATA",
		"Bold claims across lines",
		"Linked title",
	}
	for i, w := range want {
		if got := feed.Items[i].Title; got != w {
			t.Errorf("title %d = %q, want %q", i, got, w)
		}
	}

	feed = parseFixture(t, "item_without_title.xml", "")
	want = []string{
		"Just shipped the new release of our feed reader. It handles charsets, relative…",
		"https://micro.example.com/status/2",
		"(untitled)",
	}
	for i, w := range want {
		if got := feed.Items[i].Title; got != w {
			t.Errorf("untitled item %d: title %q, want %q", i, got, w)
		}
	}
}

func TestParseDates(t *testing.T) {
	feed := parseFixture(t, "far_future_date.xml", "")
	if got := feed.Items[0].Published; !got.Equal(fetchTime) {
		t.Errorf("far-future date = %v, want clamped to %v", got, fetchTime)
	}
	if got, want := feed.Items[1].Published, fetchTime.Add(5*time.Minute); !got.Equal(want) {
		t.Errorf("near-future date = %v, want %v", got, want)
	}
	feed = parseFixture(t, "missing_dates.xml", "")
	for i, it := range feed.Items {
		if !it.Published.IsZero() {
			t.Errorf("item %d: Published = %v, want zero", i, it.Published)
		}
	}
	feed = parseFixture(t, "atom10_xml_base_relative_links.xml", "")
	if got, want := feed.Items[0].Published, time.Date(2024, 6, 1, 14, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("published = %v, want %v UTC", got, want)
	}
	if got, want := feed.Items[1].Published, time.Date(2024, 6, 2, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("updated-only date = %v, want %v", got, want)
	}
}

func TestParseRelativeLinks(t *testing.T) {
	feed := parseFixture(t, "atom10_xml_base_relative_links.xml", "")
	if got, want := feed.SiteURL, "https://atom.example.com/"; got != want {
		t.Errorf("SiteURL = %q, want %q", got, want)
	}
	if got, want := feed.Items[0].Link, "https://atom.example.com/blog/posts/first"; got != want {
		t.Errorf("link = %q, want %q", got, want)
	}
	if got, want := feed.Items[1].Link, "https://static.example.net/archive/2023/old-post"; got != want {
		t.Errorf("entry xml:base link = %q, want %q", got, want)
	}
	for _, want := range []string{`href="https://atom.example.com/blog/posts/related"`, `src="https://atom.example.com/blog/img/chart.png"`} {
		if !strings.Contains(feed.Items[0].ContentHTML, want) {
			t.Errorf("content %q lacks %s", feed.Items[0].ContentHTML, want)
		}
	}

	feed = parseFixture(t, "rss2_basic.xml", "")
	html := feed.Items[0].ContentHTML
	for _, want := range []string{
		`src="https://news.example.org/images/coalition.jpg"`,
		`srcset="https://news.example.org/images/coalition-2x.jpg 2x, https://cdn.example.org/c.jpg 3x"`,
		`href="https://news.example.org/statement.html"`,
		`<a href="#comments">`,
		"<p>At the meeting of the U.S. Coalition", // untouched markup stays as written
	} {
		if !strings.Contains(html, want) {
			t.Errorf("content lacks %s:\n%s", want, html)
		}
	}
	if strings.Contains(feed.Items[0].Summary, "trackPageView") {
		t.Errorf("summary contains script text: %q", feed.Items[0].Summary)
	}
}

func TestParseFeedFields(t *testing.T) {
	feed := parseFixture(t, "rss2_basic.xml", "")
	if feed.Format != "rss" || feed.Title != "News Ticker" || feed.SiteURL != "https://news.example.org/" || feed.Description != "Daily news from the coalition desk" {
		t.Errorf("feed = %q %q %q %q", feed.Format, feed.Title, feed.SiteURL, feed.Description)
	}
	it := feed.Items[0]
	if got, want := it.Categories, []string{"World", "Diplomacy"}; !reflect.DeepEqual(got, want) {
		t.Errorf("categories = %q, want %q", got, want)
	}
	if got, want := it.Author, "Jane Reporter"; got != want {
		t.Errorf("author = %q, want %q", got, want)
	}
	if n := utf8.RuneCountInString(it.Summary); n > summaryRunes+1 || !strings.HasSuffix(it.Summary, "…") {
		t.Errorf("summary of %d runes = %q, want a cut summary", n, it.Summary)
	}
	if got := parseFixture(t, "rss2_ttl.xml", "").TTL; got != 90*time.Minute {
		t.Errorf("TTL = %v, want 90m", got)
	}
	if got := parseFixture(t, "atom03.xml", "").Format; got != "atom" {
		t.Errorf("atom 0.3 format = %q", got)
	}
	j := parseFixture(t, "jsonfeed10.json", "")
	if j.Format != "json" || j.Items[0].Key != "guid:1001" || j.Items[0].Author != "Old Style Author" {
		t.Errorf("json feed 1.0 = %q, key %q, author %q", j.Format, j.Items[0].Key, j.Items[0].Author)
	}
	if got, want := j.Items[0].ContentHTML, "Plain text content.<br>\nSecond line &lt;not a tag&gt;."; got != want {
		t.Errorf("content_text as HTML = %q, want %q", got, want)
	}
	if got, want := j.Items[1].Link, "https://elsewhere.example.com/article"; got != want {
		t.Errorf("external_url link = %q, want %q", got, want)
	}
}

func TestParseMaxItems(t *testing.T) {
	body := readFixture(t, "rss2_duplicate_guids_fall_back_to_link.xml")
	feed, err := Parse(body, "", fixtureURL, Options{MaxItems: 1, Now: fetchTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(feed.Items) != 1 || feed.Skipped != 2 {
		t.Fatalf("items %d skipped %d, want 1 and 2", len(feed.Items), feed.Skipped)
	}
	// Uniqueness is judged over the whole document: the limit does not turn
	// the duplicate guid into a key.
	if got, want := feed.Items[0].Key, "link:https://dupes.example.org/first"; got != want {
		t.Errorf("key = %q, want %q", got, want)
	}
	feed, err = Parse(body, "", fixtureURL, Options{MaxItems: 10})
	if err != nil || len(feed.Items) != 3 || feed.Skipped != 0 {
		t.Errorf("MaxItems above the count: %v items, %v skipped, err %v", len(feed.Items), feed.Skipped, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		notAFeed    bool
		alternates  []string
		msg         string
	}{
		{
			name:        "html page with alternates",
			body:        readFixture(t, "html_page_with_alternates.html"),
			contentType: "text/html; charset=utf-8",
			notAFeed:    true,
			alternates: []string{
				"https://www.example.org/feed.xml",
				"https://www.example.org/news/atom.xml",
				"https://cdn.example.org/feed.json",
			},
			msg: "not a feed (text/html): the page advertises https://www.example.org/feed.xml, https://www.example.org/news/atom.xml, https://cdn.example.org/feed.json",
		},
		{
			name:       "html sniffed without content type, relative to the page",
			body:       []byte("\n<html><head><link rel=alternate type='application/atom+xml' href='/a.atom'></head></html>"),
			notAFeed:   true,
			alternates: []string{"https://feeds.example.org/a.atom"},
			msg:        "not a feed: the page advertises https://feeds.example.org/a.atom",
		},
		{
			name:        "xhtml page with declaration",
			body:        []byte(`<?xml version="1.0"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml"><head></head></html>`),
			contentType: "application/xhtml+xml",
			notAFeed:    true,
			msg:         "not a feed (application/xhtml+xml): an html page that advertises no feed",
		},
		{
			name:        "served as html, body not markup we know",
			body:        []byte("<div>hello</div>"),
			contentType: "text/html",
			notAFeed:    true,
			msg:         "not a feed (text/html): an html page that advertises no feed",
		},
		{name: "empty body", body: nil, msg: "parse feed: empty document"},
		{name: "whitespace body", body: []byte(" \n\t "), msg: "parse feed: empty document"},
		{name: "bom only", body: []byte("\xef\xbb\xbf"), msg: "parse feed: empty document"},
		{name: "truncated", body: readFixture(t, "truncated.xml")},
		{name: "json not a feed", body: readFixture(t, "json_not_a_feed.json"), contentType: "application/json",
			msg: "parse feed: json document is not a json feed (no jsonfeed.org version)"},
		{name: "json array", body: []byte(`[{"version":"https://jsonfeed.org/version/1.1"}]`)},
		{name: "broken json", body: []byte(`{"version": "https://jsonfeed.org/version/1.1", "items": [`)},
		{name: "plain text", body: []byte("hello, world")},
		{name: "unknown xml root", body: []byte(`<?xml version="1.0"?><catalog><book/></catalog>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := Parse(tt.body, tt.contentType, fixtureURL, Options{Now: fetchTime})
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", feed)
			}
			var naf *NotAFeedError
			var pe *ParseError
			switch {
			case tt.notAFeed && !errors.As(err, &naf):
				t.Fatalf("error %v (%T), want *NotAFeedError", err, err)
			case !tt.notAFeed && !errors.As(err, &pe):
				t.Fatalf("error %v (%T), want *ParseError", err, err)
			}
			if naf != nil && !reflect.DeepEqual(naf.Alternates, tt.alternates) {
				t.Errorf("alternates = %q, want %q", naf.Alternates, tt.alternates)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("error = %q, want %q", err.Error(), tt.msg)
			}
		})
	}
}

// TestParseFeedServedAsHTML: many servers label feeds text/html; the body
// decides.
func TestParseFeedServedAsHTML(t *testing.T) {
	feed, err := Parse(readFixture(t, "rss2_ttl.xml"), "text/html; charset=utf-8", fixtureURL, Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(feed.Items) != 1 {
		t.Errorf("items = %d, want 1", len(feed.Items))
	}
}

// allocatedBy reports the bytes allocated while f runs.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestParseBillionLaughs(t *testing.T) {
	body := readFixture(t, "billion_laughs.xml")
	var feed *model.Feed
	var err error
	alloc := allocatedBy(func() { feed, err = Parse(body, "", fixtureURL, Options{}) })
	if alloc > 16<<20 {
		t.Errorf("Parse allocated %d MB for a 1 KB document", alloc>>20)
	}
	if err != nil {
		return // refusing the document is as good as not expanding it
	}
	for _, it := range feed.Items {
		if len(it.Title) > 100 || len(it.ContentHTML) > 100 || strings.Contains(it.ContentHTML, "root:") {
			t.Errorf("entities expanded: title %q, content %q", it.Title, it.ContentHTML)
		}
	}
}

func TestParseDeepNesting(t *testing.T) {
	const depth = 100_000
	docs := map[string]string{
		"rss item": `<?xml version="1.0"?><rss version="2.0"><channel><title>deep</title><item><title>a</title>` +
			strings.Repeat("<x>", depth) + strings.Repeat("</x>", depth) + `</item></channel></rss>`,
		"rss unclosed": `<?xml version="1.0"?><rss version="2.0"><channel><title>deep</title><item><title>a</title>` +
			strings.Repeat("<x>", depth),
		"atom xhtml content": `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>deep</title><entry><title>a</title><content type="xhtml">` +
			strings.Repeat("<div>", depth) + strings.Repeat("</div>", depth) + `</content></entry></feed>`,
		"json": `{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","title":"a","x":` +
			strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}]}`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			alloc := allocatedBy(func() {
				feed, err := Parse([]byte(doc), "", fixtureURL, Options{})
				if err == nil {
					checkInvariants(t, feed)
				}
			})
			// About 2 KB per level would still be bounded; a quadratic blow-up
			// would not.
			if alloc > 512<<20 {
				t.Errorf("Parse allocated %d MB for %d levels", alloc>>20, depth)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(readFixture(f, c.file), c.contentType)
	}
	for _, c := range errorCases {
		f.Add(readFixture(f, c.file), c.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		feed, err := Parse(body, contentType, fixtureURL, Options{MaxItems: 100, Now: fetchTime})
		if err != nil {
			var naf *NotAFeedError
			var pe *ParseError
			if !errors.As(err, &naf) && !errors.As(err, &pe) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		checkInvariants(t, feed)
	})
}

// benchFeed is an RSS document of n items with about 2 KB of HTML each.
func benchFeed(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Bench</title><link>https://bench.example.org/</link><description>benchmark</description>`)
	para := `<p>At the meeting of the U.S. Coalition regarding the fight against ISIS, various foreign ministers noted that the fight is <a href="/more">not yet done</a>. After hearing the remarks, the ministers released a statement of their position.</p>`
	for i := range n {
		fmt.Fprintf(&b, `<item><title>Ministers at coalition meeting express unity, part %d</title><link>https://bench.example.org/%d?utm_source=rss</link><guid>https://bench.example.org/%d</guid><pubDate>Thu, 23 Mar 2017 14:05:00 GMT</pubDate><description>Short teaser %d.</description><content:encoded><![CDATA[`, i, i, i, i)
		for b.Len() < (i+1)*2300 {
			b.WriteString(para)
		}
		b.WriteString(`<img src="/img/a.jpg">]]></content:encoded></item>`)
	}
	b.WriteString(`</channel></rss>`)
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	body := benchFeed(50)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body, "application/rss+xml", fixtureURL, Options{Now: fetchTime}); err != nil {
			b.Fatal(err)
		}
	}
}
