package store

import (
	"cmp"
	"slices"
	"sync"
)

// Story-candidate lookups run in the caller, beside parsing, instead of
// in the single writer: prepare reads the candidates of a fetch's new
// items from a read snapshot. The snapshot misses the keys that batches
// committed after it was taken; the writer adds those from keyLog, which
// remembers the keys of the last few commits of this Store. A snapshot
// older than the log, or a database another process wrote to meanwhile,
// makes the writer read the candidates itself, as before.

// keyLog remembers the keys of at most keyLogBatches commits and
// keyLogKeys keys. A fetch waits for a batch or two between its snapshot
// and its write; older snapshots cost a lookup in the writer.
const (
	keyLogBatches = 4
	keyLogKeys    = 32768
)

// keyLog is the story keys of this Store's recent commits, by commit
// sequence number.
type keyLog struct {
	mu sync.Mutex
	// seq numbers this Store's commits of story keys; floor is the
	// highest seq whose snapshot the log cannot complete: its entries
	// hold every commit after floor.
	seq, floor uint64
	entries    []keyLogEntry
	// dataVersion is the writer connection's PRAGMA data_version at the
	// last check; another process's commit changes it.
	dataVersion int64
}

type keyLogEntry struct {
	seq  uint64
	keys []storyKey // sorted by hash
}

// snapshot returns the sequence number a read snapshot taken after this
// call includes at least.
func (l *keyLog) snapshot() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// committed records the keys of a commit, sorted by hash.
func (l *keyLog) committed(keys []storyKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	if len(keys) == 0 {
		return
	}
	l.entries = append(l.entries, keyLogEntry{seq: l.seq, keys: keys})
	total := 0
	for _, e := range l.entries {
		total += len(e.keys)
	}
	for len(l.entries) > keyLogBatches || (total > keyLogKeys && len(l.entries) > 1) {
		total -= len(l.entries[0].keys)
		l.floor = l.entries[0].seq
		l.entries = append(l.entries[:0], l.entries[1:]...)
	}
}

// foreignWrite records that another process wrote to the database:
// no snapshot taken before now can be completed from the log.
func (l *keyLog) foreignWrite() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.floor = l.seq
	l.entries = nil
}

// checkDataVersion compares the writer connection's data version, read
// within a write transaction, with the last one seen, and reports whether
// another process committed since. The caller then drops what depends on
// this Store having written alone (the key filter) and calls foreignWrite.
func (l *keyLog) checkDataVersion(v int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := l.dataVersion != 0 && v != l.dataVersion
	l.dataVersion = v
	return changed
}

// covers reports whether the log holds every commit after seq, and no
// other process wrote since.
func (l *keyLog) covers(seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return seq >= l.floor
}

// since returns the keys among hashes that commits after seq added, and
// false when the log does not reach back to seq.
func (l *keyLog) since(seq uint64, hashes []int64) (map[int64][]storyKey, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < l.floor {
		return nil, false
	}
	var out map[int64][]storyKey
	for _, e := range l.entries {
		if e.seq <= seq {
			continue
		}
		for _, h := range hashes {
			i, found := slices.BinarySearchFunc(e.keys, h, func(k storyKey, h int64) int { return cmp.Compare(k.hash, h) })
			if !found {
				continue
			}
			if out == nil {
				out = make(map[int64][]storyKey)
			}
			for ; i < len(e.keys) && e.keys[i].hash == h; i++ {
				out[h] = append(out[h], e.keys[i])
			}
		}
	}
	return out, true
}
