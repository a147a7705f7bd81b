package admin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

// Page sizes of GET /api/items.
const (
	defaultLimit = 50
	maxLimit     = 500
)

var (
	// itemIDPattern is the shape of model.ItemID: source slug, ":", 16
	// hex digits.
	itemIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}:[0-9a-f]{16}$`)
	// sourceIDPattern is the shape of a source id (a config slug).
	sourceIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// itemJSON is one item in the API.
type itemJSON struct {
	ID         string     `json:"id"`
	Source     string     `json:"source"`
	Title      string     `json:"title"`
	Link       string     `json:"link"`
	Summary    string     `json:"summary"`
	Author     string     `json:"author"`
	Categories []string   `json:"categories"`
	Published  *time.Time `json:"published"`
	Updated    *time.Time `json:"updated"`
	FirstSeen  *time.Time `json:"first_seen"`
	Story      string     `json:"story"`
	Featured   bool       `json:"featured"`
	Hidden     bool       `json:"hidden"`
}

func toItemJSON(it model.Item) itemJSON {
	return itemJSON{
		ID:         it.ID,
		Source:     it.SourceID,
		Title:      it.Title,
		Link:       it.Link,
		Summary:    it.Summary,
		Author:     it.Author,
		Categories: nonNil(it.Categories),
		Published:  optTime(it.Published),
		Updated:    optTime(it.Updated),
		FirstSeen:  optTime(it.FirstSeen),
		Story:      it.StoryID,
		Featured:   it.Featured,
		Hidden:     it.Hidden,
	}
}

// itemsPage is the body of GET /api/items. NextBefore is null on the last
// page.
type itemsPage struct {
	Items      []itemJSON `json:"items"`
	NextBefore *string    `json:"next_before"`
}

// handleItems lists items newest first, hidden ones included:
// ?source=ID (repeatable, or comma-separated), ?output=ID, ?q=FTS5 query,
// ?limit=N (default 50, at most 500), ?before=CURSOR (next_before of the
// previous page).
func (a *api) handleItems(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	q := model.ItemQuery{IncludeHidden: true, Search: params.Get("q")}

	limit := defaultLimit
	if v := params.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "invalid_limit",
				fmt.Sprintf("limit must be an integer from 1 to %d", maxLimit))
			return
		}
		limit = min(n, maxLimit)
	}
	// One extra row tells whether another page follows.
	q.Limit = limit + 1

	if v := params.Get("before"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_cursor",
				"before must be the next_before value of a previous page")
			return
		}
		q.Before = &c
	}

	var sources []string
	for _, v := range params["source"] {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				sources = append(sources, s)
			}
		}
	}
	if out := params.Get("output"); out != "" {
		var selected []string
		ok := false
		if a.d.OutputSources != nil {
			selected, ok = a.d.OutputSources(out)
		}
		if !ok {
			writeError(w, http.StatusNotFound, "unknown_output", fmt.Sprintf("no output %q", out))
			return
		}
		if len(sources) > 0 {
			sources = slices.DeleteFunc(sources, func(s string) bool { return !slices.Contains(selected, s) })
		} else {
			sources = selected
		}
		// An empty SourceIDs means every source to the store; an output
		// (or intersection) selecting none must list nothing.
		if len(sources) == 0 {
			writeJSON(w, http.StatusOK, itemsPage{Items: []itemJSON{}})
			return
		}
	}
	q.SourceIDs = sources

	items, err := a.d.Store.Items(r.Context(), q)
	if errors.Is(err, store.ErrInvalidSearch) {
		writeError(w, http.StatusBadRequest, "invalid_query", strings.TrimPrefix(err.Error(), "query items: "))
		return
	}
	if err != nil {
		a.internalError(w, r, "list items", err)
		return
	}
	page := itemsPage{Items: make([]itemJSON, 0, min(len(items), limit))}
	if len(items) > limit {
		items = items[:limit]
		next := encodeCursor(items[len(items)-1])
		page.NextBefore = &next
	}
	for _, it := range items {
		page.Items = append(page.Items, toItemJSON(it))
	}
	writeJSON(w, http.StatusOK, page)
}

// encodeCursor is the position just after it in the newest-first order:
// base64url of "PUBLISHED_UNIX_MS:ID". Clients treat it as opaque.
func encodeCursor(it model.Item) string {
	var ms int64
	if !it.Published.IsZero() {
		ms = it.Published.UnixMilli()
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms, 10) + ":" + it.ID))
}

// decodeCursor parses a cursor made by encodeCursor.
func decodeCursor(s string) (model.Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return model.Cursor{}, fmt.Errorf("decode cursor: %w", err)
	}
	msText, id, ok := strings.Cut(string(raw), ":")
	if !ok || !itemIDPattern.MatchString(id) {
		return model.Cursor{}, errors.New("decode cursor: malformed")
	}
	ms, err := strconv.ParseInt(msText, 10, 64)
	if err != nil || ms < 0 {
		return model.Cursor{}, errors.New("decode cursor: malformed time")
	}
	c := model.Cursor{ID: id}
	if ms != 0 {
		c.Published = time.UnixMilli(ms).UTC()
	}
	return c, nil
}

// curation is one of the item actions: set the featured or the hidden
// flag on or off.
type curation struct {
	name     string
	featured bool // the featured flag, else the hidden one
	on       bool
}

// curations are the POST /api/items/{id}/ACTION endpoints.
func curations() []curation {
	return []curation{
		{name: "feature", featured: true, on: true},
		{name: "unfeature", featured: true, on: false},
		{name: "hide", featured: false, on: true},
		{name: "unhide", featured: false, on: false},
	}
}

// handleCurate sets a flag of one item, answers with the updated item and
// invalidates the item's source so that outputs show the change at once.
func (a *api) handleCurate(c curation) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !itemIDPattern.MatchString(id) {
			writeError(w, http.StatusBadRequest, "invalid_id",
				fmt.Sprintf("%q is not an item id (SOURCE:16 hex digits)", truncate(id, 80)))
			return
		}
		set := a.d.Store.SetHidden
		if c.featured {
			set = a.d.Store.SetFeatured
		}
		err := set(r.Context(), id, c.on, a.now())
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no item %q", id))
			return
		}
		if err != nil {
			a.internalError(w, r, c.name+" item", err)
			return
		}
		it, err := a.d.Store.Item(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			// Pruned between the two calls.
			writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no item %q", id))
			return
		}
		if err != nil {
			a.internalError(w, r, "read item", err)
			return
		}
		if a.d.Invalidate != nil {
			a.d.Invalidate(it.SourceID)
		}
		a.log.Info("item curated", "item", id, "source", it.SourceID, "action", c.name)
		writeJSON(w, http.StatusOK, toItemJSON(it))
	}
}

// truncate shortens what a client sent before it is echoed back.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
