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
// batch's keys share its few pages. Once mergeKeys of them are there they
// move, in one statement and in key order, into mid_story_keys (migration
// 11), and once midKeys are there, those move into story_keys the same
// way. A move rewrites about every page of the table it goes into, so
// story_keys, by far the largest, is rewritten once per midKeys keys
// instead of once per mergeKeys: at 10,000 sources x 50 items, 9 times
// instead of 37. Lookups read all three tables (the all_story_keys view).
const (
	mergeKeys = 65536
	midKeys   = 4 * mergeKeys
)

// mergeKeysSQL copies the keys of the table from into the table to, in
// key order; see insertKeysSQL on its form.
func mergeKeysSQL(from, to string) string {
	return `
	INSERT OR IGNORE INTO ` + to + ` (
		key_hash,
		item_rowid,
		title_sketch
	)
	SELECT
		key_hash,
		item_rowid,
		title_sketch
	FROM ` + from + `
	ORDER BY key_hash, item_rowid`
}

// mergeStoryKeys moves every key of the table from into the table to
// within tx, and returns how many it inserted.
func mergeStoryKeys(ctx context.Context, tx sqlTx, from, to string) (n int64, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("merge story keys of %s into %s: %w", from, to, err)
		}
	}()
	r, err := tx.ExecContext(ctx, mergeKeysSQL(from, to))
	if err != nil {
		return 0, err
	}
	if n, err = r.RowsAffected(); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+from); err != nil {
		return 0, err
	}
	return n, nil
}

// countKeys reads how many keys wait in recent_story_keys and
// mid_story_keys.
func (s *Store) countKeys(ctx context.Context) error {
	var recent, mid int64
	if err := s.writer.QueryRowContext(ctx, `
		SELECT
			(SELECT count(*) FROM recent_story_keys),
			(SELECT count(*) FROM mid_story_keys)`).Scan(&recent, &mid); err != nil {
		return fmt.Errorf("count recent story keys: %w", err)
	}
	s.recentKeys.Store(recent)
	s.midKeys.Store(mid)
	return nil
}
