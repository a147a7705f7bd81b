package store

import (
	"strings"
	"testing"
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
