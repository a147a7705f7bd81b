package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
)

// errorBody is every error response: {"error":{"code":..,"message":..}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Errors lists the problems of an invalid configuration.
	Errors []string `json:"errors,omitempty"`
}

// setHeaders sets what every API response carries: answers are per-user
// state that no cache may keep.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// writeJSON encodes v as the response body with status code. Encoding
// first means a value that cannot be encoded becomes a clean 500.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	setHeaders(w)
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, errorBody{Error: errorDetail{Code: errCode, Message: msg}})
}

// setRetryAfter sets Retry-After in whole seconds, rounded up and at
// least 1, so that a client never retries early.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

// limitBody caps the request body. No endpoint reads one, but a client
// must not be able to make the server swallow an unbounded upload.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body exceeds 64 KB")
			return
		}
		if r.Body == nil {
			// Only hand-built requests lack a body; the server always sets one.
			h.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		// Reading a chunked body to its end is the only way to learn its
		// size; the limit bounds the cost.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body exceeds 64 KB")
				return
			}
			writeError(w, http.StatusBadRequest, "bad_request", "cannot read request body")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// urlPattern finds URLs inside free text such as a recorded fetch error.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// redactText hides URL passwords and secret query parameters inside free
// text. The store and config already redact what they record; this guards
// the API's own output against any message that slipped through.
func redactText(s string) string {
	return urlPattern.ReplaceAllStringFunc(s, credential.Redact)
}

// redactURLs redacts each URL of l; nil stays an empty list in JSON.
func redactURLs(l []string) []string {
	out := make([]string, 0, len(l))
	for _, u := range l {
		out = append(out, credential.Redact(u))
	}
	return out
}

// optTime is t in UTC, nil (JSON null) for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// nonNil makes an absent list encode as [] rather than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
