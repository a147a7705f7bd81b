package store

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Item HTML is most of a database's bytes. Bodies at least
// compressMinBytes long are stored compressed in a BLOB (HTML shrinks to
// about half); shorter ones stay TEXT, where compression would not pay
// for itself. The column's type tells the two apart, so databases written
// before compression read unchanged.
const compressMinBytes = 256

// Bodies are compressed with zstd at its fastest level. On farm HTML (1-3
// KB items) it packs 5,000 bodies to 49.0% in 70 ms, where DEFLATE
// (klauspost/compress level 4, used before migration 5) packs them to
// 46.2% in 100 ms: about 60 more bytes per item for a third less of the
// CPU that compression took from every first ingest. BLOBs written
// before are raw DEFLATE and read as such: a zstd frame starts with its
// magic number, which a DEFLATE stream from klauspost/compress never does
// (its first byte is a block header whose padding bits are zero).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false),
			zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // fixed options
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderLowmem(true))
		if err != nil {
			panic(err) // fixed options
		}
		return d
	})
)

var flateReaders = sync.Pool{New: func() any {
	return flate.NewReader(bytes.NewReader(nil))
}}

// packHTML returns the value to store for an item's HTML.
func packHTML(html string) (any, error) {
	if len(html) < compressMinBytes {
		return html, nil
	}
	// EncodeAll only reads its source: a view of the string's bytes spares
	// a copy of every body ingested (a twentieth of the bytes a first
	// ingest allocated).
	src := unsafe.Slice(unsafe.StringData(html), len(html))
	out := zstdEncoder().EncodeAll(src, make([]byte, 0, len(html)/2))
	if len(out) >= len(html) {
		return html, nil
	}
	return out, nil
}

// unpackHTML reverses packHTML; compressed says the column held a BLOB.
func unpackHTML(raw []byte, compressed bool) (string, error) {
	if !compressed {
		return string(raw), nil
	}
	if bytes.HasPrefix(raw, zstdMagic) {
		out, err := zstdDecoder().DecodeAll(raw, nil)
		if err != nil {
			return "", fmt.Errorf("decompress item html: %w", err)
		}
		return string(out), nil
	}
	r := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(raw), nil); err != nil {
		return "", fmt.Errorf("decompress item html: %w", err)
	}
	var out bytes.Buffer
	out.Grow(len(raw) * 3)
	if _, err := io.Copy(&out, r); err != nil {
		return "", fmt.Errorf("decompress item html: %w", err)
	}
	return out.String(), nil
}
