package httpserver

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// addRoutes lists syndic's whole HTTP surface.
func addRoutes(mux *http.ServeMux, d Deps, logger *slog.Logger) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Ready, logger))
	if d.Metrics != nil {
		mux.Handle("GET /metrics", d.Metrics)
	}
	if d.API != nil {
		mux.Handle("/api/", d.API)
	}
	if d.OPML != nil {
		mux.Handle("GET /sources.opml", d.OPML)
	}
	mux.Handle("/feeds/", d.Feeds.FeedHandler())
	mux.Handle("/", d.Feeds.IndexHandler())
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
}

func handleReadyz(ready ReadyFunc, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := ready(ctx); err != nil {
				logger.Warn("not ready", "error", err)
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
}
