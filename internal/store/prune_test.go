package store

import (
	"context"
	"fmt"
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
	storyKeys := func() int { return len(loggedKeys(t, s)) }
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
