package publish

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// gatedStore is a fakeStore whose selections can be held at a gate, so
// that a test decides when a rebuild ends, and can be made to fail.
type gatedStore struct {
	*fakeStore
	selections atomic.Int64
	mu         sync.Mutex
	gate       chan struct{} // when set, selections wait for it to close
	entered    chan struct{} // told when a selection reaches the gate
	err        error         // when set, selections fail with it
}

func newGatedStore(items ...model.Item) *gatedStore {
	return &gatedStore{fakeStore: newFakeStore(items...), entered: make(chan struct{}, 16)}
}

func (g *gatedStore) ItemHeads(ctx context.Context, q model.ItemQuery, text bool) ([]model.ItemHead, error) {
	if err := g.pass(ctx); err != nil {
		return nil, err
	}
	return g.fakeStore.ItemHeads(ctx, q, text)
}

func (g *gatedStore) Selection(ctx context.Context, q model.ItemQuery, newest int) (model.Selection, error) {
	if err := g.pass(ctx); err != nil {
		return model.Selection{}, err
	}
	return g.fakeStore.Selection(ctx, q, newest)
}

// pass counts a selection and holds it at the gate, if any.
func (g *gatedStore) pass(ctx context.Context) error {
	g.selections.Add(1)
	g.mu.Lock()
	gate, err := g.gate, g.err
	g.mu.Unlock()
	if gate != nil {
		g.entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// hold makes the next selections wait until the returned func is called.
func (g *gatedStore) hold() (release func()) {
	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.gate = nil
		g.mu.Unlock()
		close(gate)
	}
}

func (g *gatedStore) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.err = err
}

// swrPublisher is a Publisher with stale answers on, whose requests stop
// waiting for a rebuild only when the test sends on the returned channel.
func swrPublisher(t *testing.T, st Store) (*Publisher, chan<- time.Time) {
	t.Helper()
	p := New(st, Options{BaseURL: testBase, Now: fixedNow, Logger: discardLogger()})
	timeout := make(chan time.Time)
	p.timer = func(time.Duration) (<-chan time.Time, func() bool) { return timeout, func() bool { return true } }
	out := testOutput("o", model.OutputModeHeadlines)
	out.Limit = 2
	p.SetConfig([]model.Output{out}, testSources())
	t.Cleanup(p.Close)
	return p, timeout
}

// renderAsync renders in a goroutine the test waits for through the
// returned channel.
func renderAsync(p *Publisher, format string, page int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := p.Render(context.Background(), "o", format, page)
		ch <- result{r, err}
	}()
	return ch
}

// wantRender fails unless res is r, without error, with validators that
// match its body.
func wantRender(t *testing.T, what string, res result, r *Rendered) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("%s: %v", what, res.err)
	}
	if res.r != r {
		t.Errorf("%s: got the render with ETag %s, want %s", what, res.r.ETag, r.ETag)
	}
	if res.r.ETag != `"`+etagOf(res.r.Body)+`"` {
		t.Errorf("%s: ETag %s does not match the body", what, res.r.ETag)
	}
}

// TestStaleWhileRevalidate: while an output is rebuilt, a request that
// arrives gets the previous render at once, the request that started the
// rebuild gets it when its wait ends, and the rebuild's result is served
// once it is done.
func TestStaleWhileRevalidate(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, timeout := swrPublisher(t, st)
	old := render(t, p, "o", FormatAtom, 1)

	release := st.hold()
	st.add(item("alpha", "new", "Brand new", 0))
	p.Invalidate("alpha")
	starter := renderAsync(p, FormatAtom, 1)
	<-st.entered // the rebuild is reading the store

	r, err := p.Render(context.Background(), "o", FormatAtom, 1)
	wantRender(t, "request during the rebuild", result{r, err}, old)
	timeout <- testNow
	wantRender(t, "request that started the rebuild, after its wait", <-starter, old)

	release()
	p.rebuilds.Wait()
	fresh := render(t, p, "o", FormatAtom, 1)
	if fresh == old || fresh.ETag == old.ETag {
		t.Fatal("the rebuild's render is not served")
	}
	if got := st.selections.Load(); got != 2 {
		t.Errorf("%d selections, want 2 (first render, one rebuild)", got)
	}
}

// TestRevalidateStarterGetsFresh: the request that starts a rebuild gets
// its result when it ends within the wait.
func TestRevalidateStarterGetsFresh(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, _ := swrPublisher(t, st)
	old := render(t, p, "o", FormatJSON, 1)
	st.add(item("alpha", "new", "Brand new", 0))
	p.Invalidate("alpha")
	r := render(t, p, "o", FormatJSON, 1)
	if r == old || r.ETag == old.ETag {
		t.Error("the request that started the rebuild got the stale render")
	}
	if again := render(t, p, "o", FormatJSON, 1); again != r {
		t.Error("the rebuild's render is not cached")
	}
}

// TestRevalidateCoalesces: any number of invalidations during a rebuild
// cost one further rebuild.
func TestRevalidateCoalesces(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, timeout := swrPublisher(t, st)
	old := render(t, p, "o", FormatRSS, 1)

	release := st.hold()
	p.Invalidate("alpha")
	starter := renderAsync(p, FormatRSS, 1)
	<-st.entered
	for i := range 10 {
		st.add(item("beta", "n"+itoa(i), "New "+itoa(i), 0))
		p.Invalidate("beta")
		r, err := p.Render(context.Background(), "o", FormatRSS, 1)
		wantRender(t, "request during the rebuild", result{r, err}, old)
	}
	timeout <- testNow
	<-starter
	release()
	p.rebuilds.Wait()
	if got := st.selections.Load(); got != 3 {
		t.Errorf("%d selections, want 3 (first render, the rebuild, one more for 10 invalidations)", got)
	}
	r := render(t, p, "o", FormatRSS, 1)
	if got := st.selections.Load(); got != 3 {
		t.Errorf("the request after the rebuilds selected again (%d selections)", got)
	}
	if r.Pages != 7 { // 3 stories + 10 new, 2 per page
		t.Errorf("after the rebuilds: %d pages, want 7", r.Pages)
	}
}

// TestRevalidateError: a failed rebuild leaves the previous render served.
func TestRevalidateError(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, _ := swrPublisher(t, st)
	old := render(t, p, "o", FormatAtom, 1)
	st.fail(errors.New("disk on fire"))
	p.Invalidate("alpha")
	r, err := p.Render(context.Background(), "o", FormatAtom, 1)
	wantRender(t, "request while rebuilds fail", result{r, err}, old)
	p.rebuilds.Wait()

	st.fail(nil)
	if r := render(t, p, "o", FormatAtom, 1); r == old {
		t.Error("the previous render is still served after the store recovered")
	}
}

// TestRevalidateNoSuchPage: a page the output no longer has is not served
// stale.
func TestRevalidateNoSuchPage(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, _ := swrPublisher(t, st)
	render(t, p, "o", FormatAtom, 2)
	st.mu.Lock()
	for i := range st.items {
		st.items[i].Hidden = st.items[i].SourceID == "alpha"
	}
	st.mu.Unlock()
	p.Invalidate("alpha")
	for range 2 {
		if _, err := p.Render(context.Background(), "o", FormatAtom, 2); !errors.Is(err, ErrNoSuchPage) {
			t.Errorf("page 2 after the output shrank: %v, want ErrNoSuchPage", err)
		}
	}
}

// TestRevalidateHTTP: a stale answer carries the validators of its own
// body, so a client holding them gets 304.
func TestRevalidateHTTP(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, timeout := swrPublisher(t, st)
	old := render(t, p, "o", FormatAtom, 1)
	release := st.hold()
	p.Invalidate("alpha")
	starter := renderAsync(p, FormatAtom, 1)
	<-st.entered

	h := p.FeedHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/feeds/o.atom", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") != old.ETag || rec.Body.String() != string(old.Body) {
		t.Errorf("GET during the rebuild: %d, ETag %s, want 200 with the previous render (ETag %s)", rec.Code, rec.Header().Get("ETag"), old.ETag)
	}
	req := httptest.NewRequest(http.MethodGet, "/feeds/o.atom", nil)
	req.Header.Set("If-None-Match", old.ETag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the previous ETag during the rebuild: %d, want 304", rec.Code)
	}
	timeout <- testNow
	<-starter
	release()
}

// TestCloseEndsRebuilds: Close cancels a rebuild stuck in the store and
// waits for it; later requests are built in the request.
func TestCloseEndsRebuilds(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, _ := swrPublisher(t, st)
	old := render(t, p, "o", FormatAtom, 1)
	release := st.hold()
	st.add(item("alpha", "new", "Brand new", 0))
	p.Invalidate("alpha")
	starter := renderAsync(p, FormatAtom, 1)
	<-st.entered
	p.Close()
	wantRender(t, "request whose rebuild was cancelled", <-starter, old)

	release()
	if r := render(t, p, "o", FormatAtom, 1); r == old {
		t.Error("a request after Close got the previous render")
	}
}

// TestRevalidateConcurrent: readers racing with invalidations always get
// a render whose validators match its body, and once changes stop a
// request sees all of them.
func TestRevalidateConcurrent(t *testing.T) {
	st := newGatedStore(fixtureItems()...)
	p, _ := swrPublisher(t, st)
	render(t, p, "o", FormatAtom, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				r, err := p.Render(context.Background(), "o", FormatAtom, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if r.ETag != `"`+etagOf(r.Body)+`"` {
					t.Error("ETag does not match the body")
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			st.add(item("gamma", "c"+itoa(i), "Concurrent "+itoa(i), 0))
			p.Invalidate("gamma")
		}
	})
	wg.Wait()
	p.rebuilds.Wait()
	if r := render(t, p, "o", FormatAtom, 1); r.Pages != 12 { // 3 stories + 20 new, 2 per page
		t.Errorf("after the changes: %d pages, want 12", r.Pages)
	}
}
