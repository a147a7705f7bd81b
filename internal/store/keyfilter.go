package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Most story-key lookups find nothing: a new item's keys are its
// canonical URL and blocks of its title, and few other items share them.
// At a first ingest of 500,000 items, 12 of 30 s of CPU went to 2.5
// million lookups in story_keys and recent_story_keys, nearly all of them
// misses. keyFilter answers most of them from memory: a Bloom filter of
// every key hash in the database, so that the writer reads only the keys
// it may hold (itemWriter.loadCandidates).
//
// The filter must hold every key the writer's transaction can see (a
// false positive costs a lookup; a false negative would lose a story
// join). It is built by prepare, beside parsing, from a read snapshot;
// the writer adds the keys of each commit to it, and to the one being
// built, after the commit and before its next transaction. Another
// process's commits are not in the filter: the writer sees them by PRAGMA
// data_version at the start of each transaction (writeClock) and drops
// the filter before it looks anything up. The next prepare rebuilds it.
//
// Prune leaves the keys it deletes in the filter, where they only cost a
// lookup; once they are half of what the filter holds, it is rebuilt.

// Filter sizing: each stage holds up to its capacity of keys in
// filterBitsPerKey bits, probed filterProbes times (about 1% false
// positives). A full stage gets a successor twice its size, so the filter
// grows with the database without a rebuild; a lookup probes every stage.
const (
	filterBitsPerKey = 10
	filterProbes     = 7
	filterFirstStage = 1 << 16 // keys
)

// bloom is a growing Bloom filter of key hashes. Adds are serialized by
// keyFilter.mu; lookups take no lock.
type bloom struct {
	stages atomic.Pointer[[]*bloomStage]
	keys   atomic.Int64 // keys added
}

type bloomStage struct {
	words []atomic.Uint64
	mask  uint64 // bits - 1
	cap   int64  // keys before the next stage
	n     int64  // keys added; the adder's alone
}

func newBloom() *bloom {
	b := &bloom{}
	b.stages.Store(&[]*bloomStage{newBloomStage(filterFirstStage)})
	return b
}

func newBloomStage(capacity int64) *bloomStage {
	nbits := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerKey-1))
	return &bloomStage{words: make([]atomic.Uint64, nbits/64), mask: nbits - 1, cap: capacity}
}

// probes returns the two hashes the probe positions derive from. Key
// hashes are the first 64 bits of a SHA-256, so their halves are already
// independent and uniform.
func probes(h int64) (uint64, uint64) {
	u := uint64(h)
	return u & 0xffffffff, u>>32 | 1
}

// add records h; the caller holds keyFilter.mu.
func (b *bloom) add(h int64) {
	stages := *b.stages.Load()
	last := stages[len(stages)-1]
	if last.n >= last.cap {
		next := newBloomStage(last.cap * 2)
		grown := append(append(make([]*bloomStage, 0, len(stages)+1), stages...), next)
		b.stages.Store(&grown)
		last = next
	}
	h1, h2 := probes(h)
	for i := range uint64(filterProbes) {
		bit := (h1 + i*h2) & last.mask
		last.words[bit/64].Or(1 << (bit % 64))
	}
	last.n++
	b.keys.Add(1)
}

// mayContain reports whether h may have been added.
func (b *bloom) mayContain(h int64) bool {
	h1, h2 := probes(h)
	for _, s := range *b.stages.Load() {
		found := true
		for i := range uint64(filterProbes) {
			bit := (h1 + i*h2) & s.mask
			if s.words[bit/64].Load()&(1<<(bit%64)) == 0 {
				found = false
				break
			}
		}
		if found {
			return true
		}
	}
	return false
}

// keyFilter is the Store's filter of story key hashes and its state.
type keyFilter struct {
	mu sync.Mutex
	// cur holds every key in the database when ready; next is the filter
	// being built, which receives the writer's keys from its start too.
	cur, next *bloom
	ready     bool
	// gen counts invalidations: a build that started before one is
	// discarded.
	gen uint64
	// deleted counts the keys Prune removed since cur was built.
	deleted int64
	// builds counts finished builds (tests).
	builds atomic.Int64
}

// committed adds the keys of a commit. The writer calls it after the
// commit and before its next transaction.
func (f *keyFilter) committed(keys []storyKey) {
	if len(keys) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range []*bloom{f.cur, f.next} {
		if b != nil {
			for _, k := range keys {
				b.add(k.hash)
			}
		}
	}
}

// invalidate drops the filter: another process wrote keys it lacks. The
// writer calls it before writeClock.foreignWrite.
func (f *keyFilter) invalidate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur, f.next, f.ready = nil, nil, false
	f.gen++
}

// pruned records that Prune deleted n keys.
func (f *keyFilter) pruned(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted += n
}

// startBuild reports whether the filter is due to be built, because it is
// not ready or Prune deleted half of its keys, and no build runs; it then
// marks the build as started, and the caller runs buildKeyFilter.
func (f *keyFilter) startBuild() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next != nil || f.ready && f.deleted <= f.cur.keys.Load()/2 {
		return false
	}
	f.next = newBloom()
	return true
}

// filter returns the hashes the database may hold, and whether the filter
// was used: when it is not ready, every hash.
func (f *keyFilter) filter(hashes []int64) (kept []int64, used bool) {
	f.mu.Lock()
	cur, ready := f.cur, f.ready
	f.mu.Unlock()
	if !ready {
		return hashes, false
	}
	kept = hashes[:0:0]
	for _, h := range hashes {
		if cur.mayContain(h) {
			kept = append(kept, h)
		}
	}
	return kept, true
}

// buildKeyFilter fills the filter that keyFilter.startBuild started with
// every key in the database, from a snapshot taken now, and makes it
// current unless the filter was invalidated meanwhile.
func (s *Store) buildKeyFilter(ctx context.Context) error {
	f := &s.keyFilter
	f.mu.Lock()
	next, gen := f.next, f.gen
	f.mu.Unlock()
	if next == nil {
		return nil // invalidated before it began
	}
	abandon := func() {
		f.mu.Lock()
		if f.next == next {
			f.next = nil
		}
		f.mu.Unlock()
	}
	const chunk = 4096
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT key_hash FROM all_story_keys")
		if err != nil {
			return err
		}
		defer rows.Close()
		buf := make([]int64, 0, chunk)
		flush := func() {
			f.mu.Lock()
			for _, h := range buf {
				next.add(h)
			}
			f.mu.Unlock()
			buf = buf[:0]
		}
		for rows.Next() {
			var h int64
			if err := rows.Scan(&h); err != nil {
				return err
			}
			if buf = append(buf, h); len(buf) == chunk {
				flush()
			}
		}
		flush()
		return rows.Err()
	})
	if err != nil {
		abandon()
		return fmt.Errorf("build story key filter: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gen != gen || f.next != next {
		return nil
	}
	f.cur, f.next, f.ready, f.deleted = next, nil, true, 0
	f.builds.Add(1)
	return nil
}
