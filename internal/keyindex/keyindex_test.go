package keyindex

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is what an Index must answer: by hash, the items added with it,
// the last added first.
type model map[int64][]Item

func (m model) add(it Item, hashes []int64) {
	for i, h := range hashes {
		if !slices.Contains(hashes[:i], h) {
			m[h] = append([]Item{it}, m[h]...)
		}
	}
}

func lookup(x *Index, h int64) []Item {
	var got []Item
	x.Lookup(h, func(it Item) bool {
		got = append(got, it)
		return true
	})
	return got
}

// check compares every hash of m. Hashes of m must differ in their top
// 32 bits, so that no chains are shared.
func check(t *testing.T, x *Index, m model) {
	t.Helper()
	for h, want := range m {
		if got := lookup(x, h); !slices.Equal(got, want) {
			t.Fatalf("Lookup(%#x) = %v, want %v", h, got, want)
		}
	}
}

func TestIndexMatchesModel(t *testing.T) {
	var x Index
	defer x.Close()
	m := model{}
	r := rand.New(rand.NewPCG(1, 2))
	// A pool of hashes that differ in their top 32 bits, some shared by
	// many items, as a formulaic headline's suffix is.
	pool := make([]int64, 50000)
	seen := map[uint32]bool{}
	for i := range pool {
		for {
			h := int64(r.Uint64())
			if !seen[uint32(uint64(h)>>32)] {
				seen[uint32(uint64(h)>>32)] = true
				pool[i] = h
				break
			}
		}
	}
	const items = 200000 // past three chunks of items and many of nodes
	keys := 0
	for i := range items {
		it := Item{Rowid: int64(i + 1), Sketch: int64(r.Uint64()), FirstSeen: int64(i / 10)}
		n := 1 + r.IntN(6)
		hashes := make([]int64, 0, n+1)
		for range n {
			if r.IntN(4) == 0 {
				hashes = append(hashes, pool[r.IntN(100)]) // popular
			} else {
				hashes = append(hashes, pool[r.IntN(len(pool))])
			}
		}
		if r.IntN(10) == 0 {
			hashes = append(hashes, hashes[0]) // repeated within an item
		}
		x.Add(it, hashes)
		m.add(it, hashes)
		for j, h := range hashes {
			if !slices.Contains(hashes[:j], h) {
				keys++
			}
		}
	}
	check(t, &x, m)
	if gi, gk := x.Len(); gi != items || gk != keys {
		t.Errorf("Len() = %d, %d; want %d, %d", gi, gk, items, keys)
	}
	if got := lookup(&x, int64(r.Uint64())|1); len(got) != 0 {
		t.Errorf("Lookup of a hash never added found %v", got)
	}
	if x.used*4 > len(x.slots)*3 {
		t.Errorf("%d of %d slots used, more than 3/4", x.used, len(x.slots))
	}
	if got, want := x.Older(1000), 10000; got != want {
		t.Errorf("Older(1000) = %d, want %d", got, want)
	}
	if x.Bytes() < int64(items*24+keys*8) {
		t.Errorf("Bytes() = %d, less than the %d the entries take", x.Bytes(), items*24+keys*8)
	}
}

func TestLookupStops(t *testing.T) {
	var x Index
	defer x.Close()
	for i := range 10 {
		x.Add(Item{Rowid: int64(i)}, []int64{42 << 32})
	}
	n := 0
	x.Lookup(42<<32, func(Item) bool {
		n++
		return n < 3
	})
	if n != 3 {
		t.Errorf("yield called %d times after returning false at the third, want 3", n)
	}
}

// Hashes that agree in their top 32 bits share a chain: a lookup of one
// finds the other's items too (never fewer).
func TestSharedTopBits(t *testing.T) {
	var x Index
	defer x.Close()
	a, b := int64(7<<32|1), int64(7<<32|2)
	x.Add(Item{Rowid: 1}, []int64{a})
	x.Add(Item{Rowid: 2}, []int64{b})
	for _, h := range []int64{a, b} {
		if got := lookup(&x, h); len(got) != 2 {
			t.Errorf("Lookup(%#x) = %v, want both items", h, got)
		}
	}
}

func TestEmptyAndClosed(t *testing.T) {
	var x Index
	if got := lookup(&x, 1); got != nil {
		t.Errorf("empty index found %v", got)
	}
	x.Add(Item{Rowid: 5}, []int64{1 << 40})
	x.Add(Item{Rowid: 6}, nil) // an item without keys is counted, never found
	if got := lookup(&x, 1<<40); len(got) != 1 || got[0].Rowid != 5 {
		t.Errorf("Lookup = %v, want rowid 5", got)
	}
	x.Close()
	if got := lookup(&x, 1<<40); got != nil {
		t.Errorf("closed index found %v", got)
	}
	if i, k := x.Len(); i != 0 || k != 0 {
		t.Errorf("closed index Len() = %d, %d", i, k)
	}
	// Usable again after Close.
	x.Add(Item{Rowid: 7}, []int64{1 << 40})
	if got := lookup(&x, 1<<40); len(got) != 1 || got[0].Rowid != 7 {
		t.Errorf("Lookup after Close and Add = %v, want rowid 7", got)
	}
	x.Close()
}

// FuzzIndex adds items whose hashes come from the input and compares
// every lookup with the model, hashes folded to their top 32 bits as the
// index keeps them.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var x Index
		defer x.Close()
		m := model{}
		for i := 0; len(data) > 0; i++ {
			n := int(data[0]%5) + 0
			data = data[1:]
			var hashes []int64
			for range n {
				if len(data) < 2 {
					break
				}
				// Few distinct top bits, so that chains are long and
				// the table rehashes.
				top := uint64(binary.LittleEndian.Uint16(data)) % 6000
				data = data[2:]
				hashes = append(hashes, int64(top<<32))
			}
			it := Item{Rowid: int64(i), FirstSeen: int64(i)}
			x.Add(it, hashes)
			m.add(it, hashes)
		}
		check(t, &x, m)
	})
}

func BenchmarkAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	hashes := make([]int64, 5)
	var x Index
	defer x.Close()
	for b.Loop() {
		for i := range hashes {
			hashes[i] = int64(r.Uint64())
		}
		x.Add(Item{Rowid: 1}, hashes)
	}
}

func BenchmarkLookup(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	var x Index
	defer x.Close()
	pool := make([]int64, 2_000_000)
	for i := range pool {
		pool[i] = int64(r.Uint64())
	}
	for i := 0; i < len(pool); i += 4 {
		x.Add(Item{Rowid: int64(i)}, pool[i:i+4])
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		x.Lookup(pool[i%len(pool)], func(Item) bool { return true })
		i += 7919
	}
}

// TestFull: past maxEntries items or keys, Add records nothing and what
// was recorded stays.
func TestFull(t *testing.T) {
	defer func(n int) { maxEntries = n }(maxEntries)
	maxEntries = 10
	var x Index
	defer x.Close()
	for i := range 20 {
		x.Add(Item{Rowid: int64(i)}, []int64{int64(i%3+1) << 32})
	}
	items, keys := x.Len()
	if items > maxEntries || keys > maxEntries || keys == 0 {
		t.Fatalf("Len() = %d, %d past a bound of %d", items, keys, maxEntries)
	}
	if got := lookup(&x, 1<<32); len(got) == 0 || got[len(got)-1].Rowid != 0 {
		t.Errorf("Lookup(1<<32) = %v, want the first items, rowid 0 last", got)
	}
}
