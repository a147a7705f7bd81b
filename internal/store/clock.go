package store

import "sync"

// prepare reads, from a snapshot taken before its fetch is written, which
// of the fetch's items are stored unchanged, and the writer trusts that
// answer unless another process wrote meanwhile: within this process only
// a fetch of the same source changes a source's items, and a source has
// one fetch in a batch. writeClock tells the writer whether another
// process wrote since a snapshot was taken.
type writeClock struct {
	mu sync.Mutex
	// seq counts this Store's commits, and other processes' commits as
	// the writer notices them; floor is the seq of the last one another
	// process made: a snapshot taken before it is not trusted.
	seq, floor uint64
	// dataVersion is the writer connection's PRAGMA data_version at the
	// last check; another process's commit changes it.
	dataVersion int64
}

// reading returns the clock's reading, which a read snapshot taken after
// this call includes at least.
func (c *writeClock) reading() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// committed records a commit of this Store.
func (c *writeClock) committed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
}

// foreignWrite records that another process wrote to the database: no
// snapshot taken before now is trusted.
func (c *writeClock) foreignWrite() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.floor = c.seq
}

// checkDataVersion compares the writer connection's data version, read
// within a write transaction, with the last one seen, and reports whether
// another process committed since. The caller then catches up on what
// this Store holds of the database (the story index) and calls
// foreignWrite.
func (c *writeClock) checkDataVersion(v int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.dataVersion != 0 && v != c.dataVersion
	c.dataVersion = v
	return changed
}

// covers reports whether no other process wrote since the reading seq
// (as far as the writer has noticed).
func (c *writeClock) covers(seq uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return seq >= c.floor
}
