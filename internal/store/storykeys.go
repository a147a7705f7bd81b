package store

import (
	"context"
	"fmt"
)

// Story keys are hashes, so the keys of a batch land all over story_keys:
// at 200,000 items a batch of 3,700 keys dirtied some 1,000 of its pages,
// and every dirty page is written whole to the WAL at commit and again to
// the database at the next checkpoint. New keys therefore go to
// recent_story_keys (migration 6), which stays small enough that a
// batch's keys share its few pages, and are moved into story_keys in one
// statement, in key order, once mergeKeys of them are there: the move
// touches each page of story_keys about once for all of them. Lookups
// read both tables (the all_story_keys view).
const mergeKeys = 65536

// mergeKeysSQL copies the recent keys into story_keys, in key order; see
// insertKeysSQL on its form.
const mergeKeysSQL = `
	INSERT OR IGNORE INTO story_keys (
		key_hash,
		item_rowid,
		title_sketch
	)
	SELECT
		key_hash,
		item_rowid,
		title_sketch
	FROM recent_story_keys
	ORDER BY key_hash, item_rowid`

// mergeStoryKeys moves every recent key into story_keys within tx.
func mergeStoryKeys(ctx context.Context, tx sqlTx) error {
	_, err := tx.ExecContext(ctx, mergeKeysSQL)
	if err != nil {
		return fmt.Errorf("merge recent story keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM recent_story_keys"); err != nil {
		return fmt.Errorf("merge recent story keys: %w", err)
	}
	return nil
}

// countRecentKeys reads how many keys wait in recent_story_keys.
func (s *Store) countRecentKeys(ctx context.Context) error {
	var n int64
	if err := s.writer.QueryRowContext(ctx, "SELECT count(*) FROM recent_story_keys").Scan(&n); err != nil {
		return fmt.Errorf("count recent story keys: %w", err)
	}
	s.recentKeys.Store(n)
	return nil
}
