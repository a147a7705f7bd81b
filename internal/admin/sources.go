package admin

import (
	"net/http"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/model"
)

// Coarse source statuses.
const (
	statusOK    = "ok"
	statusError = "error"
	statusNever = "never"
)

// sourceJSON is one source in GET /api/sources. URLs are redacted and no
// header of the source is ever part of it.
type sourceJSON struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Title   string   `json:"title"`
	Tags    []string `json:"tags"`
	Enabled bool     `json:"enabled"`
	// Schedule is the effective cron spec; "" for orphaned sources.
	Schedule string `json:"schedule"`
	// Status is "ok" (last fetch 200 or 304), "error" or "never".
	Status string `json:"status"`
	// State is the last fetch's recorded outcome: "ok", "not_modified",
	// "error" or "never".
	State             string     `json:"state"`
	ErrorClass        string     `json:"error_class"`
	Error             string     `json:"error"`
	Items             int        `json:"items"`
	FeedTitle         string     `json:"feed_title"`
	SiteURL           string     `json:"site_url"`
	LastFetch         *time.Time `json:"last_fetch"`
	LastSuccess       *time.Time `json:"last_success"`
	NextFetch         *time.Time `json:"next_fetch"`
	NextFetchReason   string     `json:"next_fetch_reason"`
	NextFire          *time.Time `json:"next_fire"`
	ConsecutiveErrors int        `json:"consecutive_errors"`
	RedirectURL       string     `json:"redirect_url"`
	Alternates        []string   `json:"alternates"`
	Orphaned          bool       `json:"orphaned"`
}

// handleSources lists the configured sources in config order, then the
// sources the store still holds that the configuration dropped.
func (a *api) handleSources(w http.ResponseWriter, r *http.Request) {
	states, err := a.d.Store.SourceStates(r.Context())
	if err != nil {
		a.internalError(w, r, "list sources", err)
		return
	}
	byID := make(map[string]model.SourceState, len(states))
	for _, st := range states {
		byID[st.SourceID] = st
	}
	var configured []SourceConfig
	if a.d.Sources != nil {
		configured = a.d.Sources()
	}
	out := make([]sourceJSON, 0, len(configured)+len(states))
	seen := make(map[string]bool, len(configured))
	for _, sc := range configured {
		seen[sc.ID] = true
		st, ok := byID[sc.ID]
		if !ok {
			st = model.SourceState{SourceID: sc.ID}
		}
		s := a.sourceJSON(st)
		s.URL = credential.Redact(sc.URL)
		if sc.Title != "" {
			s.Title = sc.Title
		}
		s.Tags = nonNil(sc.Tags)
		s.Enabled = sc.Enabled
		s.Schedule = sc.Schedule
		// A source in the current config is not orphaned, even before
		// the store has been synced with it.
		s.Orphaned = false
		if a.d.NextFire != nil && sc.Enabled {
			if t, ok := a.d.NextFire(sc.ID); ok {
				s.NextFire = optTime(t)
			}
		}
		out = append(out, s)
	}
	for _, st := range states {
		if seen[st.SourceID] {
			continue
		}
		s := a.sourceJSON(st)
		s.Orphaned = true
		out = append(out, s)
	}
	writeJSON(w, http.StatusOK, out)
}

// sourceJSON fills what the store knows about a source.
func (a *api) sourceJSON(st model.SourceState) sourceJSON {
	title := st.FeedTitle
	if title == "" {
		title = st.SourceID
	}
	s := sourceJSON{
		ID:                st.SourceID,
		URL:               credential.Redact(st.URL),
		Title:             title,
		Tags:              []string{},
		Status:            statusNever,
		State:             statusNever,
		ErrorClass:        st.ErrorClass,
		Error:             redactText(st.Error),
		Items:             st.Items,
		FeedTitle:         st.FeedTitle,
		SiteURL:           credential.Redact(st.SiteURL),
		LastFetch:         optTime(st.LastFetch),
		LastSuccess:       optTime(st.LastSuccess),
		NextFetch:         optTime(st.NextFetch),
		NextFetchReason:   st.NextFetchReason,
		ConsecutiveErrors: st.ConsecutiveErrors,
		RedirectURL:       credential.Redact(st.RedirectURL),
		Alternates:        redactURLs(st.Alternates),
	}
	if st.Status != "" {
		s.State = st.Status
		s.Status = statusOK
		if st.Status == model.StatusError {
			s.Status = statusError
		}
	}
	return s
}
