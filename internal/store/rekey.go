package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/syndic-dev/syndic/internal/dedup"
)

// goSteps are migration steps that SQL cannot express, run after the
// migration's SQL in its transaction, by version.
var goSteps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	3:  rekeyStories,
	13: logStoryKeys,
}

// rekeyBatch is how many items rekeyStories reads and keys per statement.
const rekeyBatch = 5000

// rekeyStories refills story_keys from every item's title and canonical
// URL, the inputs the parser gives dedup.StoryKeys. Items outside the
// dedup window get keys too; the next prune drops them.
func rekeyStories(ctx context.Context, tx *sql.Tx) error {
	var last int64
	for {
		rows, err := tx.QueryContext(ctx, `
			SELECT
				rowid,
				title,
				coalesce(canonical_url, link, guid, substr(key, 6))
			FROM items
			WHERE rowid > ?
			ORDER BY rowid
			LIMIT ?`, last, rekeyBatch)
		if err != nil {
			return fmt.Errorf("read items after rowid %d: %w", last, err)
		}
		// Migration 3's story_keys: key_hash and item_rowid.
		var keys [][2]int64
		n := 0
		for rows.Next() {
			var rowid int64
			var title, canonical string
			if err := rows.Scan(&rowid, &title, &canonical); err != nil {
				rows.Close()
				return fmt.Errorf("read items after rowid %d: %w", last, err)
			}
			for _, k := range dedup.StoryKeys(title, "", canonical) {
				keys = append(keys, [2]int64{storyKeyHash(k), rowid})
			}
			last = rowid
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read items after rowid %d: %w", last, err)
		}
		rows.Close()
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO story_keys (key_hash, item_rowid) VALUES (?, ?)", k[0], k[1]); err != nil {
				return fmt.Errorf("save story keys: %w", err)
			}
		}
		if n < rekeyBatch {
			return nil
		}
	}
}

// logStepRows is how many log rows logStoryKeys holds before it writes
// them.
const logStepRows = 4096

// logStoryKeys copies the story keys of the tables before migration 13
// into story_key_log, a row per item and title sketch, in item order, and
// drops those tables. A key whose item is gone stays behind.
func logStoryKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `
		SELECT
			k.item_rowid,
			i.first_seen,
			coalesce(k.title_sketch, 0) AS sketch,
			k.key_hash
		FROM all_story_keys AS k
		JOIN items AS i ON i.rowid = k.item_rowid
		ORDER BY k.item_rowid, sketch`)
	if err != nil {
		return fmt.Errorf("read story keys: %w", err)
	}
	var recs []keyRecord
	for rows.Next() {
		var r keyRecord
		var h int64
		if err := rows.Scan(&r.item.Rowid, &r.item.FirstSeen, &r.item.Sketch, &h); err != nil {
			rows.Close()
			return fmt.Errorf("read story keys: %w", err)
		}
		if n := len(recs); n > 0 && recs[n-1].item.Rowid == r.item.Rowid && recs[n-1].item.Sketch == r.item.Sketch {
			if !slices.Contains(recs[n-1].hashes, h) {
				recs[n-1].hashes = append(recs[n-1].hashes, h)
			}
			continue
		}
		if len(recs) >= logStepRows {
			// All but the last, which may have more keys to come.
			if _, err := appendKeyLog(ctx, tx, recs[:len(recs)-1]); err != nil {
				rows.Close()
				return err
			}
			recs = append(recs[:0], recs[len(recs)-1])
		}
		r.hashes = []int64{h}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("read story keys: %w", err)
	}
	rows.Close()
	if _, err := appendKeyLog(ctx, tx, recs); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		DROP VIEW all_story_keys;
		DROP TABLE story_keys;
		DROP TABLE mid_story_keys;
		DROP TABLE recent_story_keys;`)
	if err != nil {
		return fmt.Errorf("drop story key tables: %w", err)
	}
	return nil
}
