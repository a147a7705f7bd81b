package publish

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// headStore serves a fixed set of items without the work of a fake
// query, so that a benchmark measures publishing alone.
type headStore struct {
	*fakeStore
	heads []model.ItemHead // every item, newest first
	byID  map[string]model.Item
}

func (s *headStore) ItemHeads(ctx context.Context, q model.ItemQuery, text bool) ([]model.ItemHead, error) {
	heads := slices.Clone(s.heads) // the selection filters in place
	if text {
		for i := range heads {
			it := s.byID[heads[i].ID]
			heads[i].Title, heads[i].Summary = it.Title, it.Summary
		}
	}
	return heads, nil
}

func (s *headStore) Selection(ctx context.Context, q model.ItemQuery, newest int) (model.Selection, error) {
	return selectionOf(s.heads, newest), nil
}

func (s *headStore) ItemsByID(ctx context.Context, ids []string) (map[string]model.Item, error) {
	out := make(map[string]model.Item, len(ids))
	for _, id := range ids {
		out[id] = s.byID[id]
	}
	return out, nil
}

// BenchmarkRebuild measures what an invalidation costs the next request of
// an output of 25,000 items (500 sources of 50, one item in 50 joining
// another's story): the selection and the render of its first Atom page, in a
// store that costs nothing. Without patterns the store counts the items and
// returns the newest (its cost is BenchmarkSelection in internal/store);
// with them, publishing filters every item (BenchmarkItemHeads).
func BenchmarkRebuild(b *testing.B) {
	st := &headStore{fakeStore: newFakeStore(), byID: map[string]model.Item{}}
	var sources []model.SourceInfo
	var ids []string
	for s := range 500 {
		src := "s" + itoa(s)
		sources = append(sources, model.SourceInfo{ID: src, Title: "Source " + itoa(s)})
		ids = append(ids, src)
		for i := range 50 {
			it := item(src, "k"+itoa(i), "Item "+itoa(i)+" of "+src, s*50+i)
			it.Published = it.Published.Add(time.Duration(s) * time.Second)
			it.ContentHTML = "<p>Body of " + it.Title + "</p>"
			if i%100 == 1 {
				it.StoryID = item(src, "k"+itoa(i-1), "", 0).ID
			}
			st.byID[it.ID] = it
			st.heads = append(st.heads, model.ItemHead{
				ID: it.ID, SourceID: it.SourceID, StoryID: it.StoryID,
				Published: it.Published, FirstSeen: it.FirstSeen, Changed: it.Changed,
			})
		}
	}
	shared := map[string]bool{}
	for _, h := range st.heads {
		if h.StoryID != h.ID {
			shared[h.StoryID] = true
		}
	}
	for i := range st.heads {
		st.heads[i].Shared = shared[st.heads[i].StoryID]
	}
	slices.SortFunc(st.heads, func(a, b model.ItemHead) int {
		if c := b.Published.Compare(a.Published); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	for _, tt := range []struct {
		name    string
		include []string
	}{
		{"newest", nil},
		{"patterns", []string{"Item"}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			out := testOutput("all", model.OutputModeHeadlines)
			out.SourceIDs = ids
			out.Include = mustRe(b, tt.include...)
			p := newTestPublisher(b, st, []model.Output{out}, sources)
			for b.Loop() {
				p.Invalidate("s0")
				render(b, p, "all", FormatAtom, 1)
			}
		})
	}
}

// BenchmarkServeFeed measures the handler's own work on a cached render:
// a GET that gets the gzip variant, and a revalidation answered 304.
func BenchmarkServeFeed(b *testing.B) {
	var items []model.Item
	for i := range 50 {
		items = append(items, item("alpha", fmt.Sprint("k", i), fmt.Sprint("Headline number ", i), i))
	}
	p := newTestPublisher(b, newFakeStore(items...), []model.Output{{ID: "all", Title: "All", Limit: 50}}, testSources())
	h := p.FeedHandler()
	get := httptest.NewRequest(http.MethodGet, "/feeds/all.atom", nil)
	get.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET: %d", rec.Code)
	}
	cond := httptest.NewRequest(http.MethodGet, "/feeds/all.atom", nil)
	cond.Header.Set("Accept-Encoding", "gzip")
	cond.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	for _, c := range []struct {
		name string
		req  *http.Request
		want int
	}{{"200", get, http.StatusOK}, {"304", cond, http.StatusNotModified}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, c.req)
				if w.code != c.want {
					b.Fatalf("status %d, want %d", w.code, c.want)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *discardWriter) WriteHeader(code int) { w.code = code }
