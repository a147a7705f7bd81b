package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/syndic-dev/syndic/internal/dedup"
)

// goSteps are migration steps that SQL cannot express, run after the
// migration's SQL in its transaction, by version.
var goSteps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	3: rekeyStories,
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
		// Migration 3 predates recent_story_keys and title sketches.
		kb := keyBuffer{table: "story_keys", beforeSketches: true}
		n := 0
		for rows.Next() {
			var rowid int64
			var title, canonical string
			if err := rows.Scan(&rowid, &title, &canonical); err != nil {
				rows.Close()
				return fmt.Errorf("read items after rowid %d: %w", last, err)
			}
			for _, k := range dedup.StoryKeys(title, "", canonical) {
				kb.keys = append(kb.keys, storyKey{hash: storyKeyHash(k), rowid: rowid})
			}
			last = rowid
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read items after rowid %d: %w", last, err)
		}
		rows.Close()
		if err := kb.flush(ctx, tx); err != nil {
			return err
		}
		if n < rekeyBatch {
			return nil
		}
	}
}
