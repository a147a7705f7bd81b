package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// statusBody is the body of an accepted action.
type statusBody struct {
	Status string `json:"status"`
}

// handleRefresh starts a fetch of one source now. It answers 202 once the
// fetch has started, not when it has finished: GET /api/sources shows the
// outcome.
func (a *api) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if a.d.Refresh == nil {
		writeError(w, http.StatusServiceUnavailable, "fetch_disabled",
			"fetching is disabled in this server (serve -no-fetch)")
		return
	}
	id := r.PathValue("id")
	if !sourceIDPattern.MatchString(id) {
		writeError(w, http.StatusBadRequest, "invalid_id",
			fmt.Sprintf("%q is not a source id", truncate(id, 80)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), refreshWait)
	defer cancel()
	err := a.d.Refresh(ctx, id)
	var deferred interface{ RetryAfter() time.Time }
	switch {
	case err == nil:
		a.log.Info("source refresh started", "source", id)
		writeJSON(w, http.StatusAccepted, statusBody{Status: "started"})
	case errors.Is(err, ErrUnknownSource):
		if a.configuredDisabled(id) {
			writeError(w, http.StatusConflict, "source_disabled",
				fmt.Sprintf("source %q is disabled in the configuration", id))
			return
		}
		writeError(w, http.StatusNotFound, "unknown_source", fmt.Sprintf("no source %q", id))
	case errors.Is(err, ErrBusy):
		writeError(w, http.StatusConflict, "already_running",
			fmt.Sprintf("source %q is being fetched right now", id))
	case errors.Is(err, ErrDeferred):
		msg := fmt.Sprintf("the host of source %q asked to retry later", id)
		if errors.As(err, &deferred) {
			until := deferred.RetryAfter()
			setRetryAfter(w, until.Sub(a.now()))
			msg = fmt.Sprintf("the host of source %q asked to retry after %s",
				id, until.UTC().Format(time.RFC3339))
		}
		writeError(w, http.StatusTooManyRequests, "deferred", msg)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && r.Context().Err() == nil:
		// Our own wait for a fetch slot ran out, not the client.
		setRetryAfter(w, 30*time.Second)
		writeError(w, http.StatusServiceUnavailable, "no_slot",
			"every fetch slot stayed busy; try again later")
	default:
		a.internalError(w, r, "refresh source "+id, err)
	}
}

// configuredDisabled reports whether the configuration has source id but
// with enabled = false (the scheduler does not know such sources).
func (a *api) configuredDisabled(id string) bool {
	if a.d.Sources == nil {
		return false
	}
	for _, s := range a.d.Sources() {
		if s.ID == id {
			return !s.Enabled
		}
	}
	return false
}

// handleReload re-reads the configuration.
func (a *api) handleReload(w http.ResponseWriter, r *http.Request) {
	if a.d.Reload == nil {
		writeError(w, http.StatusServiceUnavailable, "reload_disabled", "this server cannot reload its configuration")
		return
	}
	err := a.d.Reload(r.Context())
	if err != nil {
		if r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			a.internalError(w, r, "reload config", err)
			return
		}
		problems := errorLines(err)
		a.log.Warn("config reload rejected", "problems", len(problems))
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: errorDetail{
			Code:    "invalid_config",
			Message: fmt.Sprintf("the configuration has %d problem(s); the running one is kept", len(problems)),
			Errors:  problems,
		}})
		return
	}
	a.log.Info("config reloaded")
	writeJSON(w, http.StatusOK, statusBody{Status: "reloaded"})
}

// errorLines lists the problems inside err: the leaves of errors.Join
// trees, one line each, URL passwords redacted.
func errorLines(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				if x != nil {
					walk(x)
				}
			}
			return
		}
		for line := range strings.SplitSeq(e.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, redactText(line))
			}
		}
	}
	walk(err)
	if out == nil {
		out = []string{}
	}
	return out
}

// internalError answers 500 without details, which stay in the log.
func (a *api) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.log.Error("admin request failed", "op", op, "path", r.URL.Path, "error", redactText(err.Error()))
	writeError(w, http.StatusInternalServerError, "internal", "internal error; see the server log")
}
