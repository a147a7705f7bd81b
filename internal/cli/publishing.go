package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/syndic-dev/syndic/config"
	"github.com/syndic-dev/syndic/internal/publish"
	"github.com/syndic-dev/syndic/internal/store"
	"github.com/syndic-dev/syndic/internal/websub"
)

// newPublisher builds the publisher of cfg's outputs; changed, when not
// nil, hears of every output that may have changed (WebSub pings).
func newPublisher(ctx context.Context, cfg *config.Config, st *store.Store, env *Env, obs publish.Observer, changed func(...string)) (*publish.Publisher, error) {
	p := publish.New(st, publish.Options{
		BaseURL:     cfg.Server.BaseURL,
		CacheMaxAge: time.Duration(cfg.Server.CacheMaxAge),
		Logger:      newLogger(env.Stderr, cfg),
		Observer:    obs,
		Hubs:        cfg.Server.WebSubHubs,
		Changed:     changed,
	})
	infos, err := sourceInfos(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	p.SetConfig(outputs(cfg), infos)
	return p, nil
}

func runRender(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "render", "[-config FILE] [-format rss|atom|json] [-page N] [-o FILE] OUTPUT", `
Print an output exactly as 'syndic serve' serves it at
/feeds/OUTPUT.FORMAT?page=N, for publishing static files from cron:

  syndic fetch -q && syndic render headlines -format atom -o /var/www/headlines.atom`)
	format := fs.String("format", "atom", "`format`: rss, atom or json")
	page := fs.Int("page", 1, "page `N` (RFC 5005 paging; 1 is the newest)")
	outFile := fs.String("o", "", "write to `file` (atomically) instead of stdout")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "name exactly one output"}
	}
	switch *format {
	case "rss", "atom", "json":
	default:
		return &usageError{msg: fmt.Sprintf("unknown format %q: use rss, atom or json", *format)}
	}
	if *page < 1 {
		return &usageError{msg: "-page must be 1 or more"}
	}
	cfg, st, err := openConfigStore(ctx, env, *fs.config, false)
	if err != nil {
		return err
	}
	defer closeStore(newLogger(env.Stderr, cfg), st)
	p, err := newPublisher(ctx, cfg, st, env, nil, nil)
	if err != nil {
		return err
	}
	r, err := p.Render(ctx, pos[0], *format, *page)
	if err != nil {
		return fmt.Errorf("render %s: %w", pos[0], err)
	}
	if *outFile == "" {
		_, err := env.Stdout.Write(r.Body)
		return err
	}
	return writeFileAtomic(*outFile, r.Body)
}

// writeFileAtomic replaces path with data so that readers never see a
// partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

func runPreview(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "preview", "[-config FILE] [-limit N] [-dropped] OUTPUT", `
Show the recent items of an output's sources, each marked kept or dropped
with the rule that decided it (source or output include/exclude, hidden,
curated, max_age, duplicate story), so that rules can be edited before
subscribers see the result.`)
	limit := fs.Int("limit", 50, "look at the `N` most recent items of the output's sources")
	onlyDropped := fs.Bool("dropped", false, "show only dropped items")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "name exactly one output"}
	}
	cfg, st, err := openConfigStore(ctx, env, *fs.config, false)
	if err != nil {
		return err
	}
	defer closeStore(newLogger(env.Stderr, cfg), st)
	p, err := newPublisher(ctx, cfg, st, env, nil, nil)
	if err != nil {
		return err
	}
	decisions, err := p.Preview(ctx, pos[0], *limit)
	if err != nil {
		return fmt.Errorf("preview %s: %w", pos[0], err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DECISION\tID\tTITLE\tRULE")
	kept := 0
	for _, d := range decisions {
		word := "dropped"
		if d.Kept {
			word = "kept"
			kept++
			if *onlyDropped {
				continue
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", word, d.Item.ID, truncate(d.Item.Title, 60), d.Rule)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d of %d kept\n", kept, len(decisions))
	return nil
}

func runPrune(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "prune", "[-config FILE] [-dry-run]", `
Apply retention now: keep storage.max_items_per_source newest items per
source, drop items older than storage.max_age and the items of sources no
longer in the config. Featured items are never pruned. Every pruned item
leaves a tombstone so it is not ingested again while its source still lists
it. 'syndic serve' also prunes on storage.prune_schedule.`)
	dry := fs.Bool("dry-run", false, "count what would be pruned without deleting")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	cfg, st, err := openConfigStore(ctx, env, *fs.config, true)
	if err != nil {
		return err
	}
	defer closeStore(newLogger(env.Stderr, cfg), st)
	res, err := st.Prune(ctx, prunePolicy(cfg, time.Now(), *dry))
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	verb := "pruned"
	if *dry {
		verb = "would prune"
	}
	for _, id := range sortedKeys(res.BySource) {
		fmt.Fprintf(env.Stdout, "%s %d items of %s\n", verb, res.BySource[id], id)
	}
	fmt.Fprintf(env.Stdout, "total: %s %d items (%d of orphaned sources)\n", verb, res.Removed, res.Orphaned)
	return nil
}

func prunePolicy(cfg *config.Config, now time.Time, dry bool) store.PrunePolicy {
	return store.PrunePolicy{
		MaxPerSource: cfg.Storage.MaxItemsPerSource,
		MaxAge:       time.Duration(cfg.Storage.MaxAge),
		DedupWindow:  time.Duration(cfg.Dedup.Window),
		Now:          now,
		DryRun:       dry,
	}
}

func runBackup(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "backup", "[-config FILE] FILE", `
Write a consistent copy of the database to FILE (SQLite VACUUM INTO) while
'syndic serve' keeps running. FILE must not exist. To restore, stop syndic,
replace storage.path with the copy (and delete any -wal and -shm files
beside it), and start syndic again.`)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "name exactly one destination file"}
	}
	cfg, st, err := openConfigStore(ctx, env, *fs.config, false)
	if err != nil {
		return err
	}
	defer closeStore(newLogger(env.Stderr, cfg), st)
	start := time.Now()
	if err := st.Backup(ctx, pos[0]); err != nil {
		return fmt.Errorf("backup to %s: %w", pos[0], err)
	}
	fi, err := os.Stat(pos[0])
	if err != nil {
		return fmt.Errorf("backup to %s: %w", pos[0], err)
	}
	fmt.Fprintf(env.Stdout, "backup written to %s (%s) in %s\n", pos[0], formatBytes(fi.Size()), time.Since(start).Round(time.Millisecond))
	return nil
}

func runPing(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "ping", "[-config FILE] [OUTPUT ...]", `
Tell the WebSub hubs of server.websub_hubs that outputs changed: one
publish ping (hub.mode=publish) per hub and feed URL (rss, atom, json) of
each named output, or of every output when none is named. 'syndic serve'
pings by itself when an output changes; this is for static publishing
from cron, after 'syndic render' rewrote the files served at
server.base_url:

  syndic fetch -q && syndic render all -o /var/www/feeds/all.atom && syndic ping all

Prints one line per ping; exit status 1 when any failed.`)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(env, *fs.config)
	if err != nil {
		return err
	}
	if len(cfg.Server.WebSubHubs) == 0 {
		return fmt.Errorf("no hubs to ping: server.websub_hubs is empty in %s", cfg.Path)
	}
	ids := pos
	if len(ids) == 0 {
		for _, o := range cfg.Outputs {
			ids = append(ids, o.ID)
		}
	}
	for _, id := range ids {
		if _, ok := cfg.Output(id); !ok {
			return &usageError{msg: fmt.Sprintf("unknown output %q (known: %s)", id, strings.Join(outputIDs(cfg), ", "))}
		}
	}
	failed := 0
	for _, id := range ids {
		for _, hub := range cfg.Server.WebSubHubs {
			for _, topic := range publish.FeedURLs(cfg.Server.BaseURL, id) {
				if err := websub.Ping(ctx, nil, cfg.UserAgent(Version()), hub, topic); err != nil {
					failed++
					fmt.Fprintf(env.Stdout, "error  %s  %s: %v\n", hub, topic, err)
					continue
				}
				fmt.Fprintf(env.Stdout, "ok     %s  %s\n", hub, topic)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d pings failed", failed)
	}
	return nil
}
