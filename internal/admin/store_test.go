package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

// *store.Store must satisfy the interface the API declares.
var _ Store = (*store.Store)(nil)

// TestRealStore runs the API over HTTP against a real SQLite store.
func TestRealStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "syndic.db"), store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	clk := newClock()
	t0 := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	var all []string
	for _, src := range []string{"alpha", "beta", "gone"} {
		var items []model.Item
		for i := range 5 {
			key := fmt.Sprintf("guid:%s-%d", src, i)
			it := model.Item{
				ID:          model.ItemID(src, key),
				SourceID:    src,
				Key:         key,
				GUID:        key[5:],
				Link:        "https://" + src + ".example/" + key[5:],
				Title:       fmt.Sprintf("%s story number %d", src, i),
				Summary:     "summary " + key,
				ContentHTML: "<p>x</p>",
				ContentHash: fmt.Sprintf("%032x", i),
				// Two items per time: ties are broken by id.
				Published: t0.Add(time.Duration(i/2) * time.Hour),
			}
			items = append(items, it)
			all = append(all, it.ID)
		}
		_, err := st.SaveFetch(ctx, model.FetchUpdate{
			SourceID: src,
			Now:      t0,
			State: model.SourceState{SourceID: src, URL: "https://u:pw-" + src + "@" + src + ".example/feed",
				Status: model.StatusOK, LastFetch: t0, LastSuccess: t0},
			Items: items,
		})
		if err != nil {
			t.Fatalf("SaveFetch(%s): %v", src, err)
		}
	}
	if err := st.SyncSources(ctx, map[string]string{"alpha": "https://alpha.example/feed", "beta": "https://beta.example/feed"}); err != nil {
		t.Fatalf("SyncSources: %v", err)
	}
	var invalidated []string
	srv := httptest.NewServer(New(Deps{
		Store: st,
		Sources: func() []SourceConfig {
			return []SourceConfig{
				{ID: "beta", URL: "https://beta.example/feed", Enabled: true},
				{ID: "alpha", URL: "https://alpha.example/feed", Enabled: true},
			}
		},
		Invalidate: func(ids ...string) { invalidated = append(invalidated, ids...) },
		Token:      []byte(testToken),
		Now:        clk.Now,
	}))
	t.Cleanup(srv.Close)
	call := func(method, path string, status int, v any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: read body: %v", method, path, err)
		}
		if resp.StatusCode != status {
			t.Fatalf("%s %s: status %d, want %d (%s)", method, path, resp.StatusCode, status, body)
		}
		if v != nil {
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatalf("%s %s: decode %q: %v", method, path, body, err)
			}
		}
	}

	var sources []sourceJSON
	call("GET", "/api/sources", http.StatusOK, &sources)
	var got []string
	for _, s := range sources {
		got = append(got, fmt.Sprintf("%s:%d:%v", s.ID, s.Items, s.Orphaned))
	}
	if want := "beta:5:false alpha:5:false gone:5:true"; strings.Join(got, " ") != want {
		t.Errorf("sources = %q, want %q", strings.Join(got, " "), want)
	}
	if gone := sources[2]; strings.Contains(gone.URL, "pw-gone") {
		t.Errorf("orphan URL %q reveals its password", gone.URL)
	}

	for _, limit := range []int{1, 2, 4, 500} {
		seen := make(map[string]int)
		next := ""
		for pages := 0; pages < 100; pages++ {
			path := fmt.Sprintf("/api/items?limit=%d", limit)
			if next != "" {
				path += "&before=" + url.QueryEscape(next)
			}
			var page itemsPage
			call("GET", path, http.StatusOK, &page)
			for _, it := range page.Items {
				seen[it.ID]++
			}
			if page.NextBefore == nil {
				break
			}
			next = *page.NextBefore
		}
		if len(seen) != len(all) {
			t.Errorf("limit %d: visited %d distinct items, want %d", limit, len(seen), len(all))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("limit %d: item %s visited %d times", limit, id, n)
			}
		}
	}

	var page itemsPage
	call("GET", "/api/items?source=beta&q="+url.QueryEscape("number"), http.StatusOK, &page)
	if len(page.Items) != 5 {
		t.Errorf("search in beta: %d items, want 5", len(page.Items))
	}
	var e errorBody
	call("GET", "/api/items?q="+url.QueryEscape(`"unterminated`), http.StatusBadRequest, &e)
	if e.Error.Code != "invalid_query" {
		t.Errorf("bad FTS query: code %q, want invalid_query", e.Error.Code)
	}

	id := all[0]
	var it itemJSON
	call("POST", "/api/items/"+id+"/feature", http.StatusOK, &it)
	if !it.Featured || it.ID != id {
		t.Errorf("feature: %+v", it)
	}
	call("POST", "/api/items/"+id+"/hide", http.StatusOK, &it)
	if !it.Hidden || !it.Featured {
		t.Errorf("hide: %+v", it)
	}
	featured, err := st.Items(ctx, model.ItemQuery{FeaturedOnly: true, IncludeHidden: true})
	if err != nil || len(featured) != 1 || featured[0].ID != id {
		t.Errorf("featured in store = %v, %v; want [%s]", featured, err, id)
	}
	call("GET", "/api/items?source=alpha&limit=500", http.StatusOK, &page)
	hidden := 0
	for _, x := range page.Items {
		if x.Hidden {
			hidden++
		}
	}
	if len(page.Items) != 5 || hidden != 1 {
		t.Errorf("alpha: %d items, %d hidden; want 5 and 1", len(page.Items), hidden)
	}
	call("POST", "/api/items/"+id+"/unhide", http.StatusOK, &it)
	call("POST", "/api/items/"+id+"/unfeature", http.StatusOK, &it)
	if it.Hidden || it.Featured {
		t.Errorf("after unhide, unfeature: %+v", it)
	}
	if want := "alpha alpha alpha alpha"; strings.Join(invalidated, " ") != want {
		t.Errorf("invalidated %q, want %q", invalidated, want)
	}
	call("POST", "/api/items/alpha:0000000000000000/feature", http.StatusNotFound, &e)
	if e.Error.Code != "not_found" {
		t.Errorf("unknown item: code %q, want not_found", e.Error.Code)
	}
}
