// Package keyindex holds, in memory, which items carry which story keys:
// the index the store looks story candidates up in (store/keyindex.go).
//
// A first ingest of 10,000 sources x 50 items records 2.5 million keys of
// 500,000 items. Kept in SQLite tables, looking them up and moving them
// between tables cost 15% of the ingest's CPU; here a lookup is a probe of
// an open-addressing table and a walk along a chain.
//
// The index lives outside the Go heap (alloc_unix.go): some 50 MB at that
// size, which the garbage collector would otherwise count as live heap
// and let the heap grow by GOGC percent of it. It holds no pointers, so
// nothing in it needs scanning either way.
//
// Layout, for n items and k keys:
//
//   - items: rowid, title sketch and first-seen time, 24 bytes each;
//   - nodes: an item and the next node of the same key, 8 bytes per key;
//   - slots: 32 bits of the key's hash and its newest node, 8 bytes per
//     slot, at most 3/4 of them used.
//
// Keys whose hashes agree in the 32 bits share one chain: a lookup of
// either finds the items of both. The store checks every candidate
// anyway (title sketch, then SameStory), so this only costs a little
// work, about one key in two million at 2.5 million keys.
package keyindex

import (
	"math"
	"math/bits"
)

// Item is what a lookup finds: an item's rowid, its title's sketch
// (dedup.TitleSketch; 0 unknown) and when it was first seen (Unix
// milliseconds).
type Item struct {
	Rowid     int64
	Sketch    int64
	FirstSeen int64
}

type node struct {
	item int32 // index into items
	next int32 // index into nodes; 0 ends the chain
}

type slot struct {
	fp   uint32 // the key hash's top 32 bits
	head int32  // index into nodes of the newest item; 0 for an empty slot
}

// chunkBits sets the size of the chunks items and nodes are kept in:
// 65,536 entries, 1.5 MB of items or 512 KB of nodes. Chunks never move,
// so growing costs no copy.
const (
	chunkBits = 16
	chunkLen  = 1 << chunkBits
	chunkMask = chunkLen - 1
)

// minSlots is the slot table's smallest size.
const minSlots = 1 << 12

// Index maps story key hashes to items. The zero value is empty and
// ready; Close gives its memory back. An Index is not safe for
// concurrent use.
type Index struct {
	items  [][]Item
	nitems int
	nodes  [][]node
	nnodes int // node 0 is never used: 0 ends a chain
	slots  []slot
	used   int // slots with a head
}

// maxEntries bounds the items and the keys of an index, whose entries are
// numbered by int32: past it, Add records nothing (the store then misses
// the joins the keys would have found), tens of gigabytes of memory in.
var maxEntries = math.MaxInt32 - 1

// Add records an item with the hashes of its keys. An item added twice
// (a changed headline) is found by the keys of both; repeated hashes are
// recorded once.
func (x *Index) Add(it Item, hashes []int64) {
	if x.nnodes == 0 {
		x.nnodes = 1
	}
	if x.nitems >= maxEntries || x.nnodes+len(hashes) > maxEntries {
		return
	}
	idx := int32(x.nitems)
	x.items = grow(x.items, x.nitems)
	x.items[x.nitems>>chunkBits][x.nitems&chunkMask] = it
	x.nitems++
	for i, h := range hashes {
		if repeated(hashes[:i], h) {
			continue
		}
		if x.slots == nil || (x.used+1)*4 > len(x.slots)*3 {
			x.rehash()
		}
		fp := uint32(uint64(h) >> 32)
		s := x.find(fp)
		n := int32(x.nnodes)
		x.nodes = grow(x.nodes, x.nnodes)
		x.nodes[x.nnodes>>chunkBits][x.nnodes&chunkMask] = node{item: idx, next: s.head}
		x.nnodes++
		if s.head == 0 {
			x.used++
		}
		s.fp, s.head = fp, n
	}
}

func repeated(hs []int64, h int64) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// Lookup calls yield with the items recorded with hash h, the last added
// first, until yield returns false. It may also yield items of another
// hash that agrees in its top 32 bits.
func (x *Index) Lookup(h int64, yield func(Item) bool) {
	if x.used == 0 {
		return
	}
	s := x.find(uint32(uint64(h) >> 32))
	for n := s.head; n != 0; {
		nd := x.nodes[n>>chunkBits][n&chunkMask]
		if !yield(x.items[nd.item>>chunkBits][nd.item&chunkMask]) {
			return
		}
		n = nd.next
	}
}

// Len returns how many items and keys were added (a repeated hash of one
// item counted once).
func (x *Index) Len() (items, keys int) {
	return x.nitems, max(x.nnodes-1, 0)
}

// Older counts the items first seen before since: what compacting the
// index would drop.
func (x *Index) Older(since int64) int {
	n := 0
	for i := range x.nitems {
		if x.items[i>>chunkBits][i&chunkMask].FirstSeen < since {
			n++
		}
	}
	return n
}

// Bytes is the memory the index holds.
func (x *Index) Bytes() int64 {
	return int64(len(x.items))*chunkLen*24 + int64(len(x.nodes))*chunkLen*8 + int64(len(x.slots))*8
}

// Close gives the index's memory back and leaves it empty.
func (x *Index) Close() {
	for _, c := range x.items {
		free(c)
	}
	for _, c := range x.nodes {
		free(c)
	}
	free(x.slots)
	*x = Index{}
}

// find returns the slot of fp: the one holding it, or the empty slot
// where it belongs. The table is never full.
func (x *Index) find(fp uint32) *slot {
	n := uint64(len(x.slots))
	// The top bits of fp pick the home slot (a multiply instead of a
	// modulo: Lemire's fast range reduction), so that a table of any size
	// spreads them evenly.
	i, _ := bits.Mul64(uint64(fp)<<32, n)
	for {
		s := &x.slots[i]
		if s.head == 0 || s.fp == fp {
			return s
		}
		if i++; i == n {
			i = 0
		}
	}
}

// rehash moves the slots into a table twice as large.
func (x *Index) rehash() {
	old := x.slots
	x.slots = alloc[slot](max(minSlots, 2*len(old)))
	for _, s := range old {
		if s.head != 0 {
			*x.find(s.fp) = s
		}
	}
	free(old)
}

// grow adds a chunk to chunks when entry n falls past its end.
func grow[T any](chunks [][]T, n int) [][]T {
	if n>>chunkBits < len(chunks) {
		return chunks
	}
	return append(chunks, alloc[T](chunkLen))
}
