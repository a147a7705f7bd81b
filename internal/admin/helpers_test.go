package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

const testToken = "s3cret-admin-token-value"

// clock is an injectable time that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeStore is an in-memory Store that orders and filters like the real
// one (newest first by Published, ties by ID descending).
type fakeStore struct {
	mu     sync.Mutex
	items  map[string]model.Item
	states []model.SourceState
	err    error // returned by every method when set
}

func newFakeStore(items ...model.Item) *fakeStore {
	f := &fakeStore{items: make(map[string]model.Item)}
	for _, it := range items {
		f.items[it.ID] = it
	}
	return f
}

func (f *fakeStore) SourceStates(ctx context.Context) ([]model.SourceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return slices.Clone(f.states), nil
}

func (f *fakeStore) Items(ctx context.Context, q model.ItemQuery) ([]model.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if strings.Contains(q.Search, "(") {
		return nil, fmt.Errorf("query items: %w %q: fts5: syntax error near \"(\"", store.ErrInvalidSearch, q.Search)
	}
	var out []model.Item
	for _, it := range f.items {
		switch {
		case it.Hidden && !q.IncludeHidden,
			q.FeaturedOnly && !it.Featured,
			len(q.SourceIDs) > 0 && !slices.Contains(q.SourceIDs, it.SourceID),
			q.Search != "" && !strings.Contains(it.Title, q.Search),
			q.Before != nil && !before(it, *q.Before):
			continue
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b model.Item) int {
		if c := b.Published.Compare(a.Published); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// before reports whether it sorts strictly after c in newest-first order.
func before(it model.Item, c model.Cursor) bool {
	p, cp := it.Published.UnixMilli(), c.Published.UnixMilli()
	return p < cp || (p == cp && it.ID < c.ID)
}

func (f *fakeStore) Item(ctx context.Context, id string) (model.Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return model.Item{}, f.err
	}
	it, ok := f.items[id]
	if !ok {
		return model.Item{}, fmt.Errorf("item %q: %w", id, store.ErrNotFound)
	}
	return it, nil
}

func (f *fakeStore) SetFeatured(ctx context.Context, id string, on bool, now time.Time) error {
	return f.set(id, func(it *model.Item) { it.Featured = on }, now)
}

func (f *fakeStore) SetHidden(ctx context.Context, id string, on bool, now time.Time) error {
	return f.set(id, func(it *model.Item) { it.Hidden = on }, now)
}

func (f *fakeStore) set(id string, fn func(*model.Item), now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	it, ok := f.items[id]
	if !ok {
		return fmt.Errorf("set flag of item %q: %w", id, store.ErrNotFound)
	}
	fn(&it)
	it.Changed = now
	f.items[id] = it
	return nil
}

// testItem builds a stored item of source published at t.
func testItem(source, key string, t time.Time) model.Item {
	return model.Item{
		ID:         model.ItemID(source, "guid:"+key),
		SourceID:   source,
		Key:        "guid:" + key,
		GUID:       key,
		Link:       "https://" + source + ".example/" + key,
		Title:      "Title " + key,
		Summary:    "Summary of " + key,
		Author:     "Ann Author",
		Categories: []string{"world"},
		Published:  t,
		Updated:    t,
		FirstSeen:  t,
		StoryID:    model.ItemID(source, "guid:"+key),
	}
}

// logBuffer collects every log line (debug included) for inspection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// request is one call to the API.
type request struct {
	method, path string
	token        string // "" sends no Authorization header
	remote       string // default 192.0.2.1:1234
	forwarded    string // X-Forwarded-For, when set
	body         string
}

// serve runs req against h and checks what every response must carry.
func serve(t *testing.T, h http.Handler, req request) *httptest.ResponseRecorder {
	t.Helper()
	if req.method == "" {
		req.method = http.MethodGet
	}
	var body *strings.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(req.method, req.path, body)
	} else {
		r = httptest.NewRequest(req.method, req.path, nil)
	}
	r.RemoteAddr = "192.0.2.1:1234"
	if req.remote != "" {
		r.RemoteAddr = req.remote
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	if req.forwarded != "" {
		r.Header.Set("X-Forwarded-For", req.forwarded)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got, want := w.Header().Get("Content-Type"), "application/json"; got != want {
		t.Errorf("%s %s: Content-Type = %q, want %q", req.method, req.path, got, want)
	}
	if got, want := w.Header().Get("Cache-Control"), "no-store"; got != want {
		t.Errorf("%s %s: Cache-Control = %q, want %q", req.method, req.path, got, want)
	}
	return w
}

// apiError decodes an error body and fails unless it is one.
func apiError(t *testing.T, w *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("decode error body %q: %v", w.Body.String(), err)
	}
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Errorf("error body %q lacks code or message", w.Body.String())
	}
	return b.Error
}

// wantError checks status and error code.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) errorDetail {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d (body %s)", w.Code, status, w.Body.String())
	}
	e := apiError(t, w)
	if e.Code != code {
		t.Errorf("error code = %q, want %q (message %q)", e.Code, code, e.Message)
	}
	return e
}

// decode decodes a success body into v.
func decode(t *testing.T, w *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", w.Code, status, w.Body.String())
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
}

func newRecorder(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
