package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

func TestItemsOrderAndPaging(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	// Three sources, many ties on published, undated items too.
	var want []model.Item
	for _, src := range []string{"a", "b", "c"} {
		var batch []model.Item
		for i := range 7 {
			pub := t0.Add(-time.Duration(i%3) * time.Hour) // three distinct dates
			if i == 6 {
				pub = time.Time{}
			}
			it := newItem(src, fmt.Sprint("k", i), fmt.Sprint(src, i), pub)
			batch = append(batch, it)
			if pub.IsZero() {
				it.Published = t0
			}
			want = append(want, it)
		}
		mustSave(t, s, update(src, t0, batch...))
	}
	sort.Slice(want, func(i, j int) bool {
		if !want[i].Published.Equal(want[j].Published) {
			return want[i].Published.After(want[j].Published)
		}
		return want[i].ID > want[j].ID
	})

	all, err := s.Items(ctx, model.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all), ids(want); !slices.Equal(got, want) {
		t.Fatalf("Items() order =\n%v\nwant\n%v", got, want)
	}

	for _, limit := range []int{1, 2, 5, 21, 50} {
		var got []string
		q := model.ItemQuery{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > len(want) {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page, err := s.Items(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, ids(page)...)
			last := page[len(page)-1]
			q.Before = &model.Cursor{Published: last.Published, ID: last.ID}
		}
		if !slices.Equal(got, ids(want)) {
			t.Errorf("limit %d: paged =\n%v\nwant\n%v", limit, got, ids(want))
		}
	}
}

func TestItemsFilters(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a1 := newItem("a", "1", "a1", t0.Add(-3*time.Hour))
	a2 := newItem("a", "2", "a2", t0.Add(-2*time.Hour))
	b1 := newItem("b", "1", "b1", t0.Add(-1*time.Hour))
	c1 := newItem("c", "1", "c1", t0)
	mustSave(t, s, update("a", t0, a1, a2))
	mustSave(t, s, update("b", t0, b1))
	mustSave(t, s, update("c", t0, c1))
	if err := s.SetFeatured(ctx, a1.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFeatured(ctx, b1.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHidden(ctx, b1.ID, true, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    model.ItemQuery
		want []model.Item
	}{
		{"all visible", model.ItemQuery{}, []model.Item{c1, a2, a1}},
		{"with hidden", model.ItemQuery{IncludeHidden: true}, []model.Item{c1, b1, a2, a1}},
		{"sources", model.ItemQuery{SourceIDs: []string{"a", "b"}, IncludeHidden: true}, []model.Item{b1, a2, a1}},
		{"one source", model.ItemQuery{SourceIDs: []string{"c"}}, []model.Item{c1}},
		{"unknown source", model.ItemQuery{SourceIDs: []string{"zz"}}, nil},
		{"since", model.ItemQuery{Since: t0.Add(-2 * time.Hour)}, []model.Item{c1, a2}},
		{"featured", model.ItemQuery{FeaturedOnly: true}, []model.Item{a1}},
		{"featured with hidden", model.ItemQuery{FeaturedOnly: true, IncludeHidden: true}, []model.Item{b1, a1}},
		{"limit", model.ItemQuery{Limit: 2}, []model.Item{c1, a2}},
		{"before", model.ItemQuery{Before: &model.Cursor{Published: a2.Published, ID: a2.ID}}, []model.Item{a1}},
		{"combined", model.ItemQuery{SourceIDs: []string{"a"}, Since: t0.Add(-4 * time.Hour), Limit: 1, Search: "a1 OR a2"}, []model.Item{a2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Items(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("Items(%+v) = %v, want %v", tt.q, ids(got), ids(tt.want))
			}
		})
	}
}

func TestItemsSearch(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	mk := func(key, title, summary string, age time.Duration) model.Item {
		it := newItem("a", key, title, t0.Add(-age))
		it.Summary = summary
		it.ContentHTML = "<p>zeppelin only in the html</p>"
		rehash(&it)
		return it
	}
	items := []model.Item{
		mk("1", "Storm hits the coast", "Heavy rain and wind across the region.", 1*time.Hour),
		mk("2", "Coastal storm warning lifted", "Officials say the danger has passed.", 2*time.Hour),
		mk("3", "Markets rally", "Stocks rose as storms eased; crème brûlée sales up.", 3*time.Hour),
		mk("4", "Election results", "The count continues in the coast districts.", 4*time.Hour),
	}
	mustSave(t, s, update("a", t0, items...))
	k := func(n ...int) []string {
		var out []string
		for _, i := range n {
			out = append(out, items[i-1].ID)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"storm", k(1, 2)},
		{"STORM", k(1, 2)},
		{"storm*", k(1, 2, 3)},
		{`"storm hits"`, k(1)},
		{`"hits storm"`, nil},
		{"storm AND coast", k(1)},
		{"storm OR election", k(1, 2, 4)},
		{"coast NOT storm", k(4)},
		{"storm NOT warning", k(1)},
		{"title:coast*", k(1, 2)},
		{"title:coastal", k(2)},
		{"summary:coast", k(4)},
		{"creme brulee", k(3)},
		{"zeppelin", nil},
		{"(markets OR election) AND count", k(4)},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := s.Items(ctx, model.ItemQuery{Search: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Search %q = %v, want %v", tt.query, ids(got), tt.want)
			}
		})
	}
	for _, bad := range []string{`"unterminated`, "storm AND", "AND", "(storm", "nosuchcol:storm", "*", "storm NOT"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			_, err := s.Items(ctx, model.ItemQuery{Search: bad})
			if !errors.Is(err, ErrInvalidSearch) {
				t.Fatalf("Search %q error = %v, want ErrInvalidSearch", bad, err)
			}
			if !strings.Contains(err.Error(), "invalid search query") {
				t.Errorf("error %q does not say the query is invalid", err)
			}
		})
	}

	// The index follows updates and deletes.
	changed := items[0]
	changed.Title = "Sunny day"
	rehash(&changed)
	mustSave(t, s, update("a", t0, changed))
	if got, _ := s.Items(ctx, model.ItemQuery{Search: "storm"}); !slices.Equal(ids(got), k(2)) {
		t.Errorf("after update: %v", ids(got))
	}
	if got, _ := s.Items(ctx, model.ItemQuery{Search: "sunny"}); !slices.Equal(ids(got), k(1)) {
		t.Errorf("after update, new title: %v", ids(got))
	}
	if _, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 1, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Items(ctx, model.ItemQuery{Search: "storm OR election OR markets"}); len(got) != 0 {
		t.Errorf("after prune: %v", ids(got))
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("IntegrityCheck() = %q, %v", res, err)
	}
}

func TestCuration(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	it := newItem("a", "1", "One", t0)
	mustSave(t, s, update("a", t0, it))
	version := func() int64 {
		t.Helper()
		v, err := s.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v["a"]
	}
	steps := []struct {
		name        string
		do          func(now time.Time) error
		wantVersion int64
		featured    bool
		hidden      bool
	}{
		{"feature", func(now time.Time) error { return s.SetFeatured(ctx, it.ID, true, now) }, 2, true, false},
		{"feature again is a no-op", func(now time.Time) error { return s.SetFeatured(ctx, it.ID, true, now) }, 2, true, false},
		{"hide", func(now time.Time) error { return s.SetHidden(ctx, it.ID, true, now) }, 3, true, true},
		{"unfeature", func(now time.Time) error { return s.SetFeatured(ctx, it.ID, false, now) }, 4, false, true},
		{"show", func(now time.Time) error { return s.SetHidden(ctx, it.ID, false, now) }, 5, false, false},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i+1) * time.Minute)
		if err := st.do(now); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := version(); got != st.wantVersion {
			t.Errorf("%s: version = %d, want %d", st.name, got, st.wantVersion)
		}
		got := mustItem(t, s, it.ID)
		if got.Featured != st.featured || got.Hidden != st.hidden {
			t.Errorf("%s: featured=%v hidden=%v", st.name, got.Featured, got.Hidden)
		}
		if st.name != "feature again is a no-op" && !got.Changed.Equal(now) {
			t.Errorf("%s: changed = %v, want %v", st.name, got.Changed, now)
		}
		if !got.Updated.Equal(t0) {
			t.Errorf("%s: updated moved to %v", st.name, got.Updated)
		}
	}
	if err := s.SetFeatured(ctx, "a:missing", true, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetFeatured(missing) = %v, want ErrNotFound", err)
	}
	if err := s.SetHidden(ctx, "a:missing", true, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetHidden(missing) = %v, want ErrNotFound", err)
	}
}
