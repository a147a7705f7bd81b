package store

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// TestBloom adds enough hashes to grow the filter through several stages:
// every one added is found, and few others are.
func TestBloom(t *testing.T) {
	b := newBloom()
	r := rand.New(rand.NewPCG(1, 2))
	added := make([]int64, 5*filterFirstStage)
	for i := range added {
		added[i] = int64(r.Uint64())
	}
	for _, h := range added {
		b.add(h)
	}
	if n := len(*b.stages.Load()); n < 3 {
		t.Errorf("%d keys in %d stages, want the filter to have grown", len(added), n)
	}
	if got := b.keys.Load(); got != int64(len(added)) {
		t.Errorf("keys = %d, want %d", got, len(added))
	}
	for _, h := range added {
		if !b.mayContain(h) {
			t.Fatalf("added hash %d not found", h)
		}
	}
	const others = 100000
	fp := 0
	for range others {
		if b.mayContain(int64(r.Uint64())) {
			fp++
		}
	}
	// About 1% per stage; three stages.
	if rate := float64(fp) / others; rate > 0.04 {
		t.Errorf("false positive rate %.3f, want under 0.04", rate)
	}
}

// TestKeyFilterDuringBuild: a filter being built receives the writer's
// keys as well as the current one, and replaces it when the build ends;
// an invalidation during a build discards it.
func TestKeyFilterDuringBuild(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	f := &s.keyFilter
	if _, used := f.filter([]int64{1}); used {
		t.Fatal("a new filter was used")
	}
	if !f.startBuild() {
		t.Fatal("a new filter is not due to be built")
	}
	if f.startBuild() {
		t.Fatal("a second build started while one runs")
	}
	f.committed([]storyKey{{hash: 42}})
	if err := s.buildKeyFilter(ctx); err != nil {
		t.Fatal(err)
	}
	kept, used := f.filter([]int64{42, 43})
	if !used || len(kept) != 1 || kept[0] != 42 {
		t.Errorf("after the build: kept %v, used %v; want [42], used", kept, used)
	}
	if f.startBuild() {
		t.Error("a build started with the filter ready")
	}

	f.invalidate()
	if !f.startBuild() {
		t.Fatal("no build after an invalidation")
	}
	f.invalidate() // another process wrote while it ran
	if err := s.buildKeyFilter(ctx); err != nil {
		t.Fatal(err)
	}
	if _, used := f.filter([]int64{42}); used {
		t.Error("a build invalidated while it ran was used")
	}
}

// TestKeyFilterJoinsStories ingests a story with the filter in use: the
// second source's item joins it, keys the database lacks are not looked
// up, and keys of items pruned away leave the filter once they are half
// of it.
func TestKeyFilterJoinsStories(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := t0.Add(time.Minute)
	first := storyFetch("first", now)
	first.pre = s.prepare(ctx, &first.u)
	s.runBatch([]*saveReq{first})
	if got := s.keyFilter.builds.Load(); got != 1 {
		t.Fatalf("%d filter builds after the first fetch, want 1", got)
	}
	flood, other := storyKeyHash("p:flood"), storyKeyHash("p:nothing like it")
	if kept, used := s.keyFilter.filter([]int64{flood, other}); !used || len(kept) != 1 || kept[0] != flood {
		t.Errorf("filter kept %v (used %v), want only the stored key", kept, used)
	}
	late := storyFetch("late", now)
	late.pre = s.prepare(ctx, &late.u)
	s.runBatch([]*saveReq{late})
	if first.err != nil || late.err != nil {
		t.Fatalf("errors: %v, %v", first.err, late.err)
	}
	if late.res.Duplicate != 1 {
		t.Errorf("late fetch: %s, want its item to join the first's story", counts(late.res))
	}

	// Both items fall out of the dedup window; their keys go.
	res, err := s.Prune(ctx, PrunePolicy{DedupWindow: time.Hour, Now: now.Add(2 * time.Hour)})
	if err != nil || res.StoryKeys != 2 {
		t.Fatalf("Prune: %+v, %v; want 2 story keys dropped", res, err)
	}
	next := storyFetch("next", now.Add(2*time.Hour))
	next.u.Items[0].StoryKeys = []string{"p:next"}
	next.pre = s.prepare(ctx, &next.u)
	if got := s.keyFilter.builds.Load(); got != 2 {
		t.Fatalf("%d filter builds after a prune of every key, want 2", got)
	}
	if kept, _ := s.keyFilter.filter([]int64{flood}); len(kept) != 0 {
		t.Error("the rebuilt filter still holds a pruned key")
	}
}

// TestKeyFilterAfterForeignWrite: another process commits a story after
// the filter was built, before this Store's writer wrote anything. The
// filter lacks the story's keys; the writer must notice the foreign
// commit and look every key up, and the next prepare must rebuild the
// filter with the new keys.
func TestKeyFilterAfterForeignWrite(t *testing.T) {
	ctx := context.Background()
	a, b := openShared(t)
	now := t0.Add(time.Minute)
	warm := storyFetch("warm", now)
	warm.u.Items[0].StoryKeys = []string{"p:unrelated"}
	a.prepare(ctx, &warm.u) // builds a's filter; a writes nothing
	if got := a.keyFilter.builds.Load(); got != 1 {
		t.Fatalf("%d filter builds, want 1", got)
	}
	first := storyFetch("first", now)
	first.pre = b.prepare(ctx, &first.u)
	b.runBatch([]*saveReq{first})
	if kept, used := a.keyFilter.filter([]int64{storyKeyHash("p:flood")}); !used || len(kept) != 0 {
		t.Fatalf("a's filter kept %v (used %v) after the other store wrote, want it used and lacking the story", kept, used)
	}
	late := storyFetch("late", now)
	late.pre = a.prepare(ctx, &late.u)
	a.runBatch([]*saveReq{late})
	if first.err != nil || late.err != nil {
		t.Fatalf("errors: %v, %v", first.err, late.err)
	}
	if late.res.Duplicate != 1 {
		t.Errorf("late fetch: %s, want its item to join the story the other store wrote", counts(late.res))
	}
	again := storyFetch("again", now)
	again.pre = a.prepare(ctx, &again.u)
	if got := a.keyFilter.builds.Load(); got != 2 {
		t.Errorf("%d filter builds after the foreign write, want 2", got)
	}
	if kept, used := a.keyFilter.filter([]int64{storyKeyHash("p:flood")}); !used || len(kept) != 1 {
		t.Errorf("the rebuilt filter kept %v (used %v), want the other store's story key", kept, used)
	}
}

func BenchmarkBloomMayContain(b *testing.B) {
	f := newBloom()
	for i := range 1 << 20 {
		f.add(int64(uint64(i) * 0x9e3779b97f4a7c15))
	}
	i := int64(0)
	for b.Loop() {
		i++
		f.mayContain(i * 0x5851f42d4c957f2d)
	}
	b.ReportMetric(float64(len(*f.stages.Load())), "stages")
}

// TestKeyWants: a key hash remembers every distinct sketch of the new
// items that carry it, a canonical-URL key lets every candidate through,
// a hash no new item carries lets none through, and only keeps the
// wants of the hashes it is given.
func TestKeyWants(t *testing.T) {
	hash := func(k string) int64 { return int64(len(k)) }
	same := func(candidate, item int64) bool { return candidate == item }
	w := newKeyWants(3)
	w.add(&model.Item{StoryKeys: []string{"p:aa", ""}, TitleSketch: 5}, hash)
	w.add(&model.Item{StoryKeys: []string{"p:bb"}, TitleSketch: 7}, hash) // same hash, another sketch
	w.add(&model.Item{StoryKeys: []string{"p:cc"}, TitleSketch: 7}, hash) // a sketch already there
	w.add(&model.Item{StoryKeys: []string{"u:https://x"}, TitleSketch: 9}, hash)
	if got := w[4]; got.first != 5 || !slices.Equal(got.more, []int64{7}) {
		t.Errorf("sketches of hash 4 = %+v, want 5 then [7]", got)
	}
	for _, tc := range []struct {
		hash, sketch int64
		want         bool
	}{
		{4, 5, true},
		{4, 7, true},
		{4, 6, false},
		{4, 0, true}, // a candidate without a sketch is always read
		{11, 123, true},
		{99, 5, false},
	} {
		if got := w.worth(tc.hash, tc.sketch, same); got != tc.want {
			t.Errorf("worth(%d, %d) = %v, want %v", tc.hash, tc.sketch, got, tc.want)
		}
	}
	o := w.only([]int64{11})
	if o.worth(4, 5, same) || !o.worth(11, 1, same) || !w.worth(4, 5, same) {
		t.Error("only did not leave out hash 4 alone, or changed w")
	}
}
