package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// ItemHeads returns the heads of the items q selects: no content, and the
// title and summary only when text is true. An output whose patterns must
// see every item is selected from all of them and renders only a page;
// without text the selection reads only light columns, and with it the
// summaries, which since migration 12 cost a decompression of the body
// they are stored in (packItem), only as far as the summary ends (about
// 0.8 µs per farm item).
//
// With a Limit the heads come newest first by Published, ties broken by ID
// descending, as from Items; without one they come in storage order, which
// spares SQLite a sort of the whole table when the caller sorts what it
// keeps anyway. A Search the FTS5 syntax rejects yields an error wrapping
// ErrInvalidSearch.
func (s *Store) ItemHeads(ctx context.Context, q model.ItemQuery, text bool) ([]model.ItemHead, error) {
	if err := s.indexForSearch(ctx, q.Search); err != nil {
		return nil, fmt.Errorf("query item heads: %w", err)
	}
	var heads []model.ItemHead
	err := s.read(ctx, func(tx *sql.Tx) error {
		shared, err := sharedStories(ctx, tx)
		if err != nil {
			return err
		}
		f, err := newItemFilter(ctx, tx, q)
		if err != nil {
			return err
		}
		heads, err = queryHeads(ctx, tx, f.query(text, "", q.Limit), f.args(q.Limit), text, shared)
		return err
	})
	if err != nil {
		if q.Search != "" && isFTSError(err) {
			return nil, fmt.Errorf("query item heads: %w %q: %s", ErrInvalidSearch, q.Search, ftsMessage(err))
		}
		return nil, fmt.Errorf("query item heads: %w", err)
	}
	return heads, nil
}

// Selection returns, from one snapshot, what choosing the entries of an
// output needs when no pattern filters them: the heads of the items q
// selects whose story other items joined, the count and latest change of
// the others, and the newest of those others. It reads light columns and
// lets SQLite count, so that its cost barely grows with the number of
// items beyond the ones it returns.
func (s *Store) Selection(ctx context.Context, q model.ItemQuery, newest int) (model.Selection, error) {
	if err := s.indexForSearch(ctx, q.Search); err != nil {
		return model.Selection{}, fmt.Errorf("select items: %w", err)
	}
	var sel model.Selection
	err := s.read(ctx, func(tx *sql.Tx) error {
		f, err := newItemFilter(ctx, tx, q)
		if err != nil {
			return err
		}
		if sel.Shared, err = sharedHeads(ctx, tx, f); err != nil {
			return err
		}
		if sel.Alone, sel.AloneChanged, err = aloneSummary(ctx, tx, f); err != nil {
			return err
		}
		sel.Newest, err = aloneHeads(ctx, tx, f, newest)
		return err
	})
	if err != nil {
		return model.Selection{}, fmt.Errorf("select items: %w", err)
	}
	return sel, nil
}

// AloneHeads returns the heads of the newest n items q selects that are
// alone in their story (Selection.Newest, further down), newest first.
func (s *Store) AloneHeads(ctx context.Context, q model.ItemQuery, n int) ([]model.ItemHead, error) {
	if err := s.indexForSearch(ctx, q.Search); err != nil {
		return nil, fmt.Errorf("select items alone in their story: %w", err)
	}
	var heads []model.ItemHead
	err := s.read(ctx, func(tx *sql.Tx) error {
		f, err := newItemFilter(ctx, tx, q)
		if err != nil {
			return err
		}
		heads, err = aloneHeads(ctx, tx, f, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("select items alone in their story: %w", err)
	}
	return heads, nil
}

// sharedHeads returns the heads of the items f selects whose story other
// items joined. Two arms, so that each uses an index: the items that
// joined a story, and the items that started one.
func sharedHeads(ctx context.Context, tx *sql.Tx, f itemFilter) ([]model.ItemHead, error) {
	joined := f.query(false, "story_id IS NOT NULL", 0)
	started := f.query(false, startedStory, 0)
	args := append(f.args(0), f.args(0)...)
	heads, err := queryHeads(ctx, tx, joined+"\nUNION ALL\n"+started, args, false, nil)
	for i := range heads {
		heads[i].Shared = true
	}
	return heads, err
}

// joinedStories lists the stories other items joined, by their first
// item's id.
const joinedStories = `(
		SELECT story_id
		FROM items
		WHERE story_id IS NOT NULL)`

// alone is true for an item alone in its story.
const alone = "story_id IS NULL\n\tAND id NOT IN " + joinedStories

// aloneSubtractMin is the selection size from which aloneSummary counts
// the items alone by subtracting the stories' first items. Below it,
// looking each item up among the stories costs less than finding those
// first items: a selection of one source of 50 items took 2.3 ms instead
// of 1.8 ms the other way, in BenchmarkSelection's 25,000 items.
var aloneSubtractMin = 4096

// startedStory is true for an item whose story other items joined.
const startedStory = "story_id IS NULL\n\tAND id IN " + joinedStories

// aloneSummary counts the items f selects that are alone in their story,
// and returns the latest Changed among them.
//
// It counts the items in no other item's story, from the per-source
// index. When they are many, it subtracts the few whose story others
// joined, which the story index finds: asking for alone directly made
// SQLite look up each of the index's rows among those stories, and at
// 500,000 items that took 0.37 s of the 0.39 s serve's first request
// spent selecting, against about 0.15 s for the scan alone. Finding the
// stories' first items costs the same whatever the selection, so a small
// one asks for alone directly (aloneSubtractMin). The latest change comes
// from the scan too, with the id of its item (SQLite's bare column beside
// max()); only when that item started a story is the latest change of the
// rest read directly.
func aloneSummary(ctx context.Context, tx *sql.Tx, f itemFilter) (int, time.Time, error) {
	var (
		n        int
		changed  int64
		latestID sql.NullString
	)
	query := "SELECT\n\tcount(*),\n\tcoalesce(max(changed), 0),\n\tid\nFROM items\nWHERE " + f.where("story_id IS NULL")
	if err := tx.QueryRowContext(ctx, query, f.args(0)...).Scan(&n, &changed, &latestID); err != nil {
		return 0, time.Time{}, err
	}
	if n >= aloneSubtractMin {
		var (
			started      int
			latestShared bool
		)
		query = "SELECT\n\tcount(*),\n\tcoalesce(max(id = ?), 0)\nFROM items\nWHERE " + f.where(startedStory)
		args := append([]any{latestID.String}, f.args(0)...)
		if err := tx.QueryRowContext(ctx, query, args...).Scan(&started, &latestShared); err != nil {
			return 0, time.Time{}, err
		}
		if !latestShared {
			return n - started, fromMS(changed), nil
		}
	}
	query = "SELECT\n\tcount(*),\n\tcoalesce(max(changed), 0)\nFROM items\nWHERE " + f.where(alone)
	if err := tx.QueryRowContext(ctx, query, f.args(0)...).Scan(&n, &changed); err != nil {
		return 0, time.Time{}, err
	}
	return n, fromMS(changed), nil
}

// aloneHeads returns the heads of the newest n items f selects that are
// alone in their story, newest first.
func aloneHeads(ctx context.Context, tx *sql.Tx, f itemFilter, n int) ([]model.ItemHead, error) {
	if n <= 0 {
		return nil, nil
	}
	return queryHeads(ctx, tx, f.query(false, alone, n), f.args(n), false, nil)
}

// sharedStories returns the stories that at least one item joined. Few
// items join another's story, and the partial story index holds exactly
// those, so this is a short index scan.
func sharedStories(ctx context.Context, tx *sql.Tx) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT DISTINCT
			story_id
		FROM items
		WHERE story_id IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	shared := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		shared[id] = true
	}
	return shared, rows.Err()
}

// headColumns are read by queryHeads, in this order; text adds the title
// and summary, and packedBodyExpr.
const headColumns = `
	id,
	source_id,
	story_id,
	published,
	first_seen,
	changed,
	featured | (hidden << 1)`

// queryHeads runs query, which selects headColumns (with the title and
// summary when text is true), and marks the heads of the shared stories.
func queryHeads(ctx context.Context, tx *sql.Tx, query string, args []any, text bool, shared map[string]bool) ([]model.ItemHead, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		heads   []model.ItemHead
		sources = map[string]string{}
	)
	for rows.Next() {
		h, err := scanHead(rows, text, shared, sources)
		if err != nil {
			return nil, err
		}
		heads = append(heads, h)
	}
	return heads, rows.Err()
}

// scanHead reads one row of headColumns. sources interns source ids: an
// output has few sources and many items, and one string per source keeps
// a selection of every item small.
func scanHead(rows *sql.Rows, text bool, shared map[string]bool, sources map[string]string) (model.ItemHead, error) {
	var (
		h                           model.ItemHead
		source                      sql.RawBytes
		story                       sql.NullString
		published, firstSeen, chged int64
		flags                       int
	)
	var body sql.RawBytes
	dest := []any{&h.ID, &source, &story, &published, &firstSeen, &chged, &flags}
	if text {
		dest = append(dest, &h.Title, &h.Summary, &body)
	}
	if err := rows.Scan(dest...); err != nil {
		return h, err
	}
	summary, err := packedSummary(h.ID, h.Summary, body)
	if err != nil {
		return h, err
	}
	h.Summary = summary
	h.SourceID = sources[string(source)]
	if h.SourceID == "" {
		h.SourceID = string(source)
		sources[h.SourceID] = h.SourceID
	}
	h.StoryID = h.ID
	if story.Valid {
		h.StoryID = story.String
	}
	h.Shared = shared[h.StoryID]
	h.Published = fromMS(published)
	h.FirstSeen = fromMS(firstSeen)
	h.Changed = fromMS(chged)
	h.Featured = flags&1 != 0
	h.Hidden = flags&2 != 0
	return h, nil
}

// itemFilter is the WHERE condition of an ItemQuery (all but Limit)
// with its arguments.
type itemFilter struct {
	conds []string
	vals  []any
}

// newItemFilter builds the filter of q, for Items and the selections.
// When q names most of the stored sources, the per-source index
// would add a seek per row to what a scan of the table reads anyway, so a
// unary + keeps SQLite from using it.
func newItemFilter(ctx context.Context, tx *sql.Tx, q model.ItemQuery) (itemFilter, error) {
	var f itemFilter
	if !q.IncludeHidden {
		f.conds = append(f.conds, "hidden = 0")
	}
	if q.FeaturedOnly {
		f.conds = append(f.conds, "featured = 1")
	}
	if len(q.SourceIDs) > 0 {
		var sources int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sources").Scan(&sources); err != nil {
			return f, err
		}
		col := "source_id"
		if len(q.SourceIDs)*4 >= sources {
			col = "+source_id"
		}
		f.conds = append(f.conds, col+" IN (SELECT value FROM json_each(?))")
		f.vals = append(f.vals, jsonArray(q.SourceIDs))
	}
	if !q.Since.IsZero() {
		f.conds = append(f.conds, "published >= ?")
		f.vals = append(f.vals, ms(q.Since))
	}
	if q.Before != nil {
		// A row value lets the planner seek the (published, id) index.
		f.conds = append(f.conds, "(published, id) < (?, ?)")
		f.vals = append(f.vals, ms(q.Before.Published), q.Before.ID)
	}
	if q.Search != "" {
		f.conds = append(f.conds, "rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
		f.vals = append(f.vals, q.Search)
	}
	return f, nil
}

// where returns the filter's condition and extra, "1" when both are empty.
func (f itemFilter) where(extra string) string {
	conds := f.conds
	if extra != "" {
		conds = append(slices.Clip(conds), extra)
	}
	if len(conds) == 0 {
		return "1"
	}
	return strings.Join(conds, "\n\tAND ")
}

// query selects the headColumns of the items that pass the filter and
// extra; with limit > 0, the newest limit of them, newest first.
func (f itemFilter) query(text bool, extra string, limit int) string {
	cols := headColumns
	if text {
		cols += ",\n\ttitle,\n\tsummary,\n\t" + packedBodyExpr
	}
	query := "SELECT" + cols + "\nFROM items\nWHERE " + f.where(extra)
	if limit > 0 {
		query += "\nORDER BY published DESC, id DESC\nLIMIT ?"
	}
	return query
}

// args returns the arguments of query(_, _, limit).
func (f itemFilter) args(limit int) []any {
	args := slices.Clone(f.vals)
	if limit > 0 {
		args = append(args, limit)
	}
	return args
}

// ItemsByID returns the stored items with the given public ids, content
// included, keyed by id; ids not stored are absent. Publishing reads the
// items of the page it renders with it, in one query.
func (s *Store) ItemsByID(ctx context.Context, ids []string) (map[string]model.Item, error) {
	out := make(map[string]model.Item, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	items, err := queryItems(ctx, s.reader, `
		SELECT`+itemColumns+`
		FROM items
		WHERE id IN (SELECT value FROM json_each(?))`, jsonArray(ids))
	if err != nil {
		return nil, fmt.Errorf("read items by id: %w", err)
	}
	for _, it := range items {
		out[it.ID] = it
	}
	return out, nil
}
