package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"github.com/syndic-dev/syndic/internal/keyindex"
)

// The writer finds story candidates in memory: storyIndex holds the
// story keys of story_key_log (migration 13), one row per item and per
// changed headline, and each commit appends its new items' rows to both.
// Kept in tables indexed by key instead, the keys cost 15% of the CPU of
// a first ingest of 10,000 sources x 50 items: inserting 2.5 million of
// them all over a B-tree, moving them between three tables to keep those
// inserts cheap, and looking them up.
//
// The index is the writer's alone and read from the log when the first
// fetch with new items needs it, within that fetch's transaction: a
// process that only re-polls never reads it. At 500,000 items it takes
// some 50 MB, outside the Go heap (package keyindex).
//
// Other processes append to the log too. The writer sees their commits
// by PRAGMA data_version at the start of each transaction (writeClock)
// and replays the rows after the last one it holds (catchUp) before it
// looks anything up; its own rows it adds after each commit. What the
// index holds beyond the log does no harm: an item pruned since is not
// found when read (itemWriter.story), and one whose rowid was reused is
// another source's or another story, which the same-story check turns
// down.
//
// The index grows by every new item. Once more than half of what it holds
// is older than the dedup window, it is read again from the log, where
// Prune has dropped those rows.
type storyIndex struct {
	log    *slog.Logger // nil logs nothing
	idx    keyindex.Index
	loaded bool
	// since is the first-seen time from which the index holds items; last
	// is the seq of the last log row it holds.
	since int64
	last  int64
	// latest is the latest since a lookup asked for, and checked what it
	// was when the index last counted the items older than it.
	latest, checked int64
	// items and bytes are the index's size for other goroutines (Store.
	// StoryIndexSize), set after every change.
	items, bytes atomic.Int64
}

// publish records the index's size for StoryIndexSize.
func (x *storyIndex) publish() {
	n, _ := x.idx.Len()
	x.items.Store(int64(n))
	x.bytes.Store(x.idx.Bytes())
}

// StoryIndexSize reports how many items the writer's story index holds and
// the memory it takes (storyindex.go): both 0 until a fetch with new
// items reads it, and in a read-only Store.
func (s *Store) StoryIndexSize() (items, bytes int64) {
	return s.stories.items.Load(), s.stories.bytes.Load()
}

// storyIndexCheckEvery is how often, in fetch time, the writer counts
// the items of the index older than the dedup window.
const storyIndexCheckEvery = 10 * 60 * 1000 // ms

// keyRecord is one row of story_key_log: the keys of an item's headline,
// and the source of the item while the transaction that adds it runs
// (keyBuffer).
type keyRecord struct {
	item     keyindex.Item
	sourceID string
	hashes   []int64
}

// lookup returns the index, read from the log within tx when it does not
// hold every item first seen at or after since.
func (x *storyIndex) lookup(ctx context.Context, tx sqlTx, since int64) (*keyindex.Index, error) {
	x.latest = max(x.latest, since)
	if !x.loaded || since < x.since {
		if err := x.load(ctx, tx, since); err != nil {
			return nil, err
		}
	}
	return &x.idx, nil
}

// load reads the rows of the log first seen at or after since.
func (x *storyIndex) load(ctx context.Context, tx sqlTx, since int64) error {
	x.forget()
	start := time.Now()
	last, err := lastLogSeq(ctx, tx)
	if err != nil {
		return err
	}
	if err := x.replay(ctx, tx, "first_seen >= ?", since); err != nil {
		x.forget()
		return err
	}
	x.loaded, x.since, x.last = true, since, last
	x.publish()
	if x.log != nil {
		items, keys := x.idx.Len()
		x.log.Debug("story index read", "items", items, "keys", keys, "bytes", x.idx.Bytes(), "duration", time.Since(start))
	}
	return nil
}

// catchUp adds the rows other processes appended to the log since the
// index was read, within tx. An index not read yet has nothing to catch up.
func (x *storyIndex) catchUp(ctx context.Context, tx sqlTx) error {
	if !x.loaded {
		return nil
	}
	last, err := lastLogSeq(ctx, tx)
	if err != nil {
		x.forget()
		return err
	}
	if last <= x.last {
		// Nothing new; fewer when Prune dropped the last rows, which the
		// index may keep (seqs are never given twice).
		return nil
	}
	if err := x.replay(ctx, tx, "seq > ?", x.last); err != nil {
		// Half replayed is not what the log says: read it again next time.
		x.forget()
		return err
	}
	x.last = last
	x.publish()
	return nil
}

// lastLogSeq reads the seq of the log's last row, 0 for an empty log.
func lastLogSeq(ctx context.Context, tx sqlTx) (int64, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM story_key_log").Scan(&last); err != nil {
		return 0, fmt.Errorf("read story key log: %w", err)
	}
	return last, nil
}

// replay adds, in log order, the log rows that the condition where selects
// with arg.
func (x *storyIndex) replay(ctx context.Context, tx sqlTx, where string, arg int64) error {
	rows, err := tx.QueryContext(ctx, `
		SELECT
			item_rowid,
			first_seen,
			title_sketch,
			key_hashes
		FROM story_key_log
		WHERE `+where+`
		ORDER BY seq`, arg)
	if err != nil {
		return fmt.Errorf("read story key log: %w", err)
	}
	defer rows.Close()
	var hashes []int64
	for rows.Next() {
		var it keyindex.Item
		var blob sql.RawBytes // valid until Next: decoded at once
		if err := rows.Scan(&it.Rowid, &it.FirstSeen, &it.Sketch, &blob); err != nil {
			return fmt.Errorf("read story key log: %w", err)
		}
		hashes = decodeKeyHashes(hashes[:0], blob)
		x.idx.Add(it, hashes)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read story key log: %w", err)
	}
	return nil
}

// committed adds the rows the writer appended to the log, the last of
// them last, once their transaction committed. An index not read yet
// reads them with the rest.
func (x *storyIndex) committed(recs []keyRecord, last int64) {
	if !x.loaded || len(recs) == 0 {
		return
	}
	for _, r := range recs {
		x.idx.Add(r.item, r.hashes)
	}
	x.last = last
	x.publish()
}

// tidy drops the index, to be read again, when more than half of it is
// older than the latest window a lookup asked for; it counts at most once
// per storyIndexCheckEvery of fetch time.
func (x *storyIndex) tidy() {
	if !x.loaded || x.latest-x.checked < storyIndexCheckEvery {
		return
	}
	x.checked = x.latest
	if n, _ := x.idx.Len(); 2*x.idx.Older(x.latest) > n {
		x.forget()
	}
}

// forget empties the index and gives its memory back; the next lookup
// reads the log again.
func (x *storyIndex) forget() {
	x.idx.Close()
	x.loaded, x.since, x.last = false, 0, 0
	x.publish()
}

// encodeKeyHashes is the key_hashes column of hashes.
func encodeKeyHashes(hashes []int64) []byte {
	b := make([]byte, 0, 8*len(hashes))
	for _, h := range hashes {
		b = binary.BigEndian.AppendUint64(b, uint64(h))
	}
	return b
}

// decodeKeyHashes appends the hashes of a key_hashes column to dst; a
// partial last hash is left out.
func decodeKeyHashes(dst []int64, b []byte) []int64 {
	for ; len(b) >= 8; b = b[8:] {
		dst = append(dst, int64(binary.BigEndian.Uint64(b)))
	}
	return dst
}

// logRowsPerInsert is the most log rows one statement of insertLogSQL
// appends; a transaction's rows go in statements of 64, 32, ..., 1 rows.
const logRowsPerInsert = 64

// insertLogSQL appends n rows to story_key_log, given as parameters
// (item rowid, first seen, sketch, key hashes) in turn. OR IGNORE spares
// the statement a statement journal (see flushKeys); no row conflicts.
func insertLogSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO story_key_log (item_rowid, first_seen, title_sketch, key_hashes) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?)")
	}
	return b.String()
}

// insertLogSQLs holds insertLogSQL(1 << i) at i, for each statement size
// appendKeyLog uses.
var insertLogSQLs = func() []string {
	var l []string
	for n := 1; n <= logRowsPerInsert; n *= 2 {
		l = append(l, insertLogSQL(n))
	}
	return l
}()

// appendKeyLog appends recs to story_key_log within tx and returns the
// seq of the last.
func appendKeyLog(ctx context.Context, tx sqlTx, recs []keyRecord) (last int64, err error) {
	args := make([]any, 0, 4*logRowsPerInsert)
	for len(recs) > 0 {
		n := logRowsPerInsert
		for n > len(recs) {
			n /= 2
		}
		args = args[:0]
		for _, r := range recs[:n] {
			args = append(args, r.item.Rowid, r.item.FirstSeen, r.item.Sketch, encodeKeyHashes(r.hashes))
		}
		res, err := tx.ExecContext(ctx, insertLogSQLs[bits.TrailingZeros(uint(n))], args...)
		if err != nil {
			return 0, fmt.Errorf("save story keys of %d items: %w", len(recs), err)
		}
		if last, err = res.LastInsertId(); err != nil {
			return 0, fmt.Errorf("save story keys of %d items: %w", len(recs), err)
		}
		recs = recs[n:]
	}
	return last, nil
}
