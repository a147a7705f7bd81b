package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// selectionFixture stores items of three sources: a story started by a and
// joined by b, a featured item and a hidden one.
func selectionFixture(t *testing.T) (*Store, map[string]model.Item) {
	t.Helper()
	ctx := context.Background()
	s := openStore(t)
	a1 := newItem("a", "1", "Storm hits the coast", t0.Add(-3*time.Hour))
	a1.StoryKeys = []string{"url:storm"}
	a2 := newItem("a", "2", "Markets rally", t0.Add(-2*time.Hour))
	a3 := newItem("a", "3", "Undated", time.Time{})
	b1 := newItem("b", "1", "Coastal storm", t0.Add(-1*time.Hour))
	b1.StoryKeys = []string{"url:storm"}
	c1 := newItem("c", "1", "Election results", t0)
	c2 := newItem("c", "2", "Hidden away", t0.Add(-4*time.Hour))
	mustSave(t, s, update("a", t0, a1, a2, a3))
	if res := mustSave(t, s, update("b", t0.Add(time.Minute), b1)); res.Duplicate != 1 {
		t.Fatalf("b1 did not join a1's story: %s", counts(res))
	}
	mustSave(t, s, update("c", t0.Add(2*time.Minute), c1, c2))
	if err := s.SetFeatured(ctx, a2.ID, true, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHidden(ctx, c2.ID, true, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	stored := map[string]model.Item{}
	all, err := s.Items(ctx, model.ItemQuery{IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range all {
		stored[it.ID] = it
	}
	return s, stored
}

// headOf is what ItemHeads should return for a stored item.
func headOf(it model.Item, shared, text bool) model.ItemHead {
	h := model.ItemHead{
		ID:        it.ID,
		SourceID:  it.SourceID,
		StoryID:   it.StoryID,
		Shared:    shared,
		Published: it.Published,
		FirstSeen: it.FirstSeen,
		Changed:   it.Changed,
		Featured:  it.Featured,
		Hidden:    it.Hidden,
	}
	if text {
		h.Title, h.Summary = it.Title, it.Summary
	}
	return h
}

// TestItemHeads: ItemHeads selects what Items selects, with the same
// values, and marks the items of shared stories.
func TestItemHeads(t *testing.T) {
	ctx := context.Background()
	s, _ := selectionFixture(t)
	a1 := model.ItemID("a", "guid:1")
	queries := []struct {
		name string
		q    model.ItemQuery
	}{
		{"all visible", model.ItemQuery{}},
		{"with hidden", model.ItemQuery{IncludeHidden: true}},
		{"sources", model.ItemQuery{SourceIDs: []string{"a", "b"}}},
		{"unknown source", model.ItemQuery{SourceIDs: []string{"zz"}}},
		{"since", model.ItemQuery{Since: t0.Add(-2 * time.Hour)}},
		{"featured", model.ItemQuery{FeaturedOnly: true}},
		{"before", model.ItemQuery{Before: &model.Cursor{Published: t0.Add(-time.Hour), ID: "~"}}},
		{"search", model.ItemQuery{Search: "storm"}},
		{"limit", model.ItemQuery{Limit: 2}},
	}
	for _, tt := range queries {
		for _, text := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s text=%v", tt.name, text), func(t *testing.T) {
				items, err := s.Items(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				heads, err := s.ItemHeads(ctx, tt.q, text)
				if err != nil {
					t.Fatal(err)
				}
				var want []model.ItemHead
				for _, it := range items {
					want = append(want, headOf(it, it.StoryID == a1, text))
				}
				if tt.q.Limit == 0 {
					// Storage order: compare as sets.
					byID := func(a, b model.ItemHead) int { return cmp.Compare(a.ID, b.ID) }
					slices.SortFunc(heads, byID)
					slices.SortFunc(want, byID)
				}
				if !reflect.DeepEqual(heads, want) {
					t.Errorf("ItemHeads(%+v, %v) =\n%+v\nwant\n%+v", tt.q, text, heads, want)
				}
			})
		}
	}
	_, err := s.ItemHeads(ctx, model.ItemQuery{Search: `"unterminated`}, false)
	if !errors.Is(err, ErrInvalidSearch) {
		t.Errorf("ItemHeads with a bad search = %v, want ErrInvalidSearch", err)
	}
}

// TestItemHeadsSharedHidden: a story stays shared while its only joiner
// is hidden; StorySources then decides who carried it.
func TestItemHeadsSharedHidden(t *testing.T) {
	ctx := context.Background()
	s, _ := selectionFixture(t)
	a1, b1 := model.ItemID("a", "guid:1"), model.ItemID("b", "guid:1")
	if err := s.SetHidden(ctx, b1, true, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	heads, err := s.ItemHeads(ctx, model.ItemQuery{SourceIDs: []string{"a"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	var shared []string
	for _, h := range heads {
		if h.Shared {
			shared = append(shared, h.ID)
		}
	}
	if !slices.Equal(shared, []string{a1}) {
		t.Errorf("shared heads = %v, want [%s]", shared, a1)
	}
}

// TestItemsByID: full items, content included, for the ids that exist.
func TestItemsByID(t *testing.T) {
	ctx := context.Background()
	s, stored := selectionFixture(t)
	ids := slices.Sorted(maps.Keys(stored))
	tests := []struct {
		name string
		ids  []string
		want []string
	}{
		{"none", nil, nil},
		{"one", ids[:1], ids[:1]},
		{"all, hidden included", ids, ids},
		{"missing and repeated", []string{"a:missing", ids[2], ids[2]}, ids[2:3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ItemsByID(ctx, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			keys := slices.Sorted(maps.Keys(got))
			if !slices.Equal(keys, tt.want) {
				t.Fatalf("ItemsByID(%v) ids = %v, want %v", tt.ids, keys, tt.want)
			}
			for id, it := range got {
				if want := stored[id]; !reflect.DeepEqual(it, want) {
					t.Errorf("ItemsByID()[%s] =\n%+v\nwant\n%+v", id, it, want)
				}
				if it.ContentHTML == "" {
					t.Errorf("item %s has no content", id)
				}
			}
		})
	}
}

// TestSelection: Selection and AloneHeads agree with ItemHeads, whichever
// plan the share of sources selected leads to.
func TestSelection(t *testing.T) {
	ctx := context.Background()
	s, _ := selectionFixture(t)
	// More sources than the fixture's three, so that one source is a small
	// share (the per-source index) and three a large one (a scan).
	for i := range 6 {
		mustSave(t, s, update(fmt.Sprint("empty", i), t0))
	}
	more := []model.Item{
		newItem("a", "4", "Tied", t0.Add(-2*time.Hour)),
		newItem("c", "3", "Tied too", t0.Add(-2*time.Hour)),
		newItem("c", "4", "Old", t0.Add(-48*time.Hour)),
	}
	mustSave(t, s, update("a", t0.Add(5*time.Minute), more[0]))
	mustSave(t, s, update("c", t0.Add(6*time.Minute), more[1:]...))
	queries := []struct {
		name          string
		q             model.ItemQuery
		shared, alone int
	}{
		{"every source", model.ItemQuery{}, 2, 6},
		{"three sources", model.ItemQuery{SourceIDs: []string{"a", "b", "c"}}, 2, 6},
		{"one source", model.ItemQuery{SourceIDs: []string{"a"}}, 1, 3},
		{"the joiner's source", model.ItemQuery{SourceIDs: []string{"b"}}, 1, 0},
		{"with hidden", model.ItemQuery{SourceIDs: []string{"c"}, IncludeHidden: true}, 0, 4},
		{"since", model.ItemQuery{SourceIDs: []string{"a", "b", "c"}, Since: t0.Add(-3 * time.Hour)}, 2, 5},
		{"featured", model.ItemQuery{SourceIDs: []string{"a", "b", "c"}, FeaturedOnly: true}, 0, 1},
	}
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) {
			heads, err := s.ItemHeads(ctx, tt.q, false)
			if err != nil {
				t.Fatal(err)
			}
			var want model.Selection
			var alone []model.ItemHead
			for _, h := range heads {
				if h.Shared {
					want.Shared = append(want.Shared, h)
					continue
				}
				alone = append(alone, h)
				want.Alone++
				if h.Changed.After(want.AloneChanged) {
					want.AloneChanged = h.Changed
				}
			}
			slices.SortFunc(alone, func(a, b model.ItemHead) int {
				if c := b.Published.Compare(a.Published); c != 0 {
					return c
				}
				return cmp.Compare(b.ID, a.ID)
			})
			if len(want.Shared) != tt.shared || want.Alone != tt.alone {
				t.Fatalf("fixture: %d shared and %d alone, want %d and %d", len(want.Shared), want.Alone, tt.shared, tt.alone)
			}
			byID := func(a, b model.ItemHead) int { return cmp.Compare(a.ID, b.ID) }
			slices.SortFunc(want.Shared, byID)
			// Both ways of counting the items alone (aloneSummary).
			for _, subtractMin := range []int{0, 1 << 30} {
				setAloneSubtractMin(t, subtractMin)
				for _, n := range []int{0, 1, 2, 100} {
					got, err := s.Selection(ctx, tt.q, n)
					if err != nil {
						t.Fatal(err)
					}
					slices.SortFunc(got.Shared, byID)
					want.Newest = alone[:min(n, len(alone))]
					if len(want.Newest) == 0 {
						want.Newest = nil
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("Selection(%+v, %d), subtracting from %d =\n%+v\nwant\n%+v", tt.q, n, subtractMin, got, want)
					}
				}
			}
			// Reading on from a cursor, one at a time, yields the rest.
			var paged []model.ItemHead
			q := tt.q
			for range len(alone) + 1 {
				page, err := s.AloneHeads(ctx, q, 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
				q.Before = &model.Cursor{Published: page[0].Published, ID: page[0].ID}
			}
			if len(paged) != len(alone) || len(alone) > 0 && !reflect.DeepEqual(paged, alone) {
				t.Errorf("AloneHeads paged =\n%+v\nwant\n%+v", paged, alone)
			}
		})
	}
}

// benchStore stores 25,000 items: 500 sources of 50, one item in 50
// joining the story of another source's item.
func benchStore(b *testing.B) (*Store, []string) {
	b.Helper()
	s := openStore(b)
	var sources []string
	for src := range 500 {
		id := fmt.Sprintf("s%03d", src)
		sources = append(sources, id)
		var batch []model.Item
		for i := range 50 {
			it := newItem(id, fmt.Sprint(i), fmt.Sprintf("Item %d of %s", i, id), t0.Add(-time.Duration(src*50+i)*time.Minute))
			it.ContentHTML = strings.Repeat("<p>Some text of the item.</p>", 40)
			if i == 0 {
				it.StoryKeys = []string{fmt.Sprint("story", src/2)}
			}
			batch = append(batch, it)
		}
		mustSave(b, s, update(id, t0, batch...))
	}
	return s, sources
}

// BenchmarkItemHeads selects every item of 25,000, with and without the
// text that patterns need.
func BenchmarkItemHeads(b *testing.B) {
	s, sources := benchStore(b)
	for _, text := range []bool{false, true} {
		b.Run(fmt.Sprintf("text=%v", text), func(b *testing.B) {
			for b.Loop() {
				heads, err := s.ItemHeads(context.Background(), model.ItemQuery{SourceIDs: sources}, text)
				if err != nil {
					b.Fatal(err)
				}
				if len(heads) != 25000 {
					b.Fatalf("%d heads", len(heads))
				}
			}
		})
	}
}

// BenchmarkSelection selects from 25,000 items what an output without
// patterns needs for its first page: every source, then one.
func BenchmarkSelection(b *testing.B) {
	s, sources := benchStore(b)
	for _, tt := range []struct {
		name    string
		sources []string
	}{
		{"all", sources},
		{"one", sources[:1]},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				sel, err := s.Selection(context.Background(), model.ItemQuery{SourceIDs: tt.sources}, 50)
				if err != nil {
					b.Fatal(err)
				}
				if len(sel.Newest)+len(sel.Shared) < 50 {
					b.Fatalf("%d newest, %d shared", len(sel.Newest), len(sel.Shared))
				}
			}
		})
	}
}

// setAloneSubtractMin sets aloneSubtractMin for the rest of the test.
func setAloneSubtractMin(t *testing.T, n int) {
	old := aloneSubtractMin
	aloneSubtractMin = n
	t.Cleanup(func() { aloneSubtractMin = old })
}

// TestAloneSummaryLatestChange: the latest change of the items alone in
// their story skips a story's first item, even when it changed last (the
// summary's scan finds that item first and must look again), and counts
// the rest.
func TestAloneSummaryLatestChange(t *testing.T) {
	ctx := context.Background()
	s, stored := selectionFixture(t)
	var a1 model.Item
	for _, it := range stored {
		if it.SourceID == "a" && it.Title == "Storm hits the coast" {
			a1 = it
		}
	}
	if a1.ID == "" {
		t.Fatal("fixture lacks a1")
	}
	tests := []struct {
		name string
		last time.Duration // when the story's first item changes, after t0
		q    model.ItemQuery
		want time.Duration // the latest change of the items alone, after t0
	}{
		{"story head changed first", 0, model.ItemQuery{}, 3 * time.Minute},                          // a2 featured
		{"story head changed last", 10 * time.Minute, model.ItemQuery{}, 3 * time.Minute},            // a2 featured
		{"with hidden", 10 * time.Minute, model.ItemQuery{IncludeHidden: true}, 4 * time.Minute},     // c2 hidden
		{"one source", 10 * time.Minute, model.ItemQuery{SourceIDs: []string{"c"}}, 2 * time.Minute}, // c1 stored
	}
	// The fixture is small: subtract the stories' first items from any
	// selection, as a large one does.
	setAloneSubtractMin(t, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.last > 0 {
				if err := s.SetFeatured(ctx, a1.ID, true, t0.Add(tt.last)); err != nil {
					t.Fatal(err)
				}
			}
			heads, err := s.ItemHeads(ctx, tt.q, false)
			if err != nil {
				t.Fatal(err)
			}
			alone := 0
			for _, h := range heads {
				if !h.Shared {
					alone++
				}
			}
			sel, err := s.Selection(ctx, tt.q, 0)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Alone != alone || !sel.AloneChanged.Equal(t0.Add(tt.want)) {
				t.Errorf("Selection(%+v): %d alone, latest change %v; want %d, %v", tt.q, sel.Alone, sel.AloneChanged, alone, t0.Add(tt.want))
			}
		})
	}
}

// TestAloneSummaryReadsTheIndex: the count and latest change of the items
// alone in their story read the per-source index, never the item rows (a
// scan of every row is what made serve's first request on 500,000 items
// take 0.6 s), whether the sources are sought in the index or, for an
// output of most sources, checked while scanning it; and the items whose
// story others joined, which the summary subtracts, are found from the
// story index, not by looking up every row of the scan among them.
func TestAloneSummaryReadsTheIndex(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for _, sources := range [][]string{{"alpha"}, {"alpha", "beta", "gamma"}} {
		if err := s.SyncSources(ctx, map[string]string{"alpha": "https://a.example/", "beta": "https://b.example/", "gamma": "https://c.example/"}); err != nil {
			t.Fatal(err)
		}
		err := s.read(ctx, func(tx *sql.Tx) error {
			f, err := newItemFilter(ctx, tx, model.ItemQuery{SourceIDs: sources})
			if err != nil {
				return err
			}
			plan := func(query string, args ...any) []string {
				t.Helper()
				rows, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var plan []string
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, detail)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				return plan
			}
			scan := plan("SELECT count(*), coalesce(max(changed), 0), id FROM items WHERE "+f.where("story_id IS NULL"), f.args(0)...)
			if !slices.ContainsFunc(scan, func(d string) bool {
				return strings.Contains(d, "COVERING INDEX items_source_published") && !strings.Contains(d, "story_id")
			}) || slices.ContainsFunc(scan, func(d string) bool { return strings.Contains(d, "items_story") }) {
				t.Errorf("%d sources: the count does not read items_source_published alone:\n%s", len(sources), strings.Join(scan, "\n"))
			}
			started := plan("SELECT count(*), coalesce(max(id = ?), 0) FROM items WHERE "+f.where(startedStory), append([]any{""}, f.args(0)...)...)
			if !slices.ContainsFunc(started, func(d string) bool { return strings.Contains(d, "items_story") }) ||
				slices.ContainsFunc(started, func(d string) bool { return strings.Contains(d, "items_source_published") }) {
				t.Errorf("%d sources: the story heads are not found from the story index:\n%s", len(sources), strings.Join(started, "\n"))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
