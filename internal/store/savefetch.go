package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/syndic-dev/syndic/internal/model"
)

// SaveFetch applies everything one fetch produced in a single write
// transaction: the source's new state and its items land together or not
// at all. A feed whose items are all known costs two indexed reads and
// no item writes.
//
// Items are matched to stored ones by id (model.ItemID of source and key),
// which every item must carry; the first of several items with one key
// wins. New items join a story of another source when one of their
// StoryKeys was seen there within u.DedupWindow (0 disables matching) and
// u.SameStory agrees.
func (s *Store) SaveFetch(ctx context.Context, u model.FetchUpdate) (model.SaveResult, error) {
	if u.SourceID == "" {
		return model.SaveResult{}, errors.New("save fetch: empty source id")
	}
	st := u.State
	if st.SourceID == "" {
		st.SourceID = u.SourceID
	}
	if st.SourceID != u.SourceID {
		return model.SaveResult{}, fmt.Errorf("save fetch of source %q: state is for source %q", u.SourceID, st.SourceID)
	}
	var res model.SaveResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		res = model.SaveResult{}
		if err := upsertState(ctx, tx, st); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if u.Items == nil {
			return nil
		}
		var err error
		if res, err = saveItems(ctx, tx, u); err != nil {
			return err
		}
		if res.New+res.Updated > 0 {
			return bumpVersion(ctx, tx, u.SourceID)
		}
		return nil
	})
	if err != nil {
		return model.SaveResult{}, fmt.Errorf("save fetch of source %q: %w", u.SourceID, err)
	}
	return res, nil
}

// stored is what the unchanged check needs of an existing item.
type stored struct {
	rowid     int64
	hash      string
	published int64
}

// saveItems stores u.Items within tx.
func saveItems(ctx context.Context, tx *sql.Tx, u model.FetchUpdate) (model.SaveResult, error) {
	var res model.SaveResult
	now := ms(u.Now)
	if now == 0 {
		return res, errors.New("fetch time is zero")
	}

	// The document's items, first of each key.
	items := make([]*model.Item, 0, len(u.Items))
	keys := make([]string, 0, len(u.Items))
	ids := make([]string, 0, len(u.Items))
	seenKey := make(map[string]bool, len(u.Items))
	for i := range u.Items {
		it := &u.Items[i]
		if seenKey[it.Key] {
			continue
		}
		seenKey[it.Key] = true
		items = append(items, it)
		keys = append(keys, it.Key)
		ids = append(ids, it.ID)
	}

	tombs, err := tombstoneKeys(ctx, tx, u.SourceID)
	if err != nil {
		return res, fmt.Errorf("read tombstones: %w", err)
	}
	// Tombstones the document no longer lists have done their job.
	if slices.ContainsFunc(tombs, func(k string) bool { return !seenKey[k] }) {
		_, err := tx.ExecContext(ctx, `
			DELETE FROM tombstones
			WHERE source_id = ?
				AND key NOT IN (SELECT value FROM json_each(?))`,
			u.SourceID, jsonArray(keys))
		if err != nil {
			return res, fmt.Errorf("drop tombstones: %w", err)
		}
	}
	tombstoned := make(map[string]bool, len(tombs))
	for _, k := range tombs {
		tombstoned[k] = true
	}

	existing, err := storedItems(ctx, tx, ids)
	if err != nil {
		return res, fmt.Errorf("read stored items: %w", err)
	}

	w := &itemWriter{tx: tx, u: &u, now: now, candItems: make(map[int64]*model.Item)}
	defer w.close()
	var fresh []*model.Item
	for _, it := range items {
		if it.Key == "" {
			return res, fmt.Errorf("item %q: empty key", it.ID)
		}
		if want := model.ItemID(u.SourceID, it.Key); it.ID != want {
			return res, fmt.Errorf("item with key %q: id %q, want %q", it.Key, it.ID, want)
		}
		if it.SourceID != "" && it.SourceID != u.SourceID {
			return res, fmt.Errorf("item %q: belongs to source %q", it.ID, it.SourceID)
		}
		if _, ok := existing[it.ID]; !ok && !tombstoned[it.Key] {
			fresh = append(fresh, it)
		}
	}
	if err := w.loadCandidates(ctx, fresh); err != nil {
		return res, fmt.Errorf("find stories: %w", err)
	}
	for _, it := range items {
		if tombstoned[it.Key] {
			res.Unchanged++
			continue
		}
		if old, ok := existing[it.ID]; ok {
			if old.hash == it.ContentHash {
				res.Unchanged++
				continue
			}
			if err := w.update(ctx, old, it); err != nil {
				return res, fmt.Errorf("update item %q: %w", it.ID, err)
			}
			res.Updated++
			continue
		}
		dup, err := w.insert(ctx, it)
		if err != nil {
			return res, fmt.Errorf("insert item %q: %w", it.ID, err)
		}
		res.New++
		res.NewIDs = append(res.NewIDs, it.ID)
		if dup {
			res.Duplicate++
		}
	}
	if err := w.indexNew(ctx); err != nil {
		return res, fmt.Errorf("index new items: %w", err)
	}
	return res, nil
}

func tombstoneKeys(ctx context.Context, tx *sql.Tx, sourceID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT key
		FROM tombstones
		WHERE source_id = ?`, sourceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// storedItems looks the document's items up in one statement.
func storedItems(ctx context.Context, tx *sql.Tx, ids []string) (map[string]stored, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT
			rowid,
			id,
			content_hash,
			published
		FROM items
		WHERE id IN (SELECT value FROM json_each(?))`, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]stored, len(ids))
	for rows.Next() {
		var id string
		var s stored
		if err := rows.Scan(&s.rowid, &id, &s.hash, &s.published); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// itemWriter holds the statements of one SaveFetch, prepared on first use
// so that a fetch with nothing new prepares none, and what it learnt about
// candidate stories.
type itemWriter struct {
	tx  *sql.Tx
	u   *model.FetchUpdate
	now int64

	insertStmt, updateStmt, keyStmt, candStmt *sql.Stmt

	// cands maps a story key hash to the items of other sources that
	// carry it within the dedup window.
	cands map[int64][]candidate
	// candItems caches candidates read for SameStory.
	candItems map[int64]*model.Item
	// newRows are the rowids inserted, for the full-text index.
	newRows []int64
}

// candidate is an item of another source that shares a story key.
type candidate struct {
	rowid     int64
	firstSeen int64
}

func (w *itemWriter) close() {
	for _, st := range []*sql.Stmt{w.insertStmt, w.updateStmt, w.keyStmt, w.candStmt} {
		if st != nil {
			st.Close()
		}
	}
}

func (w *itemWriter) prepare(ctx context.Context, st **sql.Stmt, query string) (*sql.Stmt, error) {
	if *st == nil {
		p, err := w.tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		*st = p
	}
	return *st, nil
}

// update stores a real content change. The first-seen date stays, and so
// does the published date unless the feed now gives a different one.
func (w *itemWriter) update(ctx context.Context, old stored, it *model.Item) error {
	st, err := w.prepare(ctx, &w.updateStmt, `
		UPDATE items
		SET guid = ?,
			guid_is_link = ?,
			link = ?,
			canonical_url = ?,
			title = ?,
			author = ?,
			content_html = ?,
			summary = ?,
			categories = ?,
			content_hash = ?,
			published = ?,
			updated = ?,
			changed = ?
		WHERE rowid = ?`)
	if err != nil {
		return err
	}
	categories, err := jsonList(it.Categories)
	if err != nil {
		return err
	}
	published := old.published
	if p := ms(it.Published); p != 0 {
		published = p
	}
	html, err := packHTML(it.ContentHTML)
	if err != nil {
		return err
	}
	guid, link, canonical := compactURLs(it)
	_, err = st.ExecContext(ctx,
		guid,
		boolInt(it.GUIDIsLink),
		link,
		canonical,
		it.Title,
		it.Author,
		html,
		it.Summary,
		categories,
		it.ContentHash,
		published,
		w.now,
		w.now,
		old.rowid,
	)
	return err
}

// insert stores a new item, linking it to a story of another source when
// one matches; dup reports such a link.
func (w *itemWriter) insert(ctx context.Context, it *model.Item) (dup bool, err error) {
	var storyID any // NULL: the item starts its own story
	if len(w.cands) > 0 && len(it.StoryKeys) > 0 {
		cand, err := w.story(ctx, it)
		if err != nil {
			return false, fmt.Errorf("find story: %w", err)
		}
		if cand != "" {
			storyID, dup = cand, true
		}
	}
	st, err := w.prepare(ctx, &w.insertStmt, `
		INSERT INTO items (
			id,
			source_id,
			published,
			first_seen,
			updated,
			changed,
			story_id,
			content_hash,
			key,
			guid,
			guid_is_link,
			link,
			canonical_url,
			title,
			author,
			categories,
			summary,
			content_html
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING rowid`)
	if err != nil {
		return false, err
	}
	categories, err := jsonList(it.Categories)
	if err != nil {
		return false, err
	}
	published := ms(it.Published)
	if published == 0 {
		// Stable across fetches: the row keeps it.
		published = w.now
	}
	html, err := packHTML(it.ContentHTML)
	if err != nil {
		return false, err
	}
	guid, link, canonical := compactURLs(it)
	var rowid int64
	err = st.QueryRowContext(ctx,
		it.ID,
		w.u.SourceID,
		published,
		w.now,
		w.now,
		w.now,
		storyID,
		it.ContentHash,
		it.Key,
		guid,
		boolInt(it.GUIDIsLink),
		link,
		canonical,
		it.Title,
		it.Author,
		categories,
		it.Summary,
		html,
	).Scan(&rowid)
	if err != nil {
		return false, err
	}
	w.newRows = append(w.newRows, rowid)
	if len(it.StoryKeys) == 0 {
		return dup, nil
	}
	ks, err := w.prepare(ctx, &w.keyStmt, `
		INSERT INTO story_keys (
			key_hash,
			item_rowid,
			source_id,
			first_seen
		) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return false, err
	}
	for _, k := range it.StoryKeys {
		if k == "" {
			continue
		}
		if _, err := ks.ExecContext(ctx, storyKeyHash(k), rowid, w.u.SourceID, w.now); err != nil {
			return false, fmt.Errorf("story key %q: %w", k, err)
		}
	}
	return dup, nil
}

// loadCandidates reads, in one statement, the story keys of other
// sources within the dedup window that the new items share.
func (w *itemWriter) loadCandidates(ctx context.Context, fresh []*model.Item) error {
	if w.u.DedupWindow <= 0 {
		return nil
	}
	var hashes []int64
	for _, it := range fresh {
		for _, k := range it.StoryKeys {
			if k != "" {
				hashes = append(hashes, storyKeyHash(k))
			}
		}
	}
	if len(hashes) == 0 {
		return nil
	}
	rows, err := w.tx.QueryContext(ctx, `
		SELECT
			key_hash,
			item_rowid,
			first_seen
		FROM story_keys
		WHERE key_hash IN (SELECT value FROM json_each(?))
			AND source_id <> ?
			AND first_seen >= ?`,
		jsonInts(hashes), w.u.SourceID, w.now-w.u.DedupWindow.Milliseconds())
	if err != nil {
		return err
	}
	defer rows.Close()
	w.cands = make(map[int64][]candidate)
	for rows.Next() {
		var h int64
		var c candidate
		if err := rows.Scan(&h, &c.rowid, &c.firstSeen); err != nil {
			return err
		}
		w.cands[h] = append(w.cands[h], c)
	}
	return rows.Err()
}

// story returns the story id it joins, or "" when it starts its own.
// Candidates are items of other sources sharing a story key, first seen
// within the dedup window, earliest first; the first that SameStory
// accepts gives the story.
func (w *itemWriter) story(ctx context.Context, it *model.Item) (string, error) {
	var cs []candidate
	for _, k := range it.StoryKeys {
		if k != "" {
			cs = append(cs, w.cands[storyKeyHash(k)]...)
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		if a.firstSeen != b.firstSeen {
			return cmp.Compare(a.firstSeen, b.firstSeen)
		}
		return cmp.Compare(a.rowid, b.rowid)
	})
	cs = slices.CompactFunc(cs, func(a, b candidate) bool { return a.rowid == b.rowid })
	for _, c := range cs {
		cand, err := w.candidate(ctx, c.rowid)
		if err != nil {
			return "", err
		}
		if w.u.SameStory == nil || w.u.SameStory(cand, it) {
			return cand.StoryID, nil
		}
	}
	return "", nil
}

// candidate reads a candidate item once per fetch. The caller's SameStory
// gets a copy it may not keep.
func (w *itemWriter) candidate(ctx context.Context, rowid int64) (*model.Item, error) {
	if it, ok := w.candItems[rowid]; ok {
		c := *it
		return &c, nil
	}
	st, err := w.prepare(ctx, &w.candStmt, `
		SELECT`+itemColumns+`
		FROM items
		WHERE rowid = ?`)
	if err != nil {
		return nil, err
	}
	it, err := scanItem(st.QueryRowContext(ctx, rowid))
	if err != nil {
		return nil, err
	}
	w.candItems[rowid] = &it
	c := it
	return &c, nil
}

// indexNew adds the new items to the full-text index in one statement:
// FTS5 flushes its pending terms at every statement boundary, so one row
// per statement would write one index segment per item.
func (w *itemWriter) indexNew(ctx context.Context) error {
	if len(w.newRows) == 0 {
		return nil
	}
	_, err := w.tx.ExecContext(ctx, `
		INSERT INTO items_fts (
			rowid,
			title,
			summary
		)
		SELECT
			rowid,
			title,
			summary
		FROM items
		WHERE rowid IN (SELECT value FROM json_each(?))`,
		jsonInts(w.newRows))
	return err
}

// compactURLs returns the guid, link and canonical URL columns of it: NULL
// where the value repeats the one before it (see the items table).
func compactURLs(it *model.Item) (guid, link, canonical any) {
	guid, link, canonical = it.GUID, it.Link, it.CanonicalURL
	if it.Key == "guid:"+it.GUID {
		guid = nil
	}
	if it.Link == it.GUID {
		link = nil
	}
	if it.CanonicalURL == it.Link {
		canonical = nil
	}
	return guid, link, canonical
}

// storyKeyHash is the stored form of a story key.
func storyKeyHash(k string) int64 {
	sum := sha256.Sum256([]byte(k))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// jsonInts encodes integers for json_each.
func jsonInts(l []int64) string {
	b, _ := json.Marshal(l) // []int64 always marshals
	if l == nil {
		return "[]"
	}
	return string(b)
}
