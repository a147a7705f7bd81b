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
	"strings"

	"github.com/syndic-dev/syndic/internal/dedup"
	"github.com/syndic-dev/syndic/internal/keyindex"
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
//
// Fetches saved at the same time share a transaction (see batch.go); each
// still lands whole or not at all, and its result is known to be committed
// when SaveFetch returns.
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
	if s.writer == nil {
		return model.SaveResult{}, fmt.Errorf("save fetch of source %q: %w", u.SourceID, ErrReadOnly)
	}
	u.State = st
	if u.Items == nil && s.asyncState {
		r := &saveReq{ctx: context.WithoutCancel(ctx), u: u, pre: &prepared{}, done: make(chan struct{}), async: true}
		if err := s.enqueueAsync(ctx, r); err != nil {
			return model.SaveResult{}, fmt.Errorf("save fetch of source %q: %w", u.SourceID, err)
		}
		return model.SaveResult{}, nil
	}
	if len(u.Items) > 0 {
		// A copy of the items, so that prepare can let go of their HTML
		// once it is compressed, while the fetch waits for its commit,
		// without touching the caller's slice.
		u.Items = slices.Clone(u.Items)
	}
	pre := s.prepare(ctx, &u)
	r := &saveReq{ctx: ctx, u: u, pre: pre, done: make(chan struct{})}
	res, err := s.enqueue(ctx, r)
	if err != nil {
		return model.SaveResult{}, fmt.Errorf("save fetch of source %q: %w", u.SourceID, err)
	}
	return res, nil
}

// prepared is the work on a fetch's items that needs no transaction, done
// by the caller before queueing so that the single writer does not: the
// stored form of the HTML of the items that look new or changed, the
// stored form of their story keys, and which items a read snapshot held
// unchanged. It is a cache: what it lacks, the writer computes.
//
// Story candidates are not looked up here but by the writer, within its
// transaction (itemWriter.loadCandidates). A reader's page cache is
// emptied by every commit, so each key lookup read its leaf of
// story_keys anew; the writer's cache outlives its commits. At 10,000
// sources x 50 items, looking the candidates up (and asking SameStory
// about them) in the writer instead of here took 2.6-2.9% less CPU in
// two paired runs, 0.9-2.0% less at 500x50, at the same wall time.
type prepared struct {
	html      map[string][]byte // packItem's, by item id
	keyHashes map[string]int64

	// seq is the write clock's reading before the snapshot (clock.go).
	seq uint64
	// unchanged holds the ids of the items the snapshot held with the
	// same content hash; nil when the snapshot was not read.
	unchanged map[string]bool
}

// prepare fills a prepared for u. Errors only mean less is prepared.
func (s *Store) prepare(ctx context.Context, u *model.FetchUpdate) *prepared {
	p := &prepared{}
	if len(u.Items) == 0 {
		return p
	}
	p.keyHashes = make(map[string]int64)
	if !u.NeverStored {
		s.readUnchanged(ctx, u, p)
	}
	p.html = make(map[string][]byte, len(u.Items))
	for i := range u.Items {
		it := &u.Items[i]
		if p.unchanged[it.ID] || it.Unconverted {
			continue
		}
		p.html[it.ID] = packItem(it.Summary, it.ContentHTML)
		// The writer takes the compressed form from p.html; the text
		// would only keep some 100 KB a fetch alive until its commit
		// (5 MB of peak RSS at 500x50). The summary stays: SameStory
		// reads it.
		it.ContentHTML = ""
		for _, k := range it.StoryKeys {
			if _, ok := p.keyHashes[k]; !ok && k != "" {
				p.keyHashes[k] = storyKeyHash(k)
			}
		}
	}
	return p
}

// readUnchanged records in p which of u's items a read snapshot holds
// with the same content, and the write clock's reading before it. Looked
// up in a reader's page cache, which every commit empties: 3% of a first
// ingest's CPU at 500x50 went to this lookup when the source could not
// have any (FetchUpdate.NeverStored). Errors only mean less is prepared.
func (s *Store) readUnchanged(ctx context.Context, u *model.FetchUpdate, p *prepared) {
	ids := make([]string, 0, len(u.Items))
	for i := range u.Items {
		if !u.Items[i].Unconverted {
			ids = append(ids, u.Items[i].ID)
		}
	}
	select {
	case s.prepareSlots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-s.prepareSlots }()
	seq := s.clock.reading()
	_ = s.read(ctx, func(tx *sql.Tx) error {
		known, err := storedItems(ctx, s.readTx(tx), ids)
		if err != nil {
			return err
		}
		p.seq, p.unchanged = seq, make(map[string]bool, len(u.Items))
		for i := range u.Items {
			it := &u.Items[i]
			if old, ok := known[it.ID]; it.Unconverted || ok && old.unchangedAs(it) {
				p.unchanged[it.ID] = true
			}
		}
		return nil
	})
}

// candidateColumns are what SameStory needs of a candidate item (see
// model.FetchUpdate), as scanCandidate reads them.
const candidateColumns = `
	i.id,
	i.source_id,
	i.title,
	i.summary,
	` + packedBodyExpr + `,
	coalesce(i.canonical_url, i.link, i.guid, substr(i.key, 6)),
	i.first_seen,
	coalesce(i.story_id, i.id)`

// scanCandidate reads candidateColumns.
func scanCandidate(row interface{ Scan(...any) error }) (*model.Item, error) {
	var it model.Item
	var firstSeen int64
	var body []byte
	if err := row.Scan(&it.ID, &it.SourceID, &it.Title, &it.Summary, &body, &it.CanonicalURL, &firstSeen, &it.StoryID); err != nil {
		return nil, err
	}
	summary, err := packedSummary(it.ID, it.Summary, body)
	if err != nil {
		return nil, err
	}
	it.Summary = summary
	it.FirstSeen = fromMS(firstSeen)
	return &it, nil
}

// keyWants holds, by story key hash, the title sketches of the new items
// that carry the key: a candidate of that key is worth reading when it
// may be the same story as one of them (dedup.MaySameStory). A key of a
// canonical URL ("u:") holds a 0, which lets every candidate through:
// SameStory joins items of one URL whatever their titles.
type keyWants map[int64]keyWant

// keyWant is the sketches of one key hash: nearly always one, so it is
// kept in place, without a slice to allocate.
type keyWant struct {
	first int64
	more  []int64
}

// newKeyWants sizes the map for items' keys: a headline has a few.
func newKeyWants(items int) keyWants {
	return make(keyWants, 6*items)
}

// add records the keys of it, hashed by hash.
func (w keyWants) add(it *model.Item, hash func(string) int64) {
	for _, k := range it.StoryKeys {
		if k == "" {
			continue
		}
		sketch := it.TitleSketch
		if strings.HasPrefix(k, dedup.URLKeyPrefix) {
			sketch = 0
		}
		h := hash(k)
		kw, ok := w[h]
		switch {
		case !ok:
			w[h] = keyWant{first: sketch}
		case kw.first != sketch && !slices.Contains(kw.more, sketch):
			kw.more = append(kw.more, sketch)
			w[h] = kw
		}
	}
}

// worth reports whether a candidate of key hash h with title sketch
// sketch may be the same story as one of the new items with that key.
func (w keyWants) worth(h, sketch int64, may func(candidate, item int64) bool) bool {
	kw, ok := w[h]
	if !ok {
		return false
	}
	if kw.first == 0 || maySame(may, sketch, kw.first) {
		return true
	}
	for _, t := range kw.more {
		if t == 0 || maySame(may, sketch, t) {
			return true
		}
	}
	return false
}

// maySame applies FetchUpdate.MaySameStory, which may be nil; a zero
// sketch says nothing.
func maySame(may func(candidate, item int64) bool, candidate, item int64) bool {
	return may == nil || candidate == 0 || item == 0 || may(candidate, item)
}

// candidatesOf gathers the candidates of it's keys from cands, earliest
// first, and the rowids among them that a canonical-URL key found.
func candidatesOf(it *model.Item, cands map[int64][]candidate, hash func(string) int64) (cs []candidate, byURL map[int64]bool) {
	for _, k := range it.StoryKeys {
		if k == "" {
			continue
		}
		kc := cands[hash(k)]
		if strings.HasPrefix(k, dedup.URLKeyPrefix) && len(kc) > 0 {
			if byURL == nil {
				byURL = make(map[int64]bool)
			}
			for _, c := range kc {
				byURL[c.rowid] = true
			}
		}
		cs = append(cs, kc...)
	}
	sortCandidates(&cs)
	return cs, byURL
}

// candidateRowsQuery reads which of the items the first argument (a JSON
// array of rowids) lists belong to sources other than the second and were
// first seen at or after the third.
const candidateRowsQuery = `
	SELECT
		i.rowid,
		i.first_seen
	FROM items AS i
	WHERE i.rowid IN (SELECT value FROM json_each(?))
		AND i.source_id <> ?
		AND i.first_seen >= ?`

// readCandidates reads the items of sources other than sourceID first
// seen at or after since that carry one of the story keys of want and may
// be the same story as an item with that key (keyWants.worth): first the
// index, with the items' title sketches, then the rows of the items
// worth it, so that the candidates whose titles rule them out are never
// read.
func readCandidates(ctx context.Context, tx sqlTx, idx *keyindex.Index, want keyWants, may func(candidate, item int64) bool, sourceID string, since int64) (map[int64][]candidate, error) {
	cands := make(map[int64][]candidate)
	if len(want) == 0 {
		return cands, nil
	}
	type keyRow struct{ hash, rowid, sketch int64 }
	var keys []keyRow
	var rowids []int64
	seen := make(map[int64]bool)
	for h := range want {
		idx.Lookup(h, func(it keyindex.Item) bool {
			if it.FirstSeen < since || !want.worth(h, it.Sketch, may) {
				return true
			}
			keys = append(keys, keyRow{hash: h, rowid: it.Rowid, sketch: it.Sketch})
			if !seen[it.Rowid] {
				seen[it.Rowid] = true
				rowids = append(rowids, it.Rowid)
			}
			return true
		})
	}
	if len(rowids) == 0 {
		return cands, nil
	}
	rows, err := tx.QueryContext(ctx, candidateRowsQuery, jsonInts(rowids), sourceID, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	firstSeen := make(map[int64]int64, len(rowids))
	for rows.Next() {
		var rowid, fs int64
		if err := rows.Scan(&rowid, &fs); err != nil {
			return nil, err
		}
		firstSeen[rowid] = fs
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if fs, ok := firstSeen[k.rowid]; ok {
			cands[k.hash] = append(cands[k.hash], candidate{rowid: k.rowid, firstSeen: fs, sketch: k.sketch})
		}
	}
	return cands, nil
}

// packed returns the stored form of it's summary and HTML, prepared or
// computed now.
func (p *prepared) packed(it *model.Item) []byte {
	if p != nil {
		if v, ok := p.html[it.ID]; ok {
			return v
		}
	}
	return packItem(it.Summary, it.ContentHTML)
}

// keyHash returns the stored form of a story key, prepared or computed now.
func (p *prepared) keyHash(k string) int64 {
	if p != nil {
		if h, ok := p.keyHashes[k]; ok {
			return h
		}
	}
	return storyKeyHash(k)
}

// stored is what the unchanged check needs of an existing item.
type stored struct {
	rowid     int64
	hash      string
	published int64
	firstSeen int64
	raw       int64 // raw_hash; 0 when NULL
}

// unchangedAs reports whether it, converted, leaves the stored row as it
// is: same content, and a raw hash that is known and the same, so that
// the parser skips converting it next time. An item stored before raw
// hashes, or under an older raw hash version, has its raw hash refreshed
// (refreshRaw) the first time it is seen again.
func (old stored) unchangedAs(it *model.Item) bool {
	return old.hash == it.ContentHash && (it.RawHash == 0 || it.RawHash == old.raw)
}

// saveItems stores u.Items within tx.
// New items' story keys go to kb, which the caller flushes before the
// transaction commits.
func saveItems(ctx context.Context, tx *cachedTx, u model.FetchUpdate, pre *prepared, kb *keyBuffer, clock *writeClock, index *storyIndex) (model.SaveResult, error) {
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

	// Items the snapshot of prepare held unchanged need no second look
	// when nothing but this process wrote since: only a fetch of the same
	// source changes an item's content, and a source has one fetch per
	// batch; an item pruned since is tombstoned, so it is skipped either
	// way.
	var unchanged map[string]bool
	if pre != nil && pre.unchanged != nil && clock != nil && clock.covers(pre.seq) {
		unchanged = pre.unchanged
		rest := ids[:0:0]
		for _, id := range ids {
			if !unchanged[id] {
				rest = append(rest, id)
			}
		}
		ids = rest
	}
	existing, err := storedItems(ctx, tx, ids)
	if err != nil {
		return res, fmt.Errorf("read stored items: %w", err)
	}

	w := &itemWriter{tx: tx, u: &u, pre: pre, keys: kb, index: index, now: now, candItems: make(map[int64]*model.Item)}
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
		if _, ok := existing[it.ID]; !ok && !tombstoned[it.Key] && !unchanged[it.ID] && !it.Unconverted {
			fresh = append(fresh, it)
		}
	}
	if err := w.loadCandidates(ctx, fresh); err != nil {
		return res, fmt.Errorf("find stories: %w", err)
	}
	for _, it := range items {
		if tombstoned[it.Key] || unchanged[it.ID] {
			res.Unchanged++
			continue
		}
		if it.Unconverted {
			// Never written: the parser left it out because the store held
			// it. If it is gone since (pruned), the next fetch converts it.
			if _, ok := existing[it.ID]; ok {
				res.Unchanged++
			}
			continue
		}
		if old, ok := existing[it.ID]; ok {
			if old.hash == it.ContentHash {
				if !old.unchangedAs(it) {
					if err := w.refreshRaw(ctx, old, it); err != nil {
						return res, fmt.Errorf("update raw hash of item %q: %w", it.ID, err)
					}
				}
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
	kb.ftsRows = append(kb.ftsRows, w.newRows...)
	return res, nil
}

func tombstoneKeys(ctx context.Context, tx sqlTx, sourceID string) ([]string, error) {
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

// storedItemsQuery reads what stored has of the items whose ids the
// argument (a JSON array) lists.
const storedItemsQuery = `
	SELECT
		rowid,
		id,
		content_hash,
		published,
		first_seen,
		coalesce(raw_hash, 0)
	FROM items
	WHERE id IN (SELECT value FROM json_each(?))`

// storedItems looks the document's items up in one statement.
func storedItems(ctx context.Context, tx sqlTx, ids []string) (map[string]stored, error) {
	if len(ids) == 0 {
		return map[string]stored{}, nil
	}
	rows, err := tx.QueryContext(ctx, storedItemsQuery, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]stored, len(ids))
	for rows.Next() {
		var id string
		var s stored
		if err := rows.Scan(&s.rowid, &id, &s.hash, &s.published, &s.firstSeen, &s.raw); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// itemWriter writes the items of one SaveFetch within its transaction,
// whose cache holds the statements, and keeps what it learnt about
// candidate stories.
type itemWriter struct {
	tx   *cachedTx
	u    *model.FetchUpdate
	pre  *prepared
	keys *keyBuffer
	// index is the Store's story index.
	index *storyIndex
	now   int64

	// cands maps a story key hash to the items of other sources that
	// carry it within the dedup window.
	cands map[int64][]candidate
	// candItems caches candidates read for SameStory.
	candItems map[int64]*model.Item
	// newRows are the rowids inserted, for the full-text index (see
	// keyBuffer).
	newRows []int64
}

// candidate is an item of another source that shares a story key.
type candidate struct {
	rowid     int64
	firstSeen int64
	sketch    int64 // its title's sketch, 0 when unknown (dedup.TitleSketch)
}

// update stores a real content change. The first-seen date stays, and so
// does the published date unless the feed now gives a different one.
func (w *itemWriter) update(ctx context.Context, old stored, it *model.Item) error {
	st, err := w.tx.PrepareContext(ctx, `
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
			changed = ?,
			raw_hash = ?
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
	html := w.pre.packed(it)
	guid, link, canonical := compactURLs(it)
	_, err = st.ExecContext(ctx,
		guid,
		boolInt(it.GUIDIsLink),
		link,
		canonical,
		it.Title,
		it.Author,
		html,
		"", // the summary is stored in html (packItem)
		categories,
		it.ContentHash,
		published,
		w.now,
		w.now,
		rawHashValue(it),
		old.rowid,
	)
	if err != nil {
		return err
	}
	// The update trigger queued the item to be indexed for search again
	// (migration 12); counting it lets the idle writer get to it.
	w.keys.pending++
	// The keys of the headline as it reads now, so that a later item of
	// another source finds the story by an edited headline too; those of
	// the first one stay until pruning.
	w.keys.add(old.rowid, w.u.SourceID, old.firstSeen, it.TitleSketch, it.StoryKeys, w.pre.keyHash)
	return nil
}

// refreshRaw records the raw hash of an item whose content did not change
// (see stored.unchangedAs). Nothing else of the row changes.
func (w *itemWriter) refreshRaw(ctx context.Context, old stored, it *model.Item) error {
	st, err := w.tx.PrepareContext(ctx, `
		UPDATE items
		SET raw_hash = ?
		WHERE rowid = ?`)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, it.RawHash, old.rowid)
	return err
}

// rawHashValue is the raw_hash column of it: NULL when unknown.
func rawHashValue(it *model.Item) any {
	if it.RawHash == 0 {
		return nil
	}
	return it.RawHash
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
	st, err := w.tx.PrepareContext(ctx, `
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
			content_html,
			raw_hash
		) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	// Not RETURNING rowid: SQLite runs RETURNING as a trigger, and a
	// statement with a trigger keeps a statement journal, one temp-file
	// write per page it touches.
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
	html := w.pre.packed(it)
	guid, link, canonical := compactURLs(it)
	r, err := st.ExecContext(ctx,
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
		"", // the summary is stored in html (packItem)
		html,
		rawHashValue(it),
	)
	if err != nil {
		return false, err
	}
	rowid, err := r.LastInsertId()
	if err != nil {
		return false, err
	}
	w.newRows = append(w.newRows, rowid)
	w.keys.add(rowid, w.u.SourceID, w.now, it.TitleSketch, it.StoryKeys, w.pre.keyHash)
	return dup, nil
}

// loadCandidates finds the items of other sources within the dedup
// window that share a story key with the new items: those committed, in
// the story index (storyindex.go), and those of this transaction's
// earlier fetches, whose keys are not written yet.
func (w *itemWriter) loadCandidates(ctx context.Context, fresh []*model.Item) error {
	if w.u.DedupWindow <= 0 {
		return nil
	}
	want := newKeyWants(len(fresh))
	for _, it := range fresh {
		want.add(it, w.pre.keyHash)
	}
	if len(want) == 0 {
		return nil
	}
	since := w.now - w.u.DedupWindow.Milliseconds()
	idx, err := w.index.lookup(ctx, w.tx, since)
	if err != nil {
		return err
	}
	cands, err := readCandidates(ctx, w.tx, idx, want, w.u.MaySameStory, w.u.SourceID, since)
	if err != nil {
		return err
	}
	w.cands = cands
	for h := range want {
		for _, i := range w.keys.byHash[h] {
			r := &w.keys.records[i]
			if r.sourceID != w.u.SourceID && r.item.FirstSeen >= since {
				w.cands[h] = append(w.cands[h], candidate{rowid: r.item.Rowid, firstSeen: r.item.FirstSeen, sketch: r.item.Sketch})
			}
		}
	}
	// A key many items share (half of a formulaic headline) would make
	// every new item read all of them for SameStory; the most recent few
	// are the likely matches.
	w.cands = limitCandidates(w.cands)
	return nil
}

// limitCandidates keeps the maxCandidatesPerKey most recent candidates of
// each key, in place.
func limitCandidates(cands map[int64][]candidate) map[int64][]candidate {
	for h, cs := range cands {
		if len(cs) > maxCandidatesPerKey {
			slices.SortFunc(cs, func(a, b candidate) int {
				return cmp.Or(cmp.Compare(b.firstSeen, a.firstSeen), cmp.Compare(b.rowid, a.rowid))
			})
			cands[h] = cs[:maxCandidatesPerKey]
		}
	}
	return cands
}

// sortCandidates orders cs earliest first, without repeats.
func sortCandidates(cs *[]candidate) {
	slices.SortFunc(*cs, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.firstSeen, b.firstSeen), cmp.Compare(a.rowid, b.rowid))
	})
	*cs = slices.CompactFunc(*cs, func(a, b candidate) bool { return a.rowid == b.rowid })
}

// maxCandidatesPerKey bounds the candidates one story key brings.
const maxCandidatesPerKey = 32

// story returns the story id it joins, or "" when it starts its own.
// Candidates are items of other sources sharing a story key, first seen
// within the dedup window, earliest first; the first that SameStory
// accepts gives the story.
func (w *itemWriter) story(ctx context.Context, it *model.Item) (string, error) {
	cs, byURL := candidatesOf(it, w.cands, w.pre.keyHash)
	for _, c := range cs {
		if !byURL[c.rowid] && !maySame(w.u.MaySameStory, c.sketch, it.TitleSketch) {
			continue // its title is too far from the item's
		}
		cand, err := w.candidate(ctx, c.rowid)
		if errors.Is(err, sql.ErrNoRows) {
			continue // pruned since its key was read
		}
		if err != nil {
			return "", err
		}
		if cand.SourceID == w.u.SourceID {
			continue // a pruned candidate's rowid, reused
		}
		if w.u.SameStory == nil || w.u.SameStory(cand, it) {
			return cand.StoryID, nil
		}
	}
	return "", nil
}

// candidate reads what SameStory needs of a candidate item (see
// model.FetchUpdate), once per fetch. The caller's SameStory gets a copy
// it may not keep.
func (w *itemWriter) candidate(ctx context.Context, rowid int64) (*model.Item, error) {
	if it, ok := w.candItems[rowid]; ok {
		c := *it
		return &c, nil
	}
	st, err := w.tx.PrepareContext(ctx, `
		SELECT`+candidateColumns+`
		FROM items AS i
		WHERE i.rowid = ?`)
	if err != nil {
		return nil, err
	}
	it, err := scanCandidate(st.QueryRowContext(ctx, rowid))
	if err != nil {
		return nil, err
	}
	w.candItems[rowid] = it
	c := *it
	return &c, nil
}

// keyBuffer collects what a transaction's new items add to the story key
// log and to the full-text index, and writes each at the transaction's
// end. The full-text index would be costly written per fetch: FTS5 writes
// its pending terms as a new index segment at every statement boundary,
// so one insert per fetch made a segment per fetch, and every later
// statement of the transaction paid for flushing and merging them.
// Fetches later in the same transaction find the buffered keys through
// byHash.
type keyBuffer struct {
	records []keyRecord
	byHash  map[int64][]int // indexes into records
	ftsRows []int64         // rowids of new items, for the full-text index
	pending int64           // new items recorded for the index by flush
	// last is the seq of the last log row flush appended.
	last int64
}

// add buffers the keys of an item's headline, hashed by hash.
func (b *keyBuffer) add(rowid int64, sourceID string, firstSeen, sketch int64, keys []string, hash func(string) int64) {
	rec := len(b.records)
	hashes := make([]int64, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			continue
		}
		h := hash(k)
		if slices.Contains(hashes, h) {
			continue
		}
		hashes = append(hashes, h)
		if b.byHash == nil {
			b.byHash = make(map[int64][]int)
		}
		b.byHash[h] = append(b.byHash[h], rec)
	}
	if len(hashes) > 0 {
		b.records = append(b.records, keyRecord{item: keyindex.Item{Rowid: rowid, Sketch: sketch, FirstSeen: firstSeen}, sourceID: sourceID, hashes: hashes})
	}
}

// flush writes the buffered keys within tx, and records the new items as
// pending for the full-text index (search.go).
func (b *keyBuffer) flush(ctx context.Context, tx sqlTx) error {
	if len(b.records) > 0 {
		last, err := appendKeyLog(ctx, tx, b.records)
		if err != nil {
			return err
		}
		b.last = last
	}
	if len(b.ftsRows) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO search_pending (item_rowid)
		SELECT value FROM json_each(?)
		-- WHERE makes ON CONFLICT parse as the upsert clause.
		WHERE true
		ON CONFLICT DO NOTHING`,
		jsonInts(b.ftsRows))
	if err != nil {
		return fmt.Errorf("record %d new items for search: %w", len(b.ftsRows), err)
	}
	b.pending += int64(len(b.ftsRows))
	b.ftsRows = nil
	return nil
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

// knownItemsQuery reads the key, raw hash and content hash of the items
// whose ids the argument (a JSON array) lists and that have a raw hash.
const knownItemsQuery = `
	SELECT
		key,
		raw_hash,
		content_hash
	FROM items
	WHERE id IN (SELECT value FROM json_each(?))
		AND raw_hash IS NOT NULL`

// KnownItems returns the raw and content hashes of the stored items of
// sourceID with the given keys that have a raw hash, for the parser to
// skip converting them again (parser.Options.Known).
func (s *Store) KnownItems(ctx context.Context, sourceID string, keys []string) (map[string]model.KnownItem, error) {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = model.ItemID(sourceID, k)
	}
	out := make(map[string]model.KnownItem, len(keys))
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := s.readTx(tx).QueryContext(ctx, knownItemsQuery, jsonArray(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			var k model.KnownItem
			if err := rows.Scan(&key, &k.RawHash, &k.ContentHash); err != nil {
				return err
			}
			out[key] = k
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read known items of source %q: %w", sourceID, err)
	}
	return out, nil
}
