package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/model"
)

func runSources(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "sources", "[-config FILE] [-json]", `
List every configured source (and sources removed from the config whose
items are still stored, marked orphaned) with its last fetch, status, error,
stored items and the earliest time it may be fetched again, with the reason
when the source is deferred ("retry-after until 14:05", "backoff after 3
errors until 15:30").

With -json, prints one JSON object per line with the keys id, url, title,
enabled, tags, status ("ok" or "error"), state ("never", "ok",
"not_modified", "error"), error_class, error, items, last_fetch,
last_success, next_fetch, next_fetch_reason, deferral, consecutive_errors,
redirect_url, alternates and orphaned. Times are RFC 3339 or null.`)
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	cfg, st, err := openConfigStore(ctx, env, *fs.config, false)
	if err != nil {
		return err
	}
	defer closeStore(newLogger(env.Stderr, cfg), st)
	states, err := st.SourceStates(ctx)
	if err != nil {
		return fmt.Errorf("read source states: %w", err)
	}
	byID := map[string]model.SourceState{}
	for _, s := range states {
		byID[s.SourceID] = s
	}
	now := time.Now()
	var rows []sourceRow
	for _, s := range cfg.Sources {
		rows = append(rows, newSourceRow(s.ID, s.URL, s.Title, s.Tags, s.Enabled, false, byID[s.ID], now))
		delete(byID, s.ID)
	}
	for _, id := range sortedKeys(byID) {
		s := byID[id]
		rows = append(rows, newSourceRow(id, s.URL, "", nil, false, true, s, now))
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tLAST FETCH\tITEMS\tNEXT\tERROR")
	for _, r := range rows {
		status := r.State
		if r.Orphaned {
			status += " (orphaned)"
		} else if !r.Enabled {
			status += " (disabled)"
		}
		last := "never"
		if r.LastFetch != nil {
			last = ago(now, *r.LastFetch)
		}
		next := "on schedule"
		if r.Deferral != "" {
			next = r.Deferral
		}
		msg := r.Error
		if r.RedirectURL != "" {
			msg = strings.TrimSpace(msg + " (moved permanently to " + r.RedirectURL + ": update the config)")
		}
		if len(r.Alternates) > 0 {
			msg += " (try: " + strings.Join(r.Alternates, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, status, last, r.Items, next, msg)
	}
	return tw.Flush()
}

type sourceRow struct {
	ID                string     `json:"id"`
	URL               string     `json:"url"`
	Title             string     `json:"title,omitempty"`
	Enabled           bool       `json:"enabled"`
	Tags              []string   `json:"tags"`
	Status            string     `json:"status"`
	State             string     `json:"state"`
	ErrorClass        string     `json:"error_class"`
	Error             string     `json:"error"`
	Items             int        `json:"items"`
	LastFetch         *time.Time `json:"last_fetch"`
	LastSuccess       *time.Time `json:"last_success"`
	NextFetch         *time.Time `json:"next_fetch"`
	NextFetchReason   string     `json:"next_fetch_reason"`
	Deferral          string     `json:"deferral"`
	ConsecutiveErrors int        `json:"consecutive_errors"`
	RedirectURL       string     `json:"redirect_url"`
	Alternates        []string   `json:"alternates"`
	Orphaned          bool       `json:"orphaned"`
}

func newSourceRow(id, url, title string, tags []string, enabled, orphaned bool, s model.SourceState, now time.Time) sourceRow {
	r := sourceRow{
		ID: id, URL: credential.Redact(url), Title: title, Tags: tags, Enabled: enabled,
		Orphaned: orphaned, Status: "ok", State: s.Status, ErrorClass: s.ErrorClass, Error: s.Error,
		Items: s.Items, ConsecutiveErrors: s.ConsecutiveErrors, RedirectURL: credential.Redact(s.RedirectURL),
		Alternates: s.Alternates, LastFetch: timePtr(s.LastFetch), LastSuccess: timePtr(s.LastSuccess),
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if r.Alternates == nil {
		r.Alternates = []string{}
	}
	if r.State == "" {
		r.State = "never"
	}
	if s.Status == model.StatusError {
		r.Status = "error"
	}
	if s.NextFetch.After(now) {
		r.NextFetch = timePtr(s.NextFetch)
		r.NextFetchReason = s.NextFetchReason
		r.Deferral = deferral(s.NextFetchReason, s.NextFetch, s.ConsecutiveErrors)
	}
	return r
}

// deferral says why and until when a source waits, in the operator's
// local time: "retry-after until 14:05", "backoff after 3 errors until
// 15:30".
func deferral(reason string, until time.Time, errs int) string {
	at := until.Local().Format("15:04")
	if time.Until(until) > 20*time.Hour {
		at = until.Local().Format("Jan 2 15:04")
	}
	switch reason {
	case model.DeferBackoff:
		switch {
		case errs == 1:
			return "backoff after 1 error until " + at
		case errs > 1:
			return fmt.Sprintf("backoff after %d errors until %s", errs, at)
		}
		return "backoff until " + at
	case "":
		return "deferred until " + at
	}
	return reason + " until " + at
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return t.Local().Format(time.DateTime)
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return t.Local().Format("2006-01-02 15:04")
}
