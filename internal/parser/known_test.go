package parser

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/syndic-dev/syndic/internal/model"
)

// TestParseSkipsKnownItems parses a document, then parses it again with
// Known reporting the first parse's raw hashes: every item keyed by guid
// or link comes back unconverted with the stored content hash, except
// one whose stored raw hash differs, which is converted as before.
func TestParseSkipsKnownItems(t *testing.T) {
	body := readFixture(t, "rss2_basic.xml")
	first, err := Parse(body, "application/rss+xml", fixtureURL, Options{Now: fetchTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) < 2 {
		t.Fatalf("fixture has %d items, want at least 2", len(first.Items))
	}
	stored := map[string]model.KnownItem{}
	for _, it := range first.Items {
		if it.RawHash == 0 {
			t.Fatalf("item %q: RawHash 0", it.Key)
		}
		stored[it.Key] = model.KnownItem{RawHash: it.RawHash, ContentHash: "stored-" + it.ContentHash}
	}
	changed := first.Items[1].Key
	stored[changed] = model.KnownItem{RawHash: first.Items[1].RawHash + 1, ContentHash: "stale"}

	var asked []string
	second, err := Parse(body, "application/rss+xml", fixtureURL, Options{Now: fetchTime, Known: func(keys []string) map[string]model.KnownItem {
		asked = append(asked, keys...)
		return stored
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range second.Items {
		want := first.Items[i]
		if !slices.Contains(asked, want.Key) {
			t.Errorf("Known not asked for %q", want.Key)
		}
		if it.Key != want.Key || it.RawHash != want.RawHash {
			t.Errorf("item %d: key %q raw %d, want %q %d", i, it.Key, it.RawHash, want.Key, want.RawHash)
		}
		if want.Key == changed {
			if it.Unconverted || it.ContentHash != want.ContentHash || it.Title != want.Title {
				t.Errorf("item %q with a different stored raw hash: %+v, want it converted", it.Key, it)
			}
			continue
		}
		if !it.Unconverted || it.ContentHash != "stored-"+want.ContentHash || it.Title != "" {
			t.Errorf("item %q: %+v, want unconverted with the stored content hash", it.Key, it)
		}
	}
}

// TestRawHashFollowsContent checks that what changes the content hash
// changes the raw hash, and that a bumped date does not.
func TestRawHashFollowsContent(t *testing.T) {
	doc := func(title, desc, date string) []byte {
		return []byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://example.org/</link>
<item><guid>a</guid><title>` + title + `</title><link>http://example.org/a</link><pubDate>` + date + `</pubDate><description>` + desc + `</description></item></channel></rss>`)
	}
	raw := func(b []byte) int64 {
		f, err := Parse(b, "application/rss+xml", fixtureURL, Options{Now: fetchTime})
		if err != nil {
			t.Fatal(err)
		}
		return f.Items[0].RawHash
	}
	const d1, d2 = "Mon, 02 Mar 2026 10:00:00 GMT", "Tue, 03 Mar 2026 11:00:00 GMT"
	base := raw(doc("A headline", "The body", d1))
	if raw(doc("A headline", "The body", d2)) != base {
		t.Error("a bumped date changed the raw hash")
	}
	if raw(doc("Another headline", "The body", d1)) == base {
		t.Error("a changed title kept the raw hash")
	}
	if raw(doc("A headline", "Another body", d1)) == base {
		t.Error("a changed description kept the raw hash")
	}
}

// FuzzParseKnown: parsing a document again with Known reporting what the
// first parse gave leaves every item keyed by guid or link unconverted
// with the first content hash, and converts the others exactly as before.
func FuzzParseKnown(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(readFixture(f, c.file), c.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		opts := Options{MaxItems: 100, Now: fetchTime}
		first, err := Parse(body, contentType, fixtureURL, opts)
		if err != nil {
			return
		}
		stored := map[string]model.KnownItem{}
		for _, it := range first.Items {
			stored[it.Key] = model.KnownItem{RawHash: it.RawHash, ContentHash: it.ContentHash}
		}
		opts.Known = func([]string) map[string]model.KnownItem { return stored }
		second, err := Parse(body, contentType, fixtureURL, opts)
		if err != nil || len(second.Items) != len(first.Items) {
			t.Fatalf("second parse: %v, %d items, want %d", err, len(second.Items), len(first.Items))
		}
		for i, it := range second.Items {
			want := first.Items[i]
			if it.Key != want.Key || it.RawHash != want.RawHash || it.ContentHash != want.ContentHash {
				t.Fatalf("item %d: key %q raw %d hash %q, want %q %d %q", i, it.Key, it.RawHash, it.ContentHash, want.Key, want.RawHash, want.ContentHash)
			}
			if it.Unconverted != !strings.HasPrefix(want.Key, "hash:") {
				t.Fatalf("item %d (%q): Unconverted = %v", i, it.Key, it.Unconverted)
			}
			if !it.Unconverted && !reflect.DeepEqual(it, want) {
				t.Fatalf("item %d converted differently:\n%+v\n%+v", i, it, want)
			}
		}
	})
}
