package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/syndic-dev/syndic/internal/model"
)

// itemColumns are read by scanItem, in this order.
const itemColumns = `
	id,
	source_id,
	key,
	coalesce(guid, substr(key, 6)),
	guid_is_link,
	coalesce(link, guid, substr(key, 6)),
	coalesce(canonical_url, link, guid, substr(key, 6)),
	title,
	author,
	content_html,
	typeof(content_html) = 'blob',
	summary,
	categories,
	published,
	updated,
	first_seen,
	changed,
	content_hash,
	coalesce(story_id, id),
	featured,
	hidden`

func scanItem(sc interface{ Scan(...any) error }) (model.Item, error) {
	var (
		it                                   model.Item
		guidIsLink, featured, hidden         int
		published, updated, firstSeen, chged int64
		categories                           sql.NullString
		html                                 []byte
		compressed                           bool
	)
	err := sc.Scan(
		&it.ID,
		&it.SourceID,
		&it.Key,
		&it.GUID,
		&guidIsLink,
		&it.Link,
		&it.CanonicalURL,
		&it.Title,
		&it.Author,
		&html,
		&compressed,
		&it.Summary,
		&categories,
		&published,
		&updated,
		&firstSeen,
		&chged,
		&it.ContentHash,
		&it.StoryID,
		&featured,
		&hidden,
	)
	if err != nil {
		return it, err
	}
	if it.Summary, it.ContentHTML, err = unpackItem(it.Summary, html, compressed); err != nil {
		return it, fmt.Errorf("item %q: %w", it.ID, err)
	}
	it.GUIDIsLink = guidIsLink != 0
	it.Featured = featured != 0
	it.Hidden = hidden != 0
	it.Published = fromMS(published)
	it.Updated = fromMS(updated)
	it.FirstSeen = fromMS(firstSeen)
	it.Changed = fromMS(chged)
	if it.Categories, err = parseList(categories); err != nil {
		return it, fmt.Errorf("item %q categories: %w", it.ID, err)
	}
	return it, nil
}

// Item returns one item by its public id, or ErrNotFound.
func (s *Store) Item(ctx context.Context, id string) (model.Item, error) {
	row := s.reader.QueryRowContext(ctx, `
		SELECT`+itemColumns+`
		FROM items
		WHERE id = ?`, id)
	it, err := scanItem(row)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Item{}, fmt.Errorf("item %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return model.Item{}, fmt.Errorf("read item %q: %w", id, err)
	}
	return it, nil
}

// Items returns the items q selects, newest first by Published, ties
// broken by ID descending. A Search the FTS5 syntax rejects yields an
// error wrapping ErrInvalidSearch.
func (s *Store) Items(ctx context.Context, q model.ItemQuery) ([]model.Item, error) {
	if err := s.indexForSearch(ctx, q.Search); err != nil {
		return nil, fmt.Errorf("query items: %w", err)
	}
	var items []model.Item
	err := s.read(ctx, func(tx *sql.Tx) error {
		f, err := newItemFilter(ctx, tx, q)
		if err != nil {
			return err
		}
		// The inner query picks the page's rowids from an index; the
		// outer one reads only those rows.
		page := "SELECT rowid\n\tFROM items\n\tWHERE " + f.where("") + "\n\tORDER BY published DESC, id DESC"
		if q.Limit > 0 {
			page += "\n\tLIMIT ?"
		}
		query := "SELECT" + itemColumns + "\nFROM items\nWHERE rowid IN (\n\t" + page + "\n)\nORDER BY published DESC, id DESC"
		items, err = queryItems(ctx, tx, query, f.args(q.Limit)...)
		return err
	})
	if err != nil {
		if q.Search != "" && isFTSError(err) {
			return nil, fmt.Errorf("query items: %w %q: %s", ErrInvalidSearch, q.Search, ftsMessage(err))
		}
		return nil, fmt.Errorf("query items: %w", err)
	}
	return items, nil
}

// queryItems runs query, which selects itemColumns, on db or a
// transaction.
func queryItems(ctx context.Context, db interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, query string, args ...any) ([]model.Item, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// isFTSError tells a malformed MATCH expression from other failures. The
// user's query is the only part of a search statement that can be wrong,
// and SQLite reports its mistakes ("fts5: syntax error near ...",
// "unterminated string", "no such column: x") as plain SQLITE_ERROR, while
// busy, I/O and interrupt failures have codes of their own.
func isFTSError(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_ERROR
}

// ftsMessage strips the driver's generic prefix ("SQL logic error: ")
// from an FTS5 error so that the user sees what was wrong with the query.
func ftsMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "fts5: "); i >= 0 {
		msg = msg[i:]
	} else if _, after, ok := strings.Cut(msg, "error: "); ok {
		msg = after
	}
	return strings.TrimSpace(strings.TrimSuffix(msg, " (1)"))
}

// StorySources maps each of storyIDs to the distinct sources of its
// visible items, in the order the sources first carried the story.
// Stories without visible items are absent.
func (s *Store) StorySources(ctx context.Context, storyIDs []string) (map[string][]string, error) {
	out := make(map[string][]string)
	if len(storyIDs) == 0 {
		return out, nil
	}
	// Two arms so each uses its own index: the story's first item by id,
	// the items that joined it by the story index.
	rows, err := s.reader.QueryContext(ctx, `
		SELECT
			id,
			source_id,
			first_seen,
			rowid
		FROM items
		WHERE id IN (SELECT value FROM json_each(?1))
			AND story_id IS NULL
			AND hidden = 0
		UNION ALL
		SELECT
			story_id,
			source_id,
			first_seen,
			rowid
		FROM items
		WHERE story_id IN (SELECT value FROM json_each(?1))
			AND hidden = 0`,
		jsonArray(storyIDs))
	if err != nil {
		return nil, fmt.Errorf("read story sources: %w", err)
	}
	defer rows.Close()
	type member struct {
		story, source    string
		firstSeen, rowid int64
	}
	var ms []member
	for rows.Next() {
		var m member
		if err := rows.Scan(&m.story, &m.source, &m.firstSeen, &m.rowid); err != nil {
			return nil, fmt.Errorf("read story sources: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read story sources: %w", err)
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].firstSeen != ms[j].firstSeen {
			return ms[i].firstSeen < ms[j].firstSeen
		}
		return ms[i].rowid < ms[j].rowid
	})
	seen := make(map[[2]string]bool)
	for _, m := range ms {
		k := [2]string{m.story, m.source}
		if seen[k] {
			continue
		}
		seen[k] = true
		out[m.story] = append(out[m.story], m.source)
	}
	return out, nil
}

// SetFeatured features or unfeatures an item (curated outputs list only
// featured items, and Prune keeps them). A change moves the item's
// Changed time and its source's version.
func (s *Store) SetFeatured(ctx context.Context, id string, on bool, now time.Time) error {
	if err := s.setFlag(ctx, "featured", id, on, now); err != nil {
		return fmt.Errorf("set featured of item %q: %w", id, err)
	}
	return nil
}

// SetHidden hides or shows an item in every output. A change moves the
// item's Changed time and its source's version.
func (s *Store) SetHidden(ctx context.Context, id string, on bool, now time.Time) error {
	if err := s.setFlag(ctx, "hidden", id, on, now); err != nil {
		return fmt.Errorf("set hidden of item %q: %w", id, err)
	}
	return nil
}

// setFlag sets column (featured or hidden, never user input) of item id.
// Setting a flag to the value it has is a no-op that bumps nothing.
func (s *Store) setFlag(ctx context.Context, column, id string, on bool, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var source string
		var cur int
		err := tx.QueryRowContext(ctx, `
			SELECT
				source_id,
				`+column+`
			FROM items
			WHERE id = ?`, id).Scan(&source, &cur)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if (cur != 0) == on {
			return nil
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE items
			SET `+column+` = ?,
				changed = ?
			WHERE id = ?`, boolInt(on), ms(now), id)
		if err != nil {
			return err
		}
		return bumpVersion(ctx, tx, source)
	})
}
