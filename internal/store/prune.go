package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// pruneBatch is how many items one delete transaction removes, so that a
// large prune lets fetches commit in between.
const pruneBatch = 500

// PrunePolicy says which items retention removes. Featured items are never
// removed.
type PrunePolicy struct {
	// MaxPerSource keeps the newest items of each source by published
	// date (featured ones count); 0 means no limit.
	MaxPerSource int
	// MaxAge removes items published before Now-MaxAge; 0 means no limit.
	MaxAge time.Duration
	// DedupWindow, when set, also drops story keys first seen before
	// Now-DedupWindow: no new item can match them any more.
	DedupWindow time.Duration
	Now         time.Time
	// DryRun counts what would be removed and changes nothing.
	DryRun bool
}

// PruneResult counts what Prune removed (or would remove).
type PruneResult struct {
	Removed  int
	BySource map[string]int
	// Orphaned counts removed items of sources no longer configured.
	Orphaned int
	// Tombstones counts the tombstones written (in a dry run, the items
	// that would leave one).
	Tombstones int
	// StoryKeys counts story keys dropped for being outside DedupWindow or
	// belonging to a removed item.
	StoryKeys int
}

// victim is an item retention removes.
type victim struct {
	rowid    int64
	id       string
	sourceID string
	key      string
	orphan   bool
}

// Prune applies retention: per source it keeps the newest MaxPerSource
// items, it removes items older than MaxAge, and it removes every item of
// orphaned sources; featured items always stay. Each removed item leaves
// a tombstone so that the next fetch does not bring it back, and bumps its
// source's version. Deletes run in batches of their own transactions.
func (s *Store) Prune(ctx context.Context, p PrunePolicy) (PruneResult, error) {
	res := PruneResult{BySource: make(map[string]int)}
	if p.Now.IsZero() {
		return res, errors.New("prune: policy has no time")
	}
	if s.writer == nil && !p.DryRun {
		return res, fmt.Errorf("prune: %w", ErrReadOnly)
	}
	var victims []victim
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		victims, err = pruneVictims(ctx, tx, p)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("prune: select items: %w", err)
	}
	if p.DryRun {
		for _, v := range victims {
			res.count(v)
		}
		res.Tombstones = res.Removed
		err := s.reader.QueryRowContext(ctx, staleKeyCount, p.keyCutoff()).Scan(&res.StoryKeys)
		if err != nil {
			return res, fmt.Errorf("prune: count story keys: %w", err)
		}
		return res, nil
	}
	for len(victims) > 0 {
		n := min(pruneBatch, len(victims))
		batch := victims[:n]
		victims = victims[n:]
		var part PruneResult
		err := s.write(ctx, func(tx *sql.Tx) error {
			part = PruneResult{BySource: make(map[string]int)}
			return deleteVictims(ctx, tx, batch, ms(p.Now), &part)
		})
		if err != nil {
			return res, fmt.Errorf("prune: delete items: %w", err)
		}
		res.Removed += part.Removed
		res.Orphaned += part.Orphaned
		res.Tombstones += part.Tombstones
		for id, c := range part.BySource {
			res.BySource[id] += c
		}
	}
	// One pass drops the keys of the items just removed and those outside
	// the dedup window; the log has no index by item to do it per item.
	// The writer's story index keeps them until it is read again: there
	// they only cost a lookup (storyindex.go).
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, staleKeyCount, p.keyCutoff()).Scan(&res.StoryKeys); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			DELETE FROM story_key_log AS k`+staleKeys, p.keyCutoff())
		return err
	})
	if err != nil {
		return res, fmt.Errorf("prune: drop story keys: %w", err)
	}
	return res, nil
}

// staleKeys selects, from story_key_log AS k, the keys no new item can
// match: their item is gone or was first seen before the parameter.
const staleKeys = `
	WHERE NOT EXISTS (
		SELECT 1
		FROM items AS i
		WHERE i.rowid = k.item_rowid
			AND i.first_seen >= ?
	)`

// staleKeyCount counts the story keys of the rows staleKeys selects.
const staleKeyCount = `
	SELECT coalesce(sum(length(k.key_hashes)), 0) / 8
	FROM story_key_log AS k` + staleKeys

// keyCutoff is the first-seen time before which story keys are useless:
// Now-DedupWindow, or 0 (keep all keys of existing items) without a window.
func (p PrunePolicy) keyCutoff() int64 {
	if p.DedupWindow <= 0 {
		return 0
	}
	return ms(p.Now.Add(-p.DedupWindow))
}

func (r *PruneResult) count(v victim) {
	r.Removed++
	r.BySource[v.sourceID]++
	if v.orphan {
		r.Orphaned++
	}
}

// pruneVictims lists the items p removes, each once, reading only index
// entries and the rows that go.
func pruneVictims(ctx context.Context, tx *sql.Tx, p PrunePolicy) ([]victim, error) {
	type source struct {
		id     string
		orphan bool
	}
	var sources []source
	rows, err := tx.QueryContext(ctx, "SELECT id, orphaned FROM sources ORDER BY id")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s source
		if err := rows.Scan(&s.id, &s.orphan); err != nil {
			rows.Close()
			return nil, err
		}
		sources = append(sources, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var victims []victim
	seen := make(map[int64]bool)
	collect := func(orphan bool, query string, args ...any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			v := victim{orphan: orphan}
			var featured bool
			if err := rows.Scan(&v.rowid, &v.id, &v.sourceID, &v.key, &featured); err != nil {
				return err
			}
			if featured || seen[v.rowid] {
				continue
			}
			seen[v.rowid] = true
			victims = append(victims, v)
		}
		return rows.Err()
	}
	var cutoff int64
	if p.MaxAge > 0 {
		cutoff = ms(p.Now.Add(-p.MaxAge))
	}
	for _, src := range sources {
		var err error
		switch {
		case src.orphan:
			err = collect(true, `
				SELECT
					rowid,
					id,
					source_id,
					key,
					featured
				FROM items
				WHERE source_id = ?`, src.id)
		default:
			if p.MaxPerSource > 0 {
				// Featured items keep their rank: the newest N stay
				// whatever they are, and featured ones beyond stay too.
				err = collect(false, `
					SELECT
						rowid,
						id,
						source_id,
						key,
						featured
					FROM items
					WHERE source_id = ?
					ORDER BY published DESC, id DESC
					LIMIT -1 OFFSET ?`, src.id, p.MaxPerSource)
			}
			if err == nil && p.MaxAge > 0 {
				err = collect(false, `
					SELECT
						rowid,
						id,
						source_id,
						key,
						featured
					FROM items
					WHERE source_id = ?
						AND published < ?`, src.id, cutoff)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", src.id, err)
		}
	}
	return victims, nil
}

// deleteVictims removes one batch, leaving tombstones. An item that was
// featured or replaced since it was selected stays.
func deleteVictims(ctx context.Context, tx *sql.Tx, batch []victim, now int64, res *PruneResult) error {
	del, err := tx.PrepareContext(ctx, `
		DELETE FROM items
		WHERE rowid = ?
			AND id = ?
			AND featured = 0`)
	if err != nil {
		return err
	}
	defer del.Close()
	tomb, err := tx.PrepareContext(ctx, `
		INSERT INTO tombstones (
			source_id,
			key,
			removed_at
		) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer tomb.Close()
	for _, v := range batch {
		r, err := del.ExecContext(ctx, v.rowid, v.id)
		if err != nil {
			return fmt.Errorf("item %q: %w", v.id, err)
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			continue
		}
		res.count(v)
		r, err = tomb.ExecContext(ctx, v.sourceID, v.key, now)
		if err != nil {
			return fmt.Errorf("tombstone of item %q: %w", v.id, err)
		}
		if n, err := r.RowsAffected(); err == nil {
			res.Tombstones += int(n)
		}
	}
	for id := range res.BySource {
		if err := bumpVersion(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
