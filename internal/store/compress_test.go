package store

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

func TestPackItemRoundTrip(t *testing.T) {
	long := strings.Repeat("<p>The council met on Tuesday to discuss the budget.</p>", 20)
	for _, tc := range []struct {
		name, summary, html string
	}{
		{"empty", "", ""},
		{"no summary", "", "<p><img src=x></p>"},
		{"short", "short", "<p>short</p>"},
		{"long", "The council met on Tuesday to discuss the budget.", long},
		{"incompressible", randomText(200), randomText(600)},
		{"unicode", "Ünïcödé — 日本語 ✓", strings.Repeat("<p>Ünïcödé — 日本語 ✓</p>", 30)},
		{"summary with a zero byte", "a\x00b", "<p>a\x00b</p>"},
		{"large", strings.Repeat("word ", 100), strings.Repeat(long, 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := packItem(tc.summary, tc.html)
			if len(b) == 0 || b[0] != bodyMark {
				t.Fatalf("packItem wrote %.8q, want it to start with bodyMark", b)
			}
			if !isPackedItem(b, true) || isPackedItem(b, false) {
				t.Fatal("isPackedItem does not recognize packItem's BLOB")
			}
			// The summary column of such a row is empty and ignored.
			summary, html, err := unpackItem("stale", b, true)
			if err != nil {
				t.Fatal(err)
			}
			if summary != tc.summary || html != tc.html {
				t.Errorf("round trip gave summary %.40q and %d bytes of HTML, want %.40q and %d", summary, len(html), tc.summary, len(tc.html))
			}
			if got, err := unpackSummary("stale", b, true); err != nil || got != tc.summary {
				t.Errorf("unpackSummary = %.40q, %v, want %.40q", got, err, tc.summary)
			}
		})
	}
	if long := packItem("", long); len(long) > 600 {
		t.Errorf("packItem stored %d bytes of repetitive HTML, want it compressed", len(long))
	}
}

// TestUnpackItemCorrupt: a damaged BLOB is an error, never a panic or a
// wrong summary.
func TestUnpackItemCorrupt(t *testing.T) {
	good := packItem("A summary of the story.", strings.Repeat("<p>The council met on Tuesday.</p>", 10))
	for n := 1; n < len(good); n++ {
		if _, _, err := unpackItem("", good[:n], true); err == nil {
			t.Errorf("a BLOB cut to %d of %d bytes read without error", n, len(good))
		}
		// Reading the summary alone does not look past it: a cut in the
		// HTML may go unnoticed there, but never gives a wrong summary.
		if got, err := unpackSummary("", good[:n], true); err == nil && got != "A summary of the story." {
			t.Errorf("a BLOB cut to %d of %d bytes gave the summary %q", n, len(good), got)
		}
	}
	// A valid S2 block whose length prefix claims more than it holds.
	bad := packItem("", "")
	bad[len(bad)-1] = 0x7f
	if _, _, err := unpackItem("", bad, true); err == nil {
		t.Error("a summary length past the end read without error")
	}
	if _, err := unpackSummary("", bad, true); err == nil {
		t.Error("unpackSummary read a summary length past the end without error")
	}
}

// TestUnpackOldForms reads rows as stored before migration 12: the summary
// from its column, the HTML as TEXT, a zstd frame (migrations 5-11) or
// raw DEFLATE (before 5), at every level it could have been written with.
func TestUnpackOldForms(t *testing.T) {
	const summary = "The council met on Tuesday."
	html := strings.Repeat("<p>The council met on Tuesday to discuss the budget.</p>", 20)
	check := func(name string, raw []byte, blob bool) {
		t.Helper()
		if isPackedItem(raw, blob) {
			t.Fatalf("%s: taken for packItem's form", name)
		}
		s, h, err := unpackItem(summary, raw, blob)
		if err != nil || s != summary || h != html {
			t.Errorf("%s: read back %q and %d bytes of HTML, %v", name, s, len(h), err)
		}
	}
	check("text", []byte(html), false)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	check("zstd", enc.EncodeAll([]byte(html), nil), true)
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		for _, src := range []string{html, randomText(2000), ""} {
			var buf bytes.Buffer
			w, err := flate.NewWriter(&buf, level)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(src))
			w.Close()
			if b := buf.Bytes(); bytes.HasPrefix(b, zstdMagic) || b[0] == bodyMark {
				t.Fatalf("level %d: a DEFLATE stream starts with %#x", level, b[0])
			}
		}
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		w.Write([]byte(html))
		w.Close()
		check("deflate", buf.Bytes(), true)
	}
	if _, _, err := unpackItem("", []byte("not deflate at all \xff\xfe"), true); err == nil {
		t.Errorf("corrupt DEFLATE decoded without error")
	}
	if _, _, err := unpackItem("", append(bytes.Clone(zstdMagic), "not zstd at all"...), true); err == nil {
		t.Errorf("corrupt zstd frame decoded without error")
	}
}

// randomText is deterministic noise that no compressor can shrink.
func randomText(n int) string {
	var b strings.Builder
	x := uint32(2463534242)
	for range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(byte(x))
	}
	return b.String()
}

// TestPackItemConcurrent: packing from many goroutines at once (under
// -race) shares pooled buffers; every result must be the same and the
// inputs left as they were.
func TestPackItemConcurrent(t *testing.T) {
	html := strings.Repeat("<p>The harbor council met on Tuesday to discuss the flood defenses.</p>", 40)
	summary := "The harbor council met on Tuesday."
	want := packItem(summary, html)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			other := strings.Repeat("x", 100*g)
			for range 50 {
				packItem(other, other) // buffers of other sizes in the pool
				if got := packItem(summary, html); !bytes.Equal(got, want) {
					t.Error("packItem gave a different result")
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzUnpackItem(f *testing.F) {
	f.Add([]byte{bodyMark})
	f.Add(packItem("summary", "<p>summary and more</p>"))
	f.Add(append(bytes.Clone(zstdMagic), 0, 0, 0))
	f.Fuzz(func(t *testing.T, raw []byte) {
		summary, html, err := unpackItem("column", raw, true)
		// An older form's summary is its column's, HTML unread.
		only, errOnly := unpackSummary("column", raw, true)
		if isPackedItem(raw, true) && err == nil && (errOnly != nil || only != summary) {
			t.Fatalf("unpackSummary = %q, %v; unpackItem's summary %q", only, errOnly, summary)
		}
		if !isPackedItem(raw, true) && (only != "column" || errOnly != nil) {
			t.Fatalf("unpackSummary of an older form = %q, %v", only, errOnly)
		}
		if err != nil {
			return
		}
		if isPackedItem(raw, true) {
			// Whatever decodes must pack back to the same pair.
			s2, h2, err := unpackItem("", packItem(summary, html), true)
			if err != nil || s2 != summary || h2 != html {
				t.Fatalf("repacking changed the item: %v", err)
			}
		}
	})
}

func FuzzPackItem(f *testing.F) {
	f.Add("", "")
	f.Add("A summary.", "<p>A summary. And the rest.</p>")
	f.Fuzz(func(t *testing.T, summary, html string) {
		s, h, err := unpackItem("", packItem(summary, html), true)
		if err != nil || s != summary || h != html {
			t.Fatalf("round trip of %q, %q gave %q, %q, %v", summary, html, s, h, err)
		}
	})
}

func BenchmarkPackItem(b *testing.B) {
	html := strings.Repeat("<p>The harbor council met on Tuesday to discuss the flood defenses.</p>", 32)
	summary := strings.Repeat("The harbor council met on Tuesday to discuss the flood defenses. ", 7)
	b.ReportAllocs()
	b.SetBytes(int64(len(html) + len(summary)))
	for b.Loop() {
		packItem(summary, html)
	}
}
