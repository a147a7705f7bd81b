package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// New items reach the full-text index in bulk (migration 7): the writer
// records their rowids in search_pending, and indexPending moves them
// into items_fts, searchBatch at a time in one statement each. That
// happens when the batcher has had nothing to write for searchIdle
// (indexIdle: in serve between fetch rounds, or in a pass of syndic fetch
// waiting on slow sources), before a search (indexForSearch), and before
// the index is checked. Nothing else waits for it: indexing is a fifth of
// a first ingest's work in the single writer, which every fetch waits
// for, so a pass of syndic fetch that is never idle leaves its new items
// for whoever searches next or for serve. A crash leaves the pending rows
// in place for the next process; only a search from a read-only Store,
// which cannot index them, misses the newest items meanwhile.
const (
	searchBatch = 16384
	searchIdle  = time.Second
)

// registerFunctions makes syndic_item_summary(id, summary, content_html),
// an item's summary wherever it is stored (see packItem), known to the
// connections Open makes from then on; id only names the item in an
// error. Only indexPending calls it: no trigger or view does, so the
// database stays usable from the sqlite3 shell, where it is not defined.
var registerFunctions = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction("syndic_item_summary", 3, itemSummaryFunc)
})

func itemSummaryFunc(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	id, _ := args[0].(string)
	summary, _ := args[1].(string)
	raw, blob := args[2].([]byte)
	s, err := unpackSummary(summary, raw, blob)
	if err != nil {
		return nil, fmt.Errorf("item %q: %w", id, err)
	}
	return s, nil
}

// indexPending indexes, within tx, the pending items with the limit
// lowest rowids (all of them when limit < 0), and returns how many it
// took off search_pending.
func indexPending(ctx context.Context, tx sqlTx, limit int64) (int64, error) {
	var last sql.NullInt64
	err := tx.QueryRowContext(ctx, `
		SELECT max(item_rowid)
		FROM (
			SELECT item_rowid
			FROM search_pending
			ORDER BY item_rowid
			LIMIT ?
		)`, limit).Scan(&last)
	if err != nil || !last.Valid {
		return 0, wrapIndexError(err)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO items_fts (
			rowid,
			title,
			summary
		)
		SELECT
			i.rowid,
			i.title,
			syndic_item_summary(i.id, i.summary, i.content_html)
		FROM search_pending AS p
		JOIN items AS i ON i.rowid = p.item_rowid
		WHERE p.item_rowid <= ?
		ORDER BY p.item_rowid`, last.Int64)
	if err != nil {
		return 0, wrapIndexError(err)
	}
	r, err := tx.ExecContext(ctx, "DELETE FROM search_pending WHERE item_rowid <= ?", last.Int64)
	if err != nil {
		return 0, wrapIndexError(err)
	}
	n, err := r.RowsAffected()
	return n, wrapIndexError(err)
}

func wrapIndexError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("index pending items for search: %w", err)
}

// IndexPending indexes the items waiting for the full-text index, if
// any, searchChunk of them per transaction: after a large syndic fetch
// (500,000 items wait about 10 s) the fetches of a serve on the same
// database write between the chunks instead of waiting for all of them.
func (s *Store) IndexPending(ctx context.Context) error {
	if s.writer == nil {
		return nil
	}
	var pending bool
	if err := s.reader.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM search_pending)").Scan(&pending); err != nil {
		return fmt.Errorf("count items pending for search: %w", err)
	}
	for pending {
		n, err := s.indexChunk(ctx)
		if err != nil {
			return err
		}
		pending = n == s.searchChunk
	}
	s.searchPending.Store(0)
	return nil
}

// indexChunk indexes up to searchChunk pending items in a transaction of
// their own and returns how many it took.
func (s *Store) indexChunk(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = indexPending(ctx, tx, s.searchChunk)
		return err
	})
	return n, err
}

// indexIdle indexes up to searchChunk pending items in a transaction of
// its own; the batcher calls it once it has had nothing to write for
// searchIdleAfter, and again while nothing comes. After a failure it
// waits for the next batch before it tries again (a full disk would
// otherwise retry every searchIdleAfter); the first failure in a row is a
// warning, the ones after it debug messages.
func (s *Store) indexIdle() {
	ctx := context.Background()
	n, err := s.indexChunk(ctx)
	if err == nil {
		if s.searchPending.Add(-n) < 0 || n < s.searchChunk {
			// Other processes index and add too: when this chunk was
			// the last, nothing waits.
			s.searchPending.Store(0)
		}
	} else {
		s.logFailure(ctx, s.indexFailing, "indexing new items for search failed; retried when the writer is idle again", err)
	}
	s.indexFailing, s.indexWait = err != nil, err != nil
	if s.searchIndexed != nil {
		s.searchIndexed <- err
	}
}

// indexForSearch makes the index current before a query that searches it.
func (s *Store) indexForSearch(ctx context.Context, search string) error {
	if search == "" {
		return nil
	}
	return s.IndexPending(ctx)
}

// countSearchPending reads how many items wait for the index.
func (s *Store) countSearchPending(ctx context.Context) error {
	var n int64
	if err := s.writer.QueryRowContext(ctx, "SELECT count(*) FROM search_pending").Scan(&n); err != nil {
		return fmt.Errorf("count items pending for search: %w", err)
	}
	s.searchPending.Store(n)
	return nil
}
