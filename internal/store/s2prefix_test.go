package store

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
)

// prefixCheck decodes every prefix of block with decodePrefix and
// compares it with s2.Decode's whole output.
func prefixCheck(t *testing.T, block []byte) {
	t.Helper()
	want, err := s2.Decode(nil, block)
	if err != nil {
		// A damaged block may still have a good start; it must not panic.
		decodePrefix(make([]byte, 1<<20), block, func([]byte) (int, error) { return 0, nil })
		return
	}
	for _, n := range []int{0, 1, 7, len(want) / 3, len(want) / 2, len(want) - 1, len(want)} {
		if n < 0 || n > len(want) {
			continue
		}
		got, err := decodePrefix(make([]byte, len(want)), block, func(out []byte) (int, error) {
			if !bytes.Equal(out, want[:len(out)]) {
				t.Fatalf("first %d bytes decoded differ from s2.Decode's", len(out))
			}
			return n, nil
		})
		if err != nil {
			t.Fatalf("decodePrefix(%d of %d bytes): %v", n, len(want), err)
		}
		if !bytes.Equal(got, want[:n]) {
			t.Fatalf("decodePrefix(%d of %d bytes) differs from s2.Decode's", n, len(want))
		}
	}
}

// repetitive builds text with repeats at every distance the encoders'
// copy and repeat codes cover.
func repetitive(r *rand.Rand, n int) []byte {
	words := []string{"council", "harbor", "flood ", "the ", "<p>", "</p>", "defenses", " a", "\x00"}
	var b []byte
	for len(b) < n {
		switch r.IntN(4) {
		case 0:
			b = append(b, words[r.IntN(len(words))]...)
		case 1:
			if len(b) > 0 {
				start := r.IntN(len(b))
				b = append(b, b[start:min(len(b), start+r.IntN(300))]...)
			}
		case 2:
			b = append(b, byte(r.IntN(256)))
		default:
			b = append(b, bytes.Repeat([]byte{byte('a' + r.IntN(3))}, r.IntN(70000)/(1+r.IntN(100)))...)
		}
	}
	return b[:n]
}

// TestDecodePrefix compares decodePrefix with s2.Decode on blocks from
// all three of s2's encoders, which between them write every element
// the format has: literals of each length size, the three copy sizes and
// the repeats.
func TestDecodePrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 10, 100, 2000, 70000, 300000} {
		for range 5 {
			src := repetitive(r, n)
			for _, enc := range []func(dst, src []byte) []byte{s2.Encode, s2.EncodeBetter, s2.EncodeBest} {
				prefixCheck(t, enc(nil, src))
			}
		}
		prefixCheck(t, s2.Encode(nil, []byte(randomText(n))))
	}
	// Runs long enough for repeats with three-byte lengths.
	for _, src := range [][]byte{
		bytes.Repeat([]byte{'a'}, 300000),
		append([]byte(randomText(100)), bytes.Repeat([]byte("ab"), 150000)...),
		append(bytes.Repeat([]byte(randomText(1000)), 200), bytes.Repeat([]byte{0}, 70000)...),
	} {
		for _, enc := range []func(dst, src []byte) []byte{s2.Encode, s2.EncodeBetter, s2.EncodeBest} {
			prefixCheck(t, enc(nil, src))
		}
	}
}

// TestDecodePrefixCorrupt: a block that lies about its elements is an
// error, never a panic or a read out of bounds.
func TestDecodePrefixCorrupt(t *testing.T) {
	good := s2.EncodeBetter(nil, repetitive(rand.New(rand.NewPCG(3, 4)), 5000))
	all := func([]byte) (int, error) { return 5000, nil }
	for n := 0; n < len(good); n++ {
		if _, err := decodePrefix(make([]byte, 5000), good[:n], all); err == nil {
			t.Errorf("a block cut to %d of %d bytes decoded whole", n, len(good))
		}
	}
	if _, err := decodePrefix(make([]byte, 10), good, all); err == nil {
		t.Error("a block longer than its buffer decoded")
	}
}

func FuzzDecodePrefix(f *testing.F) {
	f.Add(s2.EncodeBetter(nil, []byte("The harbor council met. The harbor council met again.")))
	f.Add([]byte{5, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, block []byte) {
		want, err := s2.Decode(nil, block)
		if err != nil || len(want) > 1<<20 {
			// Whatever decodePrefix makes of it, it must not panic.
			decodePrefix(make([]byte, 1<<16), block, func(out []byte) (int, error) { return len(out), nil })
			return
		}
		got, err := decodePrefix(make([]byte, len(want)), block, func([]byte) (int, error) { return len(want), nil })
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("decodePrefix = %d bytes, %v; s2.Decode %d bytes", len(got), err, len(want))
		}
	})
}
