package store

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/flate"
)

func TestPackHTMLRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		html       string
		compressed bool
	}{
		{"empty", "", false},
		{"short stays text", "<p>short</p>", false},
		{"long compresses", strings.Repeat("<p>The council met on Tuesday to discuss the budget.</p>", 20), true},
		{"incompressible stays text", randomText(600), false},
		{"unicode", strings.Repeat("<p>Ünïcödé — 日本語 ✓</p>", 30), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := packHTML(tc.html)
			if err != nil {
				t.Fatal(err)
			}
			b, isBlob := v.([]byte)
			if isBlob != tc.compressed {
				t.Fatalf("packHTML stored %T, want compressed=%v", v, tc.compressed)
			}
			if !isBlob {
				b = []byte(v.(string))
			}
			got, err := unpackHTML(b, isBlob)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.html {
				t.Errorf("round trip changed the HTML")
			}
		})
	}
	if _, err := unpackHTML([]byte("not deflate at all \xff\xfe"), true); err == nil {
		t.Errorf("corrupt compressed HTML decoded without error")
	}
	if _, err := unpackHTML(append(bytes.Clone(zstdMagic), "not zstd at all"...), true); err == nil {
		t.Errorf("corrupt zstd frame decoded without error")
	}
}

// TestUnpackDeflate reads HTML the way syndic stored it before migration
// 5 (raw DEFLATE from klauspost/compress), at every level it could have
// been written with, and checks that new HTML is written as zstd.
func TestUnpackDeflate(t *testing.T) {
	html := strings.Repeat("<p>The council met on Tuesday to discuss the budget.</p>", 20)
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, level)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(html))
		w.Close()
		if bytes.HasPrefix(buf.Bytes(), zstdMagic) {
			t.Fatalf("level %d: a DEFLATE stream starts with the zstd magic number", level)
		}
		got, err := unpackHTML(buf.Bytes(), true)
		if err != nil || got != html {
			t.Errorf("level %d: DEFLATE read back as %q, %v", level, got, err)
		}
	}
	v, err := packHTML(html)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := v.([]byte); !ok || !bytes.HasPrefix(b, zstdMagic) {
		t.Errorf("packHTML wrote %T %.8q, want a zstd frame", v, v)
	}
}

// randomText is deterministic noise that DEFLATE cannot shrink.
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

// TestPackHTMLLeavesInputAlone: packHTML reads the string's bytes in
// place; packing one string from many goroutines at once (under -race)
// must leave it as it was and give the same result every time.
func TestPackHTMLLeavesInputAlone(t *testing.T) {
	html := strings.Repeat("<p>The harbor council met on Tuesday to discuss the flood defenses.</p>", 40)
	orig := strings.Clone(html)
	want, err := packHTML(html)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := packHTML(html)
				if err != nil || !bytes.Equal(got.([]byte), want.([]byte)) {
					t.Errorf("packHTML gave a different result (err %v)", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if html != orig {
		t.Fatal("packHTML changed its input")
	}
}

func BenchmarkPackHTML(b *testing.B) {
	html := strings.Repeat("<p>The harbor council met on Tuesday to discuss the flood defenses.</p>", 32)
	b.ReportAllocs()
	b.SetBytes(int64(len(html)))
	for b.Loop() {
		if _, err := packHTML(html); err != nil {
			b.Fatal(err)
		}
	}
}
