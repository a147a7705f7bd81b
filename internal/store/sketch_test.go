package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/dedup"
	"github.com/syndic-dev/syndic/internal/model"
)

// sketchedItem is newItem with the story keys and title sketch the
// parser gives it.
func sketchedItem(source, key, title, canonical string) model.Item {
	it := newItem(source, key, title, t0)
	it.CanonicalURL = canonical
	it.StoryKeys = dedup.StoryKeys(title, "", canonical)
	it.TitleSketch = dedup.TitleSketch(title)
	return it
}

// askLog records the candidates SameStory was asked about.
type askLog struct {
	mu    sync.Mutex
	asked map[[2]string]int // by candidate item id and item title
}

func (l *askLog) sameStory(cand, it *model.Item) bool {
	l.mu.Lock()
	l.asked[[2]string{cand.ID, it.Title}]++
	l.mu.Unlock()
	return dedup.SameStory(
		dedup.Doc{Title: cand.Title, CanonicalURL: cand.CanonicalURL},
		dedup.Doc{Title: it.Title, CanonicalURL: it.CanonicalURL})
}

// TestTitleSketchSkipsCandidates checks that a candidate whose title
// sketch rules it out is neither read nor asked about, whether or not
// prepare ran, while one a word apart and one of the same canonical URL
// still join the story.
func TestTitleSketchSkipsCandidates(t *testing.T) {
	const (
		original  = "Council members approve new transit plan in the city center after 3-hour meeting"
		formulaic = "Port workers question costly bike lanes in the city center after 3-hour meeting"
		edited    = "Council members approve new transit plan in the city centre after 3-hour meeting"
		other     = "Harbor police investigate overnight break-in at the maritime museum"
	)
	if !shareKey(original, formulaic) || !shareKey(original, edited) {
		t.Fatal("the titles no longer share a story key; pick others")
	}
	for _, viaPrepare := range []bool{true, false} {
		s := openStore(t)
		a := sketchedItem("a", "1", original, "https://news.example/transit")
		mustSave(t, s, update("a", t0, a))

		log := &askLog{asked: map[[2]string]int{}}
		items := []model.Item{
			sketchedItem("b", "1", formulaic, "https://b.example/1"),
			sketchedItem("b", "2", edited, "https://b.example/2"),
			sketchedItem("b", "3", other, "https://news.example/transit"),
		}
		u := update("b", t0.Add(time.Minute), items...)
		u.SameStory, u.MaySameStory = log.sameStory, dedup.MaySameStory
		var res model.SaveResult
		if viaPrepare {
			res = mustSave(t, s, u)
		} else {
			// Nothing prepared: the writer hashes the keys itself.
			r := &saveReq{ctx: context.Background(), u: u, pre: &prepared{}, done: make(chan struct{})}
			s.runBatch([]*saveReq{r})
			if r.err != nil {
				t.Fatal(r.err)
			}
			res = r.res
		}
		if res.Duplicate != 2 {
			t.Errorf("prepare %v: %s, want the edited title and the same URL to join a's story", viaPrepare, counts(res))
		}
		for i, want := range []string{"", a.ID, a.ID} {
			if got := mustItem(t, s, items[i].ID).StoryID; got != want && !(want == "" && got == items[i].ID) {
				t.Errorf("prepare %v: %q joined story %q, want %q", viaPrepare, items[i].Title, got, want)
			}
		}
		for _, title := range []string{edited, other} {
			if log.asked[[2]string{a.ID, title}] == 0 {
				t.Errorf("prepare %v: SameStory never asked about a's item for %q", viaPrepare, title)
			}
		}
		if n := log.asked[[2]string{a.ID, formulaic}]; n != 0 {
			t.Errorf("prepare %v: SameStory asked about a's item for the formulaic title %d times, want never", viaPrepare, n)
		}
	}
}

func shareKey(a, b string) bool {
	ka := dedup.StoryKeys(a, "", "")
	for _, k := range dedup.StoryKeys(b, "", "") {
		for _, x := range ka {
			if k == x {
				return true
			}
		}
	}
	return false
}

// TestEditedHeadlineFindsStory: a headline rewritten by a later fetch is
// filed under its new story keys too, so that another source's item with
// the new headline joins the story.
func TestEditedHeadlineFindsStory(t *testing.T) {
	const (
		first  = "Storm warning issued for the northern coast tonight"
		edited = "Harbor closes as gale batters fishing fleet overnight"
	)
	if shareKey(first, edited) {
		t.Fatal("the headlines share a story key; pick others")
	}
	s := openStore(t)
	a := sketchedItem("a", "1", first, "https://a.example/1")
	mustSave(t, s, update("a", t0, a))
	a2 := sketchedItem("a", "1", edited, "https://a.example/1")
	rehash(&a2)
	if res := mustSave(t, s, update("a", t0.Add(time.Hour), a2)); res.Updated != 1 {
		t.Fatalf("edit: %s, want 1 updated", counts(res))
	}
	b := sketchedItem("b", "1", edited, "https://b.example/1")
	u := update("b", t0.Add(2*time.Hour), b)
	u.SameStory, u.MaySameStory = (&askLog{asked: map[[2]string]int{}}).sameStory, dedup.MaySameStory
	if res := mustSave(t, s, u); res.Duplicate != 1 {
		t.Errorf("item with the edited headline: %s, want it to join a's story", counts(res))
	}
	if got := mustItem(t, s, b.ID).StoryID; got != a.ID {
		t.Errorf("b joined story %q, want %q", got, a.ID)
	}
}
