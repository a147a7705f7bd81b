// Package swar holds the arithmetic that tests eight bytes of text at a
// time in one uint64 (SIMD within a register), shared by the text loops
// of the parser and of dedup. Each caller classifies the bytes its own way
// into masks holding 0x80 in the bytes of a class; Stops, RunEnd and
// Advance turn two such masks into the length of a run.
package swar

import "math/bits"

// A byte's worth repeated in every byte of a uint64.
const (
	Ones  = 0x0101010101010101
	Highs = 0x8080808080808080
	Low7  = 0x7f7f7f7f7f7f7f7f
)

// InRange returns 0x80 in every byte of x (each below 0x80) that lies in
// [lo, hi], and 0 in the others. No sum carries into the next byte.
func InRange(x uint64, lo, hi byte) uint64 {
	return (x + (0x80-uint64(lo))*Ones) &^ (x + (0x7f-uint64(hi))*Ones) & Highs
}

// Runs of kept bytes with single spaces between them are measured eight
// bytes at a time from two masks: bad marks the bytes that end a run, sp
// the spaces (a byte marked in both counts as bad). A run stops at a bad
// byte, at the first of two spaces, or, for a space before a bad byte, at
// that space; a space last in the eight bytes is left to the next eight
// to decide. The
// loop over the eight-byte words stays in the caller, where the common
// case (no stop) costs one test:
//
//	if stop := swar.Stops(bad, sp); stop != 0 {
//		return i + swar.RunEnd(sp, stop)
//	}
//	i += swar.Advance(sp)

// Stops returns the bytes at which a run may stop: 0 when it goes on
// through all eight.
func Stops(bad, sp uint64) uint64 {
	return bad | sp&(sp>>8)
}

// Advance returns how far a run that does not stop in the eight bytes
// goes on: all eight, or seven when the last is a space.
func Advance(sp uint64) int {
	if sp>>56 != 0 {
		return 7
	}
	return 8
}

// RunEnd returns the length of the run in the eight bytes, given their
// Stops, which are not 0. The byte before the eight is kept. A space just
// before the first stop can only be followed by a bad byte (two spaces
// would have stopped at the first), so it is left out.
func RunEnd(sp, stop uint64) int {
	k := bits.TrailingZeros64(stop) / 8
	if k > 0 && sp&(0x80<<(8*(k-1))) != 0 {
		return k - 1
	}
	return k
}
