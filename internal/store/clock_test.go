package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

func TestWriteClock(t *testing.T) {
	var c writeClock
	r0 := c.reading()
	c.committed()
	r1 := c.reading()
	if r1 == r0 || !c.covers(r0) || !c.covers(r1) {
		t.Fatalf("after a commit of this Store: readings %d, %d; covers %v, %v; want both covered", r0, r1, c.covers(r0), c.covers(r1))
	}
	if c.checkDataVersion(5) || c.checkDataVersion(5) {
		t.Error("the first data version, or the same one again, reported as another process's write")
	}
	if !c.checkDataVersion(6) {
		t.Error("a new data version not reported as another process's write")
	}
	c.foreignWrite()
	if c.covers(r1) {
		t.Error("a reading taken before another process wrote is covered")
	}
	if !c.covers(c.reading()) {
		t.Error("a reading taken after the foreign write is not covered")
	}
}

// storyFetch is a fetch of source with one new item of the given title
// under a story key shared by all such fetches.
func storyFetch(source string, now time.Time) *saveReq {
	it := newItem(source, "1", "Flood warning for the river valley tonight", t0)
	it.StoryKeys = []string{"p:flood"}
	u := update(source, now, it)
	u.DedupWindow = time.Hour
	return &saveReq{ctx: context.Background(), u: u, done: make(chan struct{})}
}

// TestCandidatesCommittedAfterPrepare prepares a fetch, commits the story
// it belongs to, then writes the fetch, right away and after more
// commits: the writer must find the story prepare's snapshot missed.
func TestCandidatesCommittedAfterPrepare(t *testing.T) {
	for _, extra := range []int{0, 6} {
		t.Run(fmt.Sprint(extra, " commits between"), func(t *testing.T) {
			s := openStore(t)
			now := t0.Add(time.Minute)
			late := storyFetch("late", now)
			late.pre = s.prepare(context.Background(), &late.u)
			first := storyFetch("first", now)
			first.pre = s.prepare(context.Background(), &first.u)
			s.runBatch([]*saveReq{first})
			for i := range extra {
				other := newItem(fmt.Sprint("o", i), "1", fmt.Sprint("Unrelated ", i), t0)
				other.StoryKeys = []string{fmt.Sprint("p:o", i)}
				mustSave(t, s, update(fmt.Sprint("o", i), now, other))
			}
			s.runBatch([]*saveReq{late})
			if first.err != nil || late.err != nil {
				t.Fatalf("errors: %v, %v", first.err, late.err)
			}
			if late.res.Duplicate != 1 {
				t.Errorf("late fetch: %s, want its item to join the first's story", counts(late.res))
			}
		})
	}
}

// openShared opens two Stores on one file, as two processes would.
func openShared(t *testing.T) (a, b *Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shared.db")
	for _, s := range []**Store{&a, &b} {
		st, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		*s = st
	}
	return a, b
}

// TestCandidatesAfterForeignWrite commits the story through a second
// Store on the same file, as another process would, between a fetch's
// preparation and its write: the writer must find it (see also
// TestStoryIndexCatchesUp, where the index was read before).
func TestCandidatesAfterForeignWrite(t *testing.T) {
	ctx := context.Background()
	a, b := openShared(t)
	now := t0.Add(time.Minute)
	// A write through a, so that a's writer has seen a data version.
	mustSave(t, a, update("warmup", now))
	late := storyFetch("late", now)
	late.pre = a.prepare(ctx, &late.u)
	first := storyFetch("first", now)
	first.pre = b.prepare(ctx, &first.u)
	b.runBatch([]*saveReq{first})
	a.runBatch([]*saveReq{late})
	if first.err != nil || late.err != nil {
		t.Fatalf("errors: %v, %v", first.err, late.err)
	}
	if late.res.Duplicate != 1 {
		t.Errorf("late fetch: %s, want its item to join the story the other store wrote", counts(late.res))
	}
}

// TestPreparedUnchangedAfterForeignWrite: another process changes an item
// between a fetch's snapshot, which held it unchanged, and the fetch's
// write. The writer must look again and restore the fetched content.
func TestPreparedUnchangedAfterForeignWrite(t *testing.T) {
	ctx := context.Background()
	a, b := openShared(t)
	orig := newItem("s", "1", "Original headline", t0)
	mustSave(t, a, update("s", t0, orig))

	r := &saveReq{ctx: ctx, u: update("s", t0.Add(time.Minute), orig), done: make(chan struct{})}
	r.pre = a.prepare(ctx, &r.u)
	if !r.pre.unchanged[orig.ID] {
		t.Fatal("snapshot did not hold the item unchanged")
	}
	changed := orig
	changed.Title = "Changed headline"
	rehash(&changed)
	if res := mustSave(t, b, update("s", t0.Add(30*time.Second), changed)); res.Updated != 1 {
		t.Fatalf("other store: %s, want 1 updated", counts(res))
	}
	a.runBatch([]*saveReq{r})
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.res.Updated != 1 {
		t.Errorf("fetch after the other process's change: %s, want 1 updated", counts(r.res))
	}
	if got := mustItem(t, a, orig.ID).Title; got != orig.Title {
		t.Errorf("title %q, want %q", got, orig.Title)
	}
}

// TestPreparedUnchangedSkipsLookup: an item the snapshot held unchanged
// counts as unchanged without a second lookup, and a changed one is
// still updated.
func TestPreparedUnchangedSkipsLookup(t *testing.T) {
	s := openStore(t)
	one, two := newItem("s", "1", "First headline", t0), newItem("s", "2", "Second headline", t0)
	mustSave(t, s, update("s", t0, one, two))
	two.Title = "Second headline, revised"
	rehash(&two)
	r := &saveReq{ctx: context.Background(), u: update("s", t0.Add(time.Minute), one, two), done: make(chan struct{})}
	r.pre = s.prepare(context.Background(), &r.u)
	if !r.pre.unchanged[one.ID] || r.pre.unchanged[two.ID] {
		t.Fatalf("unchanged = %v, want only item 1", r.pre.unchanged)
	}
	s.runBatch([]*saveReq{r})
	if r.err != nil || r.res.Unchanged != 1 || r.res.Updated != 1 {
		t.Errorf("save: %s, %v; want 1 unchanged, 1 updated", counts(r.res), r.err)
	}
}

// TestUnconvertedItems: KnownItems returns the raw hashes stored, an
// unconverted item of a stored one counts unchanged and leaves the row as
// it was, and an unconverted item the store does not hold is never
// written. (It counts unchanged too: the parser saw it stored, and the
// store does not look unconverted items up again.)
func TestUnconvertedItems(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	one := newItem("s", "1", "First headline", t0)
	one.RawHash = 42
	two := newItem("s", "2", "Second headline", t0) // no raw hash: stored NULL
	mustSave(t, s, update("s", t0, one, two))
	known, err := s.KnownItems(ctx, "s", []string{one.Key, two.Key, "guid:nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 1 || known[one.Key].RawHash != 42 || known[one.Key].ContentHash != one.ContentHash {
		t.Fatalf("KnownItems = %v, want only item 1 with raw hash 42", known)
	}
	stub := model.Item{ID: one.ID, SourceID: "s", Key: one.Key, RawHash: 42, ContentHash: one.ContentHash, Unconverted: true}
	gone := model.Item{ID: model.ItemID("s", "guid:3"), SourceID: "s", Key: "guid:3", RawHash: 7, ContentHash: "x", Unconverted: true}
	res := mustSave(t, s, update("s", t0.Add(time.Minute), stub, two, gone))
	if res.New != 0 || res.Updated != 0 || res.Unchanged != 3 {
		t.Errorf("save with unconverted items: %s, want 3 unchanged and nothing written", counts(res))
	}
	if got := mustItem(t, s, one.ID); got.Title != one.Title || got.ContentHTML != one.ContentHTML {
		t.Errorf("item 1 after an unconverted save: %q %q", got.Title, got.ContentHTML)
	}
	if _, err := s.Item(ctx, gone.ID); err == nil {
		t.Error("an unconverted item the store did not hold was written")
	}
}

// TestRawHashRefreshed: an item stored without a raw hash (before
// migration 4) or under another raw hash version gets the new raw hash the
// next time a fetch lists it unchanged, so that later fetches skip
// converting it; its content and dates stay as they were.
func TestRawHashRefreshed(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	one := newItem("s", "1", "First headline", t0) // RawHash 0: stored NULL
	two := newItem("s", "2", "Second headline", t0)
	two.RawHash = 41 // an older raw hash version
	mustSave(t, s, update("s", t0, one, two))
	before := mustItem(t, s, two.ID)

	one.RawHash, two.RawHash = 7, 42
	for _, pass := range []int{1, 2} {
		res := mustSave(t, s, update("s", t0.Add(time.Duration(pass)*time.Minute), one, two))
		if res.Unchanged != 2 || res.New+res.Updated != 0 {
			t.Errorf("pass %d: %s, want 2 unchanged", pass, counts(res))
		}
		known, err := s.KnownItems(ctx, "s", []string{one.Key, two.Key})
		if err != nil {
			t.Fatal(err)
		}
		if known[one.Key].RawHash != 7 || known[two.Key].RawHash != 42 {
			t.Errorf("pass %d: KnownItems = %v, want raw hashes 7 and 42", pass, known)
		}
	}
	after := mustItem(t, s, two.ID)
	if !after.Updated.Equal(before.Updated) || after.ContentHTML != before.ContentHTML || after.Title != before.Title {
		t.Errorf("refreshing the raw hash changed the item: %+v -> %+v", before, after)
	}
}
