package admin

import (
	"net/http"
	"slices"
	"strings"
)

// routes lists the API's whole surface. Every path also answers the
// methods it does not support with a JSON 405 naming the allowed ones, and
// every other path under /api/ with a JSON 404.
func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	handle(mux, "/api/sources", map[string]http.HandlerFunc{
		http.MethodGet: a.handleSources,
	})
	handle(mux, "/api/sources/{id}/refresh", map[string]http.HandlerFunc{
		http.MethodPost: a.handleRefresh,
	})
	handle(mux, "/api/items", map[string]http.HandlerFunc{
		http.MethodGet: a.handleItems,
	})
	for _, act := range curations() {
		handle(mux, "/api/items/{id}/"+act.name, map[string]http.HandlerFunc{
			http.MethodPost: a.handleCurate(act),
		})
	}
	handle(mux, "/api/reload", map[string]http.HandlerFunc{
		http.MethodPost: a.handleReload,
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such API endpoint")
	})
	return mux
}

// handle registers pattern for each method and a fallback that answers
// other methods with 405.
func handle(mux *http.ServeMux, pattern string, byMethod map[string]http.HandlerFunc) {
	var allow []string
	for m, h := range byMethod {
		mux.Handle(m+" "+pattern, limitBody(h))
		allow = append(allow, m)
		if m == http.MethodGet {
			// ServeMux routes HEAD to GET patterns.
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			"method "+r.Method+" is not allowed here; allowed: "+allowed)
	})
}
