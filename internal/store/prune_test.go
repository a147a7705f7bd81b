package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

func TestPrune(t *testing.T) {
	// Source a has items a0 (newest) .. a4 (oldest), one hour apart, with
	// a3 featured; source b has b0, b1; source o (orphaned) has o0, o1
	// with o1 featured.
	type want struct {
		left               []string // item keys, per source order a, b, o
		removed, orphaned  int
		bySource           string
		versionA, versionO int64
	}
	tests := []struct {
		name   string
		policy PrunePolicy
		want   want
	}{
		{
			name:   "by count keeps featured",
			policy: PrunePolicy{MaxPerSource: 2, Now: t0},
			want: want{left: []string{"a0", "a1", "a3", "b0", "b1", "o1"}, removed: 3, orphaned: 1,
				bySource: "map[a:2 o:1]", versionA: 3, versionO: 3},
		},
		{
			name:   "by count of one",
			policy: PrunePolicy{MaxPerSource: 1, Now: t0},
			want: want{left: []string{"a0", "a3", "b0", "o1"}, removed: 5, orphaned: 1,
				bySource: "map[a:3 b:1 o:1]", versionA: 3, versionO: 3},
		},
		{
			name:   "by age",
			policy: PrunePolicy{MaxAge: 150 * time.Minute, Now: t0},
			want: want{left: []string{"a0", "a1", "a2", "a3", "b0", "b1", "o1"}, removed: 2, orphaned: 1,
				bySource: "map[a:1 o:1]", versionA: 3, versionO: 3},
		},
		{
			name:   "count and age together",
			policy: PrunePolicy{MaxPerSource: 4, MaxAge: 90 * time.Minute, Now: t0},
			want: want{left: []string{"a0", "a1", "a3", "b0", "b1", "o1"}, removed: 3, orphaned: 1,
				bySource: "map[a:2 o:1]", versionA: 3, versionO: 3},
		},
		{
			name:   "orphans only",
			policy: PrunePolicy{Now: t0},
			want: want{left: []string{"a0", "a1", "a2", "a3", "a4", "b0", "b1", "o1"}, removed: 1, orphaned: 1,
				bySource: "map[o:1]", versionA: 2, versionO: 3},
		},
		{
			name:   "dry run",
			policy: PrunePolicy{MaxPerSource: 1, Now: t0, DryRun: true},
			want: want{left: []string{"a0", "a1", "a2", "a3", "a4", "b0", "b1", "o0", "o1"}, removed: 5, orphaned: 1,
				bySource: "map[a:3 b:1 o:1]", versionA: 2, versionO: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t)
			byKey := map[string]model.Item{}
			fill := func(src string, n int) {
				var items []model.Item
				for i := range n {
					k := fmt.Sprint(src, i)
					it := newItem(src, k, k, t0.Add(-time.Duration(i)*time.Hour))
					byKey[k] = it
					items = append(items, it)
				}
				mustSave(t, s, update(src, t0, items...))
			}
			fill("a", 5)
			fill("b", 2)
			fill("o", 2)
			if err := s.SetFeatured(ctx, byKey["a3"].ID, true, t0); err != nil {
				t.Fatal(err)
			}
			if err := s.SetFeatured(ctx, byKey["o1"].ID, true, t0); err != nil {
				t.Fatal(err)
			}
			if err := s.SyncSources(ctx, map[string]string{"a": "https://a.example/feed", "b": "https://b.example/feed"}); err != nil {
				t.Fatal(err)
			}

			res, err := s.Prune(ctx, tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if res.Removed != tt.want.removed || res.Orphaned != tt.want.orphaned || fmt.Sprint(res.BySource) != tt.want.bySource {
				t.Errorf("Prune() = %+v, want removed=%d orphaned=%d by source %s", res, tt.want.removed, tt.want.orphaned, tt.want.bySource)
			}
			if res.Tombstones != tt.want.removed {
				t.Errorf("Tombstones = %d, want %d", res.Tombstones, tt.want.removed)
			}
			items, err := s.Items(ctx, model.ItemQuery{IncludeHidden: true})
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, it := range items {
				left = append(left, it.Title)
			}
			slices.Sort(left)
			if !slices.Equal(left, tt.want.left) {
				t.Errorf("left = %v, want %v", left, tt.want.left)
			}
			v, err := s.Versions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v["a"] != tt.want.versionA || v["o"] != tt.want.versionO {
				t.Errorf("versions = %v, want a:%d o:%d", v, tt.want.versionA, tt.want.versionO)
			}
			var tombs int
			if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM tombstones").Scan(&tombs); err != nil {
				t.Fatal(err)
			}
			if want := tt.want.removed; tt.policy.DryRun {
				want = 0
				if tombs != want {
					t.Errorf("dry run left %d tombstones", tombs)
				}
			} else if tombs != want {
				t.Errorf("tombstones = %d, want %d", tombs, want)
			}
			if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
				t.Errorf("IntegrityCheck() = %q, %v", res, err)
			}
		})
	}
}

func TestPruneStoryKeys(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	old := newItem("a", "old", "Old", t0)
	old.StoryKeys = []string{"k1", "k2"}
	mustSave(t, s, update("a", t0, old))
	cur := newItem("a", "cur", "Cur", t0)
	cur.StoryKeys = []string{"k3"}
	mustSave(t, s, update("a", t0.Add(72*time.Hour), cur))
	storyKeys := func() int {
		var n int
		if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM all_story_keys").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	p := PrunePolicy{DedupWindow: 48 * time.Hour, Now: t0.Add(73 * time.Hour), DryRun: true}
	res, err := s.Prune(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.StoryKeys != 2 || storyKeys() != 3 {
		t.Errorf("dry run: StoryKeys = %d, left %d", res.StoryKeys, storyKeys())
	}
	p.DryRun = false
	if res, err = s.Prune(ctx, p); err != nil {
		t.Fatal(err)
	}
	if res.StoryKeys != 2 || storyKeys() != 1 || res.Removed != 0 {
		t.Errorf("Prune() = %+v, story keys left %d, want 1", res, storyKeys())
	}
	// Deleting an item deletes its keys.
	if _, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 1, Now: t0.Add(73 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(ctx, PrunePolicy{MaxAge: time.Hour, Now: t0.Add(73 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.ItemCount(ctx); n != 0 || storyKeys() != 0 {
		t.Errorf("items %d, story keys %d left; want 0, 0", n, storyKeys())
	}
	if _, err := s.Prune(ctx, PrunePolicy{}); err == nil {
		t.Error("Prune without Now succeeded")
	}
}

func TestPruneInBatches(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var items []model.Item
	n := pruneBatch*2 + 17
	for i := range n {
		items = append(items, newItem("a", fmt.Sprint(i), fmt.Sprint("item ", i), t0.Add(-time.Duration(i)*time.Minute)))
	}
	mustSave(t, s, update("a", t0, items...))
	res, err := s.Prune(ctx, PrunePolicy{MaxPerSource: 10, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != n-10 || res.BySource["a"] != n-10 {
		t.Errorf("Prune() = %+v, want %d removed", res, n-10)
	}
	got, err := s.Items(ctx, model.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), ids(items[:10])) {
		t.Errorf("kept %v, want the newest ten", ids(got))
	}
	// One bump per batch.
	if v, _ := s.Versions(ctx); v["a"] != 4 {
		t.Errorf("version = %d, want 4", v["a"])
	}
}

// TestStoryKeysMerge: keys move from recent_story_keys into
// mid_story_keys once enough wait, and from there into story_keys once
// enough are there; stories are found in each of the three tables, and
// Prune drops stale keys from all of them.
func TestStoryKeysMerge(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "syndic.db"), Options{mergeKeys: 3, midKeys: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := func(table string) int {
		var n int
		if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tables := func(step string, recent, mid, main int) {
		t.Helper()
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		r, m, k := count("recent_story_keys"), count("mid_story_keys"), count("story_keys")
		if r != recent || m != mid || k != main {
			t.Fatalf("%s: %d recent, %d mid, %d main keys; want %d, %d, %d", step, r, m, k, recent, mid, main)
		}
	}
	// save stores an item of source with keys, minute minutes after t0.
	save := func(source string, minute int, title string, keys ...string) (model.Item, model.SaveResult) {
		t.Helper()
		it := newItem(source, "1", title, t0)
		it.StoryKeys = keys
		return it, mustSave(t, s, update(source, t0.Add(time.Duration(minute)*time.Minute), it))
	}
	const title = "Harbor police announce new flood defenses"
	first, _ := save("a", 0, title, "k1", "k2")
	// joins checks that it joined first's story through a key in where.
	joins := func(it model.Item, res model.SaveResult, where string) {
		t.Helper()
		if res.Duplicate != 1 {
			t.Fatalf("duplicate of a %s key: %s, want 1 duplicate", where, counts(res))
		}
		if got := mustItem(t, s, it.ID).StoryID; got != first.ID {
			t.Errorf("story of %s = %q, want %q", it.SourceID, got, first.ID)
		}
	}
	tables("after 2 keys", 2, 0, 0)
	// Found while recent.
	if _, res := save("b", 1, title, "k1"); res.Duplicate != 1 {
		t.Fatalf("duplicate of a recent key: %s, want 1 duplicate", counts(res))
	}
	// That commit brought the count to 3: everything moved to the middle
	// table, once the writer has woken the fetch's caller.
	tables("after the first merge", 0, 3, 0)
	c, res := save("c", 2, title, "k2")
	joins(c, res, "middle")
	tables("after c", 1, 3, 0)
	save("d", 3, "Library trustees weigh noise limits", "k3", "k4")
	// Three recent keys moved to the middle, which then held six: all
	// moved on into story_keys.
	tables("after the second merge", 0, 0, 6)
	e, res := save("e", 4, title, "k1")
	joins(e, res, "merged")
	save("f", 5, "Council delays vote on bus routes", "k5", "k6")
	// k1 of e and k5, k6 of f moved to the middle, which holds fewer than
	// five: they stay there.
	tables("after the third merge", 0, 3, 6)
	save("g", 6, "Ferry fares rise in spring", "k7")
	tables("after g", 1, 3, 6)
	// Stale keys go from all three tables.
	pruned, err := s.Prune(ctx, PrunePolicy{DedupWindow: 48 * time.Hour, Now: t0.Add(73 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if pruned.StoryKeys != 10 || count("all_story_keys") != 0 {
		t.Errorf("prune dropped %d keys, %d left; want 10, 0", pruned.StoryKeys, count("all_story_keys"))
	}
}
