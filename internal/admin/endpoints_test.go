package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

func TestRouting(t *testing.T) {
	h, _, _ := newTestAPI(t, Deps{})
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		allow  string
	}{
		{"unknown path", request{path: "/api/nope"}, http.StatusNotFound, "not_found", ""},
		{"api root", request{path: "/api/"}, http.StatusNotFound, "not_found", ""},
		{"trailing slash", request{path: "/api/sources/"}, http.StatusNotFound, "not_found", ""},
		{"unknown item action", request{method: http.MethodPost, path: "/api/items/a:0123456789abcdef/star"}, http.StatusNotFound, "not_found", ""},
		{"unknown source action", request{method: http.MethodPost, path: "/api/sources/a/delete"}, http.StatusNotFound, "not_found", ""},
		{"delete sources", request{method: http.MethodDelete, path: "/api/sources"}, http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"post items", request{method: http.MethodPost, path: "/api/items"}, http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
		{"get feature", request{path: "/api/items/a:0123456789abcdef/feature"}, http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"get refresh", request{path: "/api/sources/a/refresh"}, http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"get reload", request{path: "/api/reload"}, http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"body too large", request{method: http.MethodPost, path: "/api/reload", body: strings.Repeat("x", maxBody+1)}, http.StatusRequestEntityTooLarge, "too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.token = testToken
			w := serve(t, h, tt.req)
			wantError(t, w, tt.status, tt.code)
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	h, _, logs := newTestAPI(t, Deps{})
	serve(t, h, request{path: "/api/items?q=needle", token: testToken})
	log := logs.String()
	for _, want := range []string{"level=DEBUG", "method=GET", "path=/api/items", "status=200", "duration_ms="} {
		if !strings.Contains(log, want) {
			t.Errorf("request log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "needle") {
		t.Errorf("request log holds the query string:\n%s", log)
	}
}

func TestSources(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	fs := newFakeStore()
	fs.states = []model.SourceState{
		{SourceID: "alpha", URL: "https://alpha.example/feed", FeedTitle: "Alpha Feed", Status: model.StatusOK,
			LastFetch: t0, LastSuccess: t0, Items: 3, NextFetch: t0.Add(time.Hour), NextFetchReason: model.DeferCacheControl},
		{SourceID: "beta", URL: "https://bob:hunter2@beta.example/feed", Status: model.StatusError,
			ErrorClass: model.ErrClassHTTP, Error: `get "https://bob:hunter2@beta.example/feed": status 500`,
			ConsecutiveErrors: 4, LastFetch: t0, RedirectURL: "https://bob:hunter2@beta.example/new",
			Alternates: []string{"https://bob:hunter2@beta.example/alt"}},
		{SourceID: "gone", URL: "https://gone.example/feed", Status: model.StatusNotModified, Orphaned: true, Items: 7},
	}
	fire := t0.Add(30 * time.Minute)
	h, _, _ := newTestAPI(t, Deps{
		Store: fs,
		Sources: func() []SourceConfig {
			return []SourceConfig{
				{ID: "beta", URL: "https://bob:hunter2@beta.example/feed", Title: "Beta", Enabled: true, Schedule: "@every 1h", Tags: []string{"x"}},
				{ID: "new", URL: "https://new.example/feed", Enabled: true, Schedule: "*/30 * * * *"},
				{ID: "alpha", URL: "https://alpha.example/feed", Enabled: false, Schedule: "*/30 * * * *"},
			}
		},
		NextFire: func(id string) (time.Time, bool) { return fire, id != "new" },
	})
	w := serve(t, h, request{path: "/api/sources", token: testToken})
	if strings.Contains(w.Body.String(), "hunter2") {
		t.Errorf("response reveals a URL password: %s", w.Body.String())
	}
	var got []sourceJSON
	decode(t, w, http.StatusOK, &got)
	var order []string
	for _, s := range got {
		order = append(order, s.ID)
	}
	if want := []string{"beta", "new", "alpha", "gone"}; !slices.Equal(order, want) {
		t.Fatalf("order = %v, want %v (config order, then orphans)", order, want)
	}
	beta, news, alpha, gone := got[0], got[1], got[2], got[3]
	checks := []struct {
		name      string
		got, want any
	}{
		{"beta.title", beta.Title, "Beta"},
		{"beta.status", beta.Status, "error"},
		{"beta.state", beta.State, "error"},
		{"beta.error_class", beta.ErrorClass, model.ErrClassHTTP},
		{"beta.consecutive_errors", beta.ConsecutiveErrors, 4},
		{"beta.url", beta.URL, "https://bob:xxxxx@beta.example/feed"},
		{"beta.redirect_url", beta.RedirectURL, "https://bob:xxxxx@beta.example/new"},
		{"beta.alternates", strings.Join(beta.Alternates, ","), "https://bob:xxxxx@beta.example/alt"},
		{"beta.tags", strings.Join(beta.Tags, ","), "x"},
		{"beta.schedule", beta.Schedule, "@every 1h"},
		{"beta.next_fire", beta.NextFire != nil && beta.NextFire.Equal(fire), true},
		{"beta.last_success", beta.LastSuccess == nil, true},
		{"new.status", news.Status, "never"},
		{"new.state", news.State, "never"},
		{"new.title", news.Title, "new"},
		{"new.next_fire", news.NextFire == nil, true},
		{"new.last_fetch", news.LastFetch == nil, true},
		{"new.tags", news.Tags != nil, true},
		{"alpha.title", alpha.Title, "Alpha Feed"},
		{"alpha.enabled", alpha.Enabled, false},
		{"alpha.next_fire (disabled)", alpha.NextFire == nil, true},
		{"alpha.status", alpha.Status, "ok"},
		{"alpha.items", alpha.Items, 3},
		{"alpha.next_fetch", alpha.NextFetch != nil && alpha.NextFetch.Equal(t0.Add(time.Hour)), true},
		{"alpha.next_fetch_reason", alpha.NextFetchReason, model.DeferCacheControl},
		{"alpha.orphaned", alpha.Orphaned, false},
		{"gone.orphaned", gone.Orphaned, true},
		{"gone.state", gone.State, model.StatusNotModified},
		{"gone.status", gone.Status, "ok"},
		{"gone.items", gone.Items, 7},
		{"gone.enabled", gone.Enabled, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !strings.Contains(beta.Error, "status 500") || !strings.Contains(beta.Error, "xxxxx") {
		t.Errorf("beta.error = %q, want the redacted message", beta.Error)
	}
}

func TestSourcesStoreError(t *testing.T) {
	fs := newFakeStore()
	fs.err = errors.New("read source states: disk I/O error")
	h, _, logs := newTestAPI(t, Deps{Store: fs})
	w := serve(t, h, request{path: "/api/sources", token: testToken})
	wantError(t, w, http.StatusInternalServerError, "internal")
	if strings.Contains(w.Body.String(), "disk") {
		t.Errorf("500 body reveals the cause: %s", w.Body.String())
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("log lacks the cause:\n%s", logs.String())
	}
}

// pagedItems returns a store of n items over three sources, several with
// the same published time so that ties need the id.
func pagedItems(n int) []model.Item {
	t0 := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	var items []model.Item
	for i := range n {
		src := []string{"alpha", "beta", "gamma"}[i%3]
		it := testItem(src, fmt.Sprint("k", i), t0.Add(time.Duration(i/4)*time.Hour))
		items = append(items, it)
	}
	return items
}

func TestItemsFilters(t *testing.T) {
	items := pagedItems(12)
	items[0].Hidden = true
	fs := newFakeStore(items...)
	h, _, _ := newTestAPI(t, Deps{
		Store: fs,
		OutputSources: func(id string) ([]string, bool) {
			switch id {
			case "ab":
				return []string{"alpha", "beta"}, true
			case "empty":
				return nil, true
			}
			return nil, false
		},
	})
	tests := []struct {
		query   string
		count   int
		sources []string // every item's source is one of these; nil any
	}{
		{"", 12, nil},
		{"limit=5", 5, nil},
		{"limit=9999", 12, nil},
		{"source=alpha", 4, []string{"alpha"}},
		{"source=alpha,beta", 8, []string{"alpha", "beta"}},
		{"source=alpha&source=gamma", 8, []string{"alpha", "gamma"}},
		{"output=ab", 8, []string{"alpha", "beta"}},
		{"output=ab&source=beta", 4, []string{"beta"}},
		{"output=ab&source=gamma", 0, nil},
		{"output=empty", 0, nil},
		{"q=" + url.QueryEscape("Title k1"), 3, nil}, // k1, k10, k11
		{"source=nobody", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var page struct {
				Items      []itemJSON `json:"items"`
				NextBefore *string    `json:"next_before"`
			}
			w := serve(t, h, request{path: "/api/items?" + tt.query, token: testToken})
			if !strings.Contains(w.Body.String(), `"items":[`) {
				t.Errorf("items is not a JSON array: %s", w.Body.String())
			}
			decode(t, w, http.StatusOK, &page)
			if len(page.Items) != tt.count {
				t.Errorf("%d items, want %d", len(page.Items), tt.count)
			}
			for _, it := range page.Items {
				if tt.sources != nil && !slices.Contains(tt.sources, it.Source) {
					t.Errorf("item %s of source %s, want one of %v", it.ID, it.Source, tt.sources)
				}
			}
		})
	}

	// Hidden items are listed, marked.
	var page itemsPage
	decode(t, serve(t, h, request{path: "/api/items?limit=500", token: testToken}), http.StatusOK, &page)
	hidden := 0
	for _, it := range page.Items {
		if it.Hidden {
			hidden++
			if it.ID != items[0].ID {
				t.Errorf("item %s marked hidden", it.ID)
			}
		}
	}
	if hidden != 1 {
		t.Errorf("%d hidden items listed, want 1", hidden)
	}
	first := page.Items[0]
	if first.Published == nil || first.FirstSeen == nil || first.Story == "" || first.Author == "" ||
		len(first.Categories) != 1 || first.Summary == "" || first.Link == "" {
		t.Errorf("item lacks fields: %+v", first)
	}
}

func TestItemsErrors(t *testing.T) {
	h, _, _ := newTestAPI(t, Deps{Store: newFakeStore(pagedItems(3)...)})
	tests := []struct {
		query  string
		status int
		code   string
	}{
		{"limit=0", http.StatusBadRequest, "invalid_limit"},
		{"limit=-1", http.StatusBadRequest, "invalid_limit"},
		{"limit=ten", http.StatusBadRequest, "invalid_limit"},
		{"before=%21%21", http.StatusBadRequest, "invalid_cursor"},
		{"before=" + b64("123"), http.StatusBadRequest, "invalid_cursor"},
		{"before=" + b64("abc:alpha:0123456789abcdef"), http.StatusBadRequest, "invalid_cursor"},
		{"before=" + b64("123:not an id"), http.StatusBadRequest, "invalid_cursor"},
		{"q=" + url.QueryEscape(`title:(`), http.StatusBadRequest, "invalid_query"},
		{"output=nope", http.StatusNotFound, "unknown_output"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			wantError(t, serve(t, h, request{path: "/api/items?" + tt.query, token: testToken}), tt.status, tt.code)
		})
	}
	// Without OutputSources every output is unknown.
	wantError(t, serve(t, h, request{path: "/api/items?output=all", token: testToken}), http.StatusNotFound, "unknown_output")
}

func TestItemsPaging(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 7, 50} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			items := pagedItems(20)
			h, _, _ := newTestAPI(t, Deps{Store: newFakeStore(items...)})
			got := walkPages(t, h, fmt.Sprintf("/api/items?limit=%d", limit))
			if len(got) != len(items) {
				t.Fatalf("visited %d items, want %d", len(got), len(items))
			}
			seen := make(map[string]bool)
			for _, id := range got {
				if seen[id] {
					t.Errorf("item %s visited twice", id)
				}
				seen[id] = true
			}
		})
	}
}

// walkPages follows next_before from path and returns the ids in order.
func walkPages(t *testing.T, h http.Handler, path string) []string {
	t.Helper()
	var ids []string
	next := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		p := path
		if next != "" {
			p += "&before=" + url.QueryEscape(next)
		}
		var page itemsPage
		decode(t, serve(t, h, request{path: p, token: testToken}), http.StatusOK, &page)
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.NextBefore == nil {
			return ids
		}
		if len(page.Items) == 0 {
			t.Fatal("empty page with a next_before")
		}
		next = *page.NextBefore
	}
}

func TestCursorRoundTrip(t *testing.T) {
	tests := []model.Item{
		{ID: "a:0123456789abcdef", Published: time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)},
		{ID: "src_x-1:fedcba9876543210"},
	}
	for _, it := range tests {
		c, err := decodeCursor(encodeCursor(it))
		if err != nil {
			t.Fatalf("decodeCursor(encodeCursor(%v)): %v", it, err)
		}
		if c.ID != it.ID || !c.Published.Equal(it.Published) {
			t.Errorf("round trip of %v = %v", it, c)
		}
	}
}

func TestCurate(t *testing.T) {
	tests := []struct {
		action             string
		featured, hidden   bool
		startFeat, startHd bool
	}{
		{"feature", true, false, false, false},
		{"unfeature", false, false, true, false},
		{"hide", false, true, false, false},
		{"unhide", false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			it := testItem("alpha", "k1", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			it.Featured, it.Hidden = tt.startFeat, tt.startHd
			fs := newFakeStore(it)
			var mu sync.Mutex
			var invalidated []string
			h, clk, _ := newTestAPI(t, Deps{Store: fs, Invalidate: func(ids ...string) {
				mu.Lock()
				defer mu.Unlock()
				invalidated = append(invalidated, ids...)
			}})
			var got itemJSON
			decode(t, serve(t, h, request{method: http.MethodPost, path: "/api/items/" + it.ID + "/" + tt.action, token: testToken}), http.StatusOK, &got)
			if got.ID != it.ID || got.Featured != tt.featured || got.Hidden != tt.hidden {
				t.Errorf("response item = %+v, want featured %v hidden %v", got, tt.featured, tt.hidden)
			}
			stored, _ := fs.Item(context.Background(), it.ID)
			if stored.Featured != tt.featured || stored.Hidden != tt.hidden {
				t.Errorf("stored item featured %v hidden %v, want %v %v", stored.Featured, stored.Hidden, tt.featured, tt.hidden)
			}
			if !stored.Changed.Equal(clk.Now()) {
				t.Errorf("store got time %v, want the injected now %v", stored.Changed, clk.Now())
			}
			if !slices.Equal(invalidated, []string{"alpha"}) {
				t.Errorf("invalidated %v, want [alpha]", invalidated)
			}

			wantError(t, serve(t, h, request{method: http.MethodPost, path: "/api/items/alpha:00000000000000ff/" + tt.action, token: testToken}),
				http.StatusNotFound, "not_found")
			for _, bad := range []string{"alpha:123", "Alpha:0123456789abcdef", "alpha:0123456789ABCDEF", "alpha%3A0123456789abcdefa", "-a:0123456789abcdef"} {
				wantError(t, serve(t, h, request{method: http.MethodPost, path: "/api/items/" + bad + "/" + tt.action, token: testToken}),
					http.StatusBadRequest, "invalid_id")
			}
			if len(invalidated) != 1 {
				t.Errorf("failed requests invalidated: %v", invalidated)
			}
		})
	}
}

func TestCurateStoreError(t *testing.T) {
	fs := newFakeStore()
	fs.err = errors.New("database is locked")
	h, _, _ := newTestAPI(t, Deps{Store: fs})
	wantError(t, serve(t, h, request{method: http.MethodPost, path: "/api/items/a:0123456789abcdef/hide", token: testToken}),
		http.StatusInternalServerError, "internal")
}

func TestRefresh(t *testing.T) {
	now := newClock().Now()
	sources := func() []SourceConfig {
		return []SourceConfig{{ID: "on", Enabled: true}, {ID: "off", Enabled: false}}
	}
	tests := []struct {
		name       string
		id         string
		err        error
		nilRefresh bool
		status     int
		code       string // "" for success
		retryAfter string
	}{
		{name: "started", id: "on", status: http.StatusAccepted},
		{name: "fetch disabled", id: "on", nilRefresh: true, status: http.StatusServiceUnavailable, code: "fetch_disabled"},
		{name: "unknown", id: "nope", err: fmt.Errorf("trigger source %q: %w", "nope", ErrUnknownSource), status: http.StatusNotFound, code: "unknown_source"},
		{name: "disabled source", id: "off", err: fmt.Errorf("trigger: %w", ErrUnknownSource), status: http.StatusConflict, code: "source_disabled"},
		{name: "running", id: "on", err: fmt.Errorf("trigger: %w", ErrBusy), status: http.StatusConflict, code: "already_running"},
		{name: "deferred", id: "on", err: fmt.Errorf("trigger: %w", &DeferredError{Until: now.Add(90*time.Second + 300*time.Millisecond)}),
			status: http.StatusTooManyRequests, code: "deferred", retryAfter: "91"},
		{name: "deferred without time", id: "on", err: fmt.Errorf("trigger: %w", ErrDeferred), status: http.StatusTooManyRequests, code: "deferred"},
		{name: "no slot", id: "on", err: context.DeadlineExceeded, status: http.StatusServiceUnavailable, code: "no_slot", retryAfter: "30"},
		{name: "other", id: "on", err: errors.New("scheduler is shut down"), status: http.StatusInternalServerError, code: "internal"},
		{name: "invalid id", id: "Bad%20Id", status: http.StatusBadRequest, code: "invalid_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var called []string
			d := Deps{Sources: sources}
			if !tt.nilRefresh {
				d.Refresh = func(ctx context.Context, id string) error {
					called = append(called, id)
					if errors.Is(tt.err, context.DeadlineExceeded) {
						// A scheduler whose slots stay busy until the
						// handler's wait runs out (in synctest's time).
						<-ctx.Done()
						return fmt.Errorf("wait for a fetch slot: %w", ctx.Err())
					}
					return tt.err
				}
			}
			h, _, _ := newTestAPI(t, d)
			var w *httptest.ResponseRecorder
			synctest.Test(t, func(t *testing.T) {
				w = serve(t, h, request{method: http.MethodPost, path: "/api/sources/" + tt.id + "/refresh", token: testToken})
			})
			if tt.code == "" {
				var body statusBody
				decode(t, w, tt.status, &body)
				if body.Status != "started" || !slices.Equal(called, []string{tt.id}) {
					t.Errorf("body %+v, Refresh called with %v", body, called)
				}
				return
			}
			wantError(t, w, tt.status, tt.code)
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

func TestReload(t *testing.T) {
	tests := []struct {
		name   string
		reload func(context.Context) error
		status int
		code   string
		errs   []string
	}{
		{name: "ok", reload: func(context.Context) error { return nil }, status: http.StatusOK},
		{name: "nil", status: http.StatusServiceUnavailable, code: "reload_disabled"},
		{name: "invalid", reload: func(context.Context) error {
			return errors.Join(
				errors.New(`feeds.toml:3:7: source[1].url: "htp://x" is not an absolute http(s) URL`),
				errors.Join(errors.New("feeds.toml:9:1: output[1].limit: 0 is not in 1..1000")),
				errors.New(`feeds.toml:12:7: source[2].url: "https://u:pw@x.example/" is taken`),
			)
		}, status: http.StatusUnprocessableEntity, code: "invalid_config", errs: []string{
			`feeds.toml:3:7: source[1].url: "htp://x" is not an absolute http(s) URL`,
			"feeds.toml:9:1: output[1].limit: 0 is not in 1..1000",
			`feeds.toml:12:7: source[2].url: "https://u:xxxxx@x.example/" is taken`,
		}},
		{name: "single", reload: func(context.Context) error {
			return errors.New("read config: open feeds.toml: permission denied")
		}, status: http.StatusUnprocessableEntity, code: "invalid_config", errs: []string{"read config: open feeds.toml: permission denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, _ := newTestAPI(t, Deps{Reload: tt.reload})
			w := serve(t, h, request{method: http.MethodPost, path: "/api/reload", token: testToken})
			if tt.code == "" {
				var body statusBody
				decode(t, w, tt.status, &body)
				if body.Status != "reloaded" {
					t.Errorf("status = %q, want reloaded", body.Status)
				}
				return
			}
			e := wantError(t, w, tt.status, tt.code)
			if tt.errs != nil && !slices.Equal(e.Errors, tt.errs) {
				t.Errorf("errors = %q, want %q", e.Errors, tt.errs)
			}
		})
	}
}

func b64(s string) string {
	return url.QueryEscape(encodeRaw(s))
}
