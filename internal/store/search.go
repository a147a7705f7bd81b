package store

import (
	"context"
	"database/sql"
	"fmt"
)

// New items reach the full-text index in bulk (migration 7): the writer
// records their rowids in search_pending, and indexPending moves them
// into items_fts in one statement: once searchBatch of them wait (in a
// transaction of its own, after the commit that made them due has woken
// its callers: maintain in batch.go), before a search (indexForSearch),
// before the index is checked, and when the Store closes. A crash leaves the pending rows in place for the next
// process; only a search from a read-only Store, which cannot index
// them, misses the newest items meanwhile.
const searchBatch = 16384

// indexPending indexes every pending item within tx.
func indexPending(ctx context.Context, tx sqlTx) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO items_fts (
			rowid,
			title,
			summary
		)
		SELECT
			i.rowid,
			i.title,
			i.summary
		FROM search_pending AS p
		JOIN items AS i ON i.rowid = p.item_rowid
		ORDER BY p.item_rowid`)
	if err != nil {
		return fmt.Errorf("index pending items for search: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM search_pending"); err != nil {
		return fmt.Errorf("index pending items for search: %w", err)
	}
	return nil
}

// IndexPending indexes the items waiting for the full-text index, if
// any, in a transaction of their own.
func (s *Store) IndexPending(ctx context.Context) error {
	if s.writer == nil {
		return nil
	}
	var pending bool
	if err := s.reader.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM search_pending)").Scan(&pending); err != nil {
		return fmt.Errorf("count items pending for search: %w", err)
	}
	if !pending {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		return indexPending(ctx, tx)
	})
	if err == nil {
		s.searchPending.Store(0)
	}
	return err
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
