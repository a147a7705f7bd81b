package parser

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

// The tests in this file hold the parser's output fixed. Stored items are
// compared by their key, content hash and fields, so any change of output
// for the same document would make every stored item look updated or new.
// testdata/farm.golden.txt records a digest of every field of every item
// of a set of feed farm documents; the differential tests compare Parse
// with the reference copy of the code in reference_test.go.

// farmDoc is one document a feed farm serves.
type farmDoc struct {
	name        string
	body        []byte
	contentType string
	url         string
}

// farmDocs renders the documents of two small farms: one with the
// benchmark's item sizes and cross-source duplicates, one with short and
// long bodies. Every format (RSS, Atom, JSON Feed) occurs in both.
func farmDocs(tb testing.TB) []farmDoc {
	tb.Helper()
	var docs []farmDoc
	for _, opts := range []feedfarm.Options{
		{Sources: 24, Items: 25, Seed: 1, DupShare: 0.3},
		{Sources: 9, Items: 10, Seed: 2, DupShare: 0.5, ContentBytes: [2]int{40, 6000}},
	} {
		f := feedfarm.New(opts)
		for i := range f.Sources() {
			rec := httptest.NewRecorder()
			f.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+f.Path(i), nil))
			if rec.Code != http.StatusOK {
				tb.Fatalf("farm seed %d source %d: status %d", opts.Seed, i, rec.Code)
			}
			docs = append(docs, farmDoc{
				name:        fmt.Sprintf("seed%d/%s", opts.Seed, feedfarm.SourceID(i)),
				body:        rec.Body.Bytes(),
				contentType: rec.Header().Get("Content-Type"),
				url:         "http://127.0.0.1:8080" + f.Path(i),
			})
		}
	}
	return docs
}

// digest fingerprints every field of v, byte for byte (unlike JSON, which
// would hide invalid UTF-8).
func digest(v any) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%#v", v))
	return fmt.Sprintf("%x", sum[:8])
}

// TestParseFarmGolden compares the key, content hash and a digest of all
// fields of every item of the farm documents with testdata/farm.golden.txt.
func TestParseFarmGolden(t *testing.T) {
	var got bytes.Buffer
	got.WriteString("# Parse over feed farm documents (see farmDocs): per document its format, title and a digest of\n")
	got.WriteString("# the feed fields; per item its key, content hash and a digest of every field. Regenerate with -update\n")
	got.WriteString("# only for an intended change of output: stored items are compared by these values.\n")
	for _, d := range farmDocs(t) {
		feed, err := Parse(d.body, d.contentType, d.url, Options{Now: fetchTime})
		if err != nil {
			t.Fatalf("Parse(%s): %v", d.name, err)
		}
		items := feed.Items
		feed.Items = nil
		fmt.Fprintf(&got, "%s %s %q %s\n", d.name, feed.Format, feed.Title, digest(feed))
		for _, it := range items {
			fmt.Fprintf(&got, "\t%s %s %d %s\n", it.Key, it.ContentHash, len(it.StoryKeys), digest(it))
		}
	}
	golden := filepath.Join("testdata", "farm.golden.txt")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		gl, wl := lines(got.Bytes()), lines(want)
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("Parse over the farm differs from %s at line %d:\ngot  %s\nwant %s", golden, i+1, g, w)
			}
		}
	}
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// checkSameAsReference fails when Parse and the reference disagree on the
// document in any field or in the error.
func checkSameAsReference(t *testing.T, name string, body []byte, contentType, feedURL string, opts Options) {
	t.Helper()
	got, gotErr := Parse(body, contentType, feedURL, opts)
	want, wantErr := refParse(body, contentType, feedURL, opts)
	if got != nil {
		// RawHash is newer than the reference: it must be set, and is
		// otherwise left out of the comparison.
		for i := range got.Items {
			if got.Items[i].RawHash == 0 {
				t.Fatalf("%s: item %d: RawHash is 0", name, i)
			}
			got.Items[i].RawHash = 0
		}
	}
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || reflect.TypeOf(gotErr) != reflect.TypeOf(wantErr) {
		t.Fatalf("%s: Parse error %v, reference %v", name, gotErr, wantErr)
	}
	if reflect.DeepEqual(got, want) {
		return
	}
	if got == nil || want == nil || len(got.Items) != len(want.Items) {
		t.Fatalf("%s: Parse = %#v\nreference %#v", name, got, want)
	}
	for i := range got.Items {
		if g, w := got.Items[i], want.Items[i]; !reflect.DeepEqual(g, w) {
			gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
			for f := range gv.NumField() {
				if !reflect.DeepEqual(gv.Field(f).Interface(), wv.Field(f).Interface()) {
					t.Errorf("%s: item %d: %s = %#v\nreference %#v", name, i, gv.Type().Field(f).Name, gv.Field(f).Interface(), wv.Field(f).Interface())
				}
			}
		}
	}
	got.Items, want.Items = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: feed = %#v\nreference %#v", name, got, want)
	}
	t.FailNow()
}

// TestParseMatchesReference compares Parse with the reference over every
// fixture, the farm documents, the benchmark document and the fuzz corpus.
func TestParseMatchesReference(t *testing.T) {
	opts := Options{Now: fetchTime}
	for _, c := range goldenCases {
		checkSameAsReference(t, c.file, readFixture(t, c.file), c.contentType, fixtureURL, opts)
	}
	for _, c := range errorCases {
		checkSameAsReference(t, c.file, readFixture(t, c.file), c.contentType, fixtureURL, opts)
	}
	for _, d := range farmDocs(t) {
		checkSameAsReference(t, d.name, d.body, d.contentType, d.url, opts)
	}
	checkSameAsReference(t, "benchFeed", benchFeed(50), "application/rss+xml", fixtureURL, opts)
	checkSameAsReference(t, "benchFeed relative URL", benchFeed(5), "", "/feed.xml", opts)
	for _, body := range fuzzCorpus(t, "FuzzParse", "FuzzParseMatchesReference") {
		checkSameAsReference(t, "fuzz corpus", body, "", fixtureURL, Options{MaxItems: 100, Now: fetchTime})
	}
}

// fuzzCorpus returns the first []byte argument of every entry of the
// named fuzz targets' corpora in testdata/fuzz.
func fuzzCorpus(tb testing.TB, targets ...string) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, target := range targets {
		entries, _ := os.ReadDir(filepath.Join("testdata", "fuzz", target))
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if rest, ok := strings.CutPrefix(line, "[]byte("); ok {
					var s string
					if _, err := fmt.Sscanf(strings.TrimSuffix(rest, ")"), "%q", &s); err == nil {
						out = append(out, []byte(s))
					}
					break
				}
			}
		}
	}
	return out
}

func FuzzParseMatchesReference(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(readFixture(f, c.file), c.contentType)
	}
	for _, d := range farmDocs(f)[:3] {
		f.Add(d.body, d.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		checkSameAsReference(t, "input", body, contentType, fixtureURL, Options{MaxItems: 100, Now: fetchTime})
	})
}

func FuzzToUTF8MatchesReference(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(readFixture(f, c.file), c.contentType)
	}
	f.Add([]byte("a\x00b\x01\xef\xbf\xbe\xff\xfe"), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		got, gotErr := toUTF8(body, contentType)
		want, wantErr := refToUTF8(body, contentType)
		if !bytes.Equal(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("toUTF8(%q, %q) = %q, %v; reference %q, %v", body, contentType, got, gotErr, want, wantErr)
		}
	})
}

// BenchmarkParseFarm parses the farm documents of the benchmark harness's
// kind (RSS, Atom and JSON Feed in turn, 1-3 KB of HTML per item).
func BenchmarkParseFarm(b *testing.B) {
	docs := farmDocs(b)[:24]
	size := 0
	for _, d := range docs {
		size += len(d.body)
	}
	b.SetBytes(int64(size / len(docs)))
	i := 0
	for b.Loop() {
		d := docs[i%len(docs)]
		if _, err := Parse(d.body, d.contentType, d.url, Options{Now: fetchTime}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// FuzzItemMatchesReference puts arbitrary titles, HTML and text into the
// items of an RSS and a JSON Feed document, so that every path of the item
// conversion meets them, and compares Parse with the reference.
func FuzzItemMatchesReference(f *testing.F) {
	for i, s := range htmlSeeds {
		f.Add(htmlSeeds[(i+3)%len(htmlSeeds)], s, htmlSeeds[(i+11)%len(htmlSeeds)])
	}
	f.Fuzz(func(t *testing.T, title, content, text string) {
		var rss bytes.Buffer
		rss.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>`)
		xml.EscapeText(&rss, []byte(title))
		rss.WriteString(`</title><link>https://fuzz.example/</link><item><title>`)
		xml.EscapeText(&rss, []byte(title))
		rss.WriteString(`</title><description>`)
		xml.EscapeText(&rss, []byte(text))
		rss.WriteString(`</description><content:encoded>`)
		xml.EscapeText(&rss, []byte(content))
		rss.WriteString(`</content:encoded><category>`)
		xml.EscapeText(&rss, []byte(title))
		rss.WriteString(`</category></item><item><description>`)
		xml.EscapeText(&rss, []byte(content))
		rss.WriteString(`</description></item></channel></rss>`)
		checkSameAsReference(t, "rss", rss.Bytes(), "application/rss+xml", fixtureURL, Options{Now: fetchTime})

		item := map[string]any{"id": "1", "title": title, "content_html": content, "summary": text, "url": "/a"}
		noHTML := map[string]any{"id": "2", "content_text": text, "summary": content, "tags": []string{title, text}}
		doc, err := json.Marshal(map[string]any{
			"version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": "https://fuzz.example/x/",
			"items": []any{item, noHTML},
		})
		if err != nil {
			t.Fatal(err)
		}
		checkSameAsReference(t, "json", doc, "application/feed+json", fixtureURL, Options{Now: fetchTime})
	})
}
