package swar

import (
	"math/rand/v2"
	"testing"
)

// runLengthBytewise is Stops, RunEnd and Advance a byte at a time, over per-byte flags.
func runLengthBytewise(bad, sp [8]bool) (int, bool) {
	for k := range 8 {
		switch {
		case bad[k]:
			if k > 0 && sp[k-1] {
				return k - 1, true
			}
			return k, true
		case sp[k] && k < 7 && sp[k+1]:
			return k, true
		case sp[k] && k == 7:
			return 7, false
		}
	}
	return 8, false
}

// TestRunEnd compares Stops, RunEnd and Advance with the bytewise rule on
// random masks, some bytes marked both bad and space (dedup's 0xa0, whose
// low seven bits are a space), which the rule takes as bad.
func TestRunEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		var bad, sp [8]bool
		var badMask, spMask uint64
		for k := range 8 {
			switch rng.IntN(7) {
			case 0:
				bad[k], badMask = true, badMask|0x80<<(8*k)
			case 1, 2:
				sp[k], spMask = true, spMask|0x80<<(8*k)
			case 3:
				bad[k], badMask = true, badMask|0x80<<(8*k)
				sp[k], spMask = true, spMask|0x80<<(8*k)
			}
		}
		n, stops := Advance(spMask), false
		if stop := Stops(badMask, spMask); stop != 0 {
			n, stops = RunEnd(spMask, stop), true
		}
		wn, wstops := runLengthBytewise(bad, sp)
		if n != wn || stops != wstops {
			t.Fatalf("run of (bad %v, sp %v) = %d, %v; bytewise %d, %v", bad, sp, n, stops, wn, wstops)
		}
	}
}

func TestInRange(t *testing.T) {
	for c := range 0x80 {
		x := uint64(c) * Ones
		want := uint64(0)
		if 'a' <= c && c <= 'z' {
			want = Highs
		}
		if got := InRange(x, 'a', 'z'); got != want {
			t.Fatalf("InRange(%#x in every byte, 'a', 'z') = %#x, want %#x", c, got, want)
		}
	}
}
