package store

import (
	"encoding/binary"
	"errors"
)

// A summary is the start of its packed body (packItem), and the HTML
// after it is most of the block: the readers that want the summary alone
// (the search index's catch-up above all) decode only as far as the
// summary ends. github.com/klauspost/compress/s2 decodes whole blocks
// only, so decodePrefix walks the block format itself, as s2's pure-Go
// decoder does (decode_other.go): Snappy's literals and copies, plus
// S2's repeat of the previous offset in a one-byte-offset copy whose
// offset is 0. It checks what it decodes as s2 does; the bytes after the
// prefix are not looked at, so a block damaged there is found by the
// readers of the HTML.

var errCorruptBlock = errors.New("corrupt s2 block")

// decodePrefix decodes the start of the S2 block src into dst, which
// must hold the whole decoded block (s2.DecodedLen), until it holds the
// first end(out) bytes, and returns them. end is first asked once
// maxVarintLen bytes (or the whole block, if shorter) are decoded, and
// returns the length wanted, at most the decoded length.
func decodePrefix(dst, src []byte, end func(out []byte) (int, error)) ([]byte, error) {
	total, k := binary.Uvarint(src)
	if k <= 0 || total > uint64(len(dst)) {
		return nil, errCorruptBlock
	}
	dst = dst[:total]
	s, d := k, 0
	limit, final := min(binary.MaxVarintLen64, len(dst)), false
	offset := 0
	for {
		if d >= limit {
			if final {
				return dst[:limit], nil
			}
			n, err := end(dst[:d])
			if err != nil {
				return nil, err
			}
			if n > len(dst) {
				return nil, errCorruptBlock
			}
			limit, final = n, true
			continue
		}
		if s >= len(src) {
			return nil, errCorruptBlock
		}
		tag := src[s]
		var length int
		switch tag & 3 {
		case 0: // literal
			x := int(tag >> 2)
			s++
			if x >= 60 {
				nb := x - 59
				if s+nb > len(src) {
					return nil, errCorruptBlock
				}
				x = 0
				for i := nb - 1; i >= 0; i-- {
					x = x<<8 | int(src[s+i])
				}
				s += nb
			}
			length = x + 1
			if length > len(dst)-d || length > len(src)-s {
				return nil, errCorruptBlock
			}
			copy(dst[d:], src[s:s+length])
			d += length
			s += length
			continue
		case 1: // copy, one-byte offset, or a repeat
			if s+2 > len(src) {
				return nil, errCorruptBlock
			}
			o := int(tag&0xe0)<<3 | int(src[s+1])
			length = int(tag>>2) & 7
			s += 2
			if o != 0 {
				offset = o
			} else {
				var extra int
				switch length {
				case 5:
					extra = 1
				case 6:
					extra = 2
				case 7:
					extra = 3
				}
				if s+extra > len(src) {
					return nil, errCorruptBlock
				}
				switch length {
				case 5:
					length = int(src[s]) + 4
				case 6:
					length = (int(src[s]) | int(src[s+1])<<8) + 1<<8
				case 7:
					length = (int(src[s]) | int(src[s+1])<<8 | int(src[s+2])<<16) + 1<<16
				}
				s += extra
			}
			length += 4
		case 2: // copy, two-byte offset
			if s+3 > len(src) {
				return nil, errCorruptBlock
			}
			offset = int(src[s+1]) | int(src[s+2])<<8
			length = 1 + int(tag>>2)
			s += 3
		case 3: // copy, four-byte offset
			if s+5 > len(src) {
				return nil, errCorruptBlock
			}
			offset = int(binary.LittleEndian.Uint32(src[s+1:]))
			length = 1 + int(tag>>2)
			s += 5
		}
		if offset <= 0 || d < offset || length > len(dst)-d {
			return nil, errCorruptBlock
		}
		// Forwards, byte by byte when the copy overlaps what it writes.
		if offset >= length {
			copy(dst[d:d+length], dst[d-offset:])
		} else {
			for i := range length {
				dst[d+i] = dst[d-offset+i]
			}
		}
		d += length
	}
}
