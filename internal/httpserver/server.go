// Package httpserver serves syndic's HTTP surface: published feeds, the
// index page, health and readiness. routes.go lists every path. It is named
// so that it does not shadow net/http.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Options configure the listener and its limits.
type Options struct {
	Listen            string
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	Logger            *slog.Logger
}

// Feeds is what the server publishes.
type Feeds interface {
	FeedHandler() http.Handler
	IndexHandler() http.Handler
}

// ReadyFunc reports whether the service can do its work; a nil error means
// ready. It backs /readyz.
type ReadyFunc func(ctx context.Context) error

// Deps are the handlers' dependencies.
type Deps struct {
	Feeds   Feeds
	Ready   ReadyFunc
	Metrics http.Handler // GET /metrics; nil: not served
	API     http.Handler // /api/; nil: not served
	OPML    http.Handler // GET /sources.opml; nil: not served
}

// Server is the HTTP server. Start it with Start, stop it with Shutdown.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
	log  *slog.Logger
}

// New builds a server; nothing listens until Start.
func New(opts Options, deps Deps) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	addRoutes(mux, deps, opts.Logger)
	return &Server{
		log: opts.Logger,
		srv: &http.Server{
			Addr:              opts.Listen,
			Handler:           mux,
			ReadHeaderTimeout: opts.ReadHeaderTimeout,
			ReadTimeout:       opts.ReadTimeout,
			WriteTimeout:      opts.WriteTimeout,
			IdleTimeout:       opts.IdleTimeout,
			MaxHeaderBytes:    opts.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		},
	}
}

// Start listens and serves in the background until Shutdown.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.srv.Addr
	}
	return s.ln.Addr().String()
}

// Done reports a serve failure; it never fires after a clean Shutdown.
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx expires, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
		return fmt.Errorf("shut down http server: %w", err)
	}
	return nil
}
