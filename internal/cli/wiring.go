package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/syndic-dev/syndic/config"
	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/fetcher"
	"github.com/syndic-dev/syndic/internal/ingest"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

// loadConfig loads and validates the file. On failure every problem is
// printed on its own line and errSilent returned.
func loadConfig(env *Env, path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		printConfigErrors(env.Stderr, err)
		return nil, errSilent
	}
	return cfg, nil
}

func printConfigErrors(w io.Writer, err error) {
	for _, e := range flattenErrors(err) {
		fmt.Fprintln(w, e.Error())
	}
}

func flattenErrors(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, e)
	}
	walk(err)
	return out
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openConfigStore loads the config at path and opens its database; see
// openStore for sync.
func openConfigStore(ctx context.Context, env *Env, path string, sync bool) (*config.Config, *store.Store, error) {
	cfg, err := loadConfig(env, path)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, newLogger(env.Stderr, cfg), sync)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// closeStore closes st once a command is done with it. What the command
// wrote is committed by then; closing writes the source states still
// queued and checkpoints the WAL, and a failure there (a full disk)
// leaves that work to the next process, so it is a warning, not the
// command's failure. (Items waiting for the search index wait for the
// next idle writer or search either way.)
func closeStore(log *slog.Logger, st *store.Store) {
	if err := st.Close(); err != nil {
		log.Warn("closing the database left work for the next run", "error", err)
	}
}

// openStore opens the database named by the config and records which
// sources are configured, so that removed ones are marked orphaned.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger, sync bool) (*store.Store, error) {
	return openStoreWith(ctx, cfg, sync, store.Options{Logger: logger})
}

// openStoreWith is openStore with the store's options given.
func openStoreWith(ctx context.Context, cfg *config.Config, sync bool, opts store.Options) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.StoragePath(), opts)
	if err != nil {
		return nil, err // store.Open names the path
	}
	if sync {
		if err := syncSources(ctx, st, cfg); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

func syncSources(ctx context.Context, st *store.Store, cfg *config.Config) error {
	m := make(map[string]string, len(cfg.Sources))
	for _, s := range cfg.Sources {
		m[s.ID] = s.URL
	}
	if err := st.SyncSources(ctx, m); err != nil {
		return fmt.Errorf("record configured sources: %w", err)
	}
	return nil
}

func newFetcher(cfg *config.Config) *fetcher.Fetcher {
	f := cfg.Fetch
	return fetcher.New(fetcher.Options{
		UserAgent:           cfg.UserAgent(Version()),
		Timeout:             time.Duration(f.Timeout),
		ConnectTimeout:      time.Duration(f.ConnectTimeout),
		MaxBody:             int64(f.MaxBody),
		MaxRedirects:        f.MaxRedirects,
		Concurrency:         f.Concurrency,
		PerHost:             f.PerHost,
		HostInterval:        time.Duration(f.HostInterval),
		DefaultRetryAfter:   time.Duration(f.DefaultRetryAfter),
		DenyPrivateNetworks: f.DenyPrivateNetworks,
	})
}

func newIngester(cfg *config.Config, f ingest.Fetcher, st ingest.Store, parsers int) *ingest.Ingester {
	return ingest.New(f, st, ingest.Options{
		Parsers:             parsers,
		MaxItems:            cfg.Fetch.MaxItems,
		DedupWindow:         time.Duration(cfg.Dedup.Window),
		RespectCacheHeaders: cfg.Fetch.RespectCacheHeaders,
		MaxBackoff:          time.Duration(cfg.Fetch.MaxBackoff),
	})
}

func ingestSource(s config.SourceConfig) ingest.Source {
	return ingest.Source{ID: s.ID, URL: s.URL, Headers: s.Headers, Timeout: time.Duration(s.Timeout)}
}

// outputs converts the configured outputs for publishing.
func outputs(cfg *config.Config) []model.Output {
	out := make([]model.Output, 0, len(cfg.Outputs))
	for _, o := range cfg.Outputs {
		out = append(out, model.Output{
			ID:             o.ID,
			Title:          o.Title,
			Description:    o.Description,
			Mode:           o.Mode,
			SourceIDs:      cfg.OutputSources(o),
			Include:        config.Regexps(o.Include),
			Exclude:        config.Regexps(o.Exclude),
			MaxAge:         time.Duration(o.MaxAge),
			Limit:          o.Limit,
			Curated:        o.Curated,
			ShowSourceURLs: o.ShowSourceURLs,
		})
	}
	return out
}

// sourceInfos describes the configured sources for publishing, titled by
// the config override, else the feed's own title, else the id.
func sourceInfos(ctx context.Context, cfg *config.Config, st *store.Store) ([]model.SourceInfo, error) {
	// FetchStates skips item counts, which cost a scan of a big
	// database at every start and reload.
	byID, err := st.FetchStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("read source states: %w", err)
	}
	infos := make([]model.SourceInfo, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		st := byID[s.ID]
		title := s.Title
		if title == "" {
			title = strings.TrimSpace(st.FeedTitle)
		}
		if title == "" {
			title = s.ID
		}
		infos = append(infos, model.SourceInfo{
			ID:      s.ID,
			Title:   title,
			URL:     credential.Public(s.URL),
			SiteURL: st.SiteURL,
			Tags:    s.Tags,
			Include: config.Regexps(s.Include),
			Exclude: config.Regexps(s.Exclude),
		})
	}
	return infos, nil
}

// errorClassOf returns a short class for a failure to print beside it.
func errorClassOf(res ingest.Result) string {
	if res.ErrClass != "" {
		return res.ErrClass
	}
	var fe *fetcher.Error
	if errors.As(res.Err, &fe) {
		return fe.Class
	}
	return model.ErrClassOther
}
