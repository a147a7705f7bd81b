package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

func runItems(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "items", "[-config FILE] [-source ID] [-q QUERY] [-limit N] [-json]", `
List stored items newest first, with the ids that feature, hide and the
admin API take. Hidden items are listed too, marked.

-q searches titles and summaries with SQLite FTS5 syntax: words (all must
match), "exact phrases", OR, NOT, prefix* and column filters such as
title:coalition. New items reach the search index when serve's writer is
idle; a search first takes in those still waiting (after a large syndic
fetch, about 2 s per 100,000 items), so it always sees every item.

With -json, prints one JSON object per line with the keys id, source, title,
link, published, updated, first_seen, story, featured, hidden and summary.`)
	source := fs.String("source", "", "only items of the source with this `id`")
	query := fs.String("q", "", "full-text `query` over titles and summaries")
	limit := fs.Int("limit", 50, "at most `N` items; 0 lists all")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if *limit < 0 {
		return &usageError{msg: "-limit must be 0 (all) or positive"}
	}
	cfg, st, err := openConfigStore(ctx, env, *fs.config, false)
	if err != nil {
		return err
	}
	defer closeStore(newLogger(env.Stderr, cfg), st)
	q := model.ItemQuery{Limit: *limit, IncludeHidden: true, Search: *query}
	if *source != "" {
		q.SourceIDs = []string{*source}
	}
	items, err := st.Items(ctx, q)
	if err != nil {
		return fmt.Errorf("list items: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, it := range items {
			if err := enc.Encode(itemRow{
				ID: it.ID, Source: it.SourceID, Title: it.Title, Link: it.Link,
				Published: it.Published.UTC(), Updated: it.Updated.UTC(), FirstSeen: it.FirstSeen.UTC(),
				Story: it.StoryID, Featured: it.Featured, Hidden: it.Hidden, Summary: it.Summary,
			}); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPUBLISHED\tFLAGS\tTITLE")
	for _, it := range items {
		flags := ""
		if it.Featured {
			flags += "featured "
		}
		if it.Hidden {
			flags += "hidden "
		}
		if it.StoryID != it.ID {
			flags += "dup "
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.ID, it.Published.Local().Format("2006-01-02 15:04"), flags, truncate(it.Title, 80))
	}
	return tw.Flush()
}

type itemRow struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Title     string    `json:"title"`
	Link      string    `json:"link"`
	Published time.Time `json:"published"`
	Updated   time.Time `json:"updated"`
	FirstSeen time.Time `json:"first_seen"`
	Story     string    `json:"story"`
	Featured  bool      `json:"featured"`
	Hidden    bool      `json:"hidden"`
	Summary   string    `json:"summary"`
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func runCurate(action string) func(ctx context.Context, env *Env, args []string) error {
	help := map[string]string{
		"feature":   "Feature items: curated outputs (curated = true) publish only featured items, and\nretention never prunes them.",
		"unfeature": "Remove the feature from items.",
		"hide":      "Hide items: no output publishes them, whatever its rules.",
		"unhide":    "Show hidden items again.",
	}[action]
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags(env, action, "[-config FILE] ITEM_ID ...", help+`

Item ids are as 'syndic items' prints them (SOURCE:HEX). A running
'syndic serve' on the same database reflects the change within a second.`)
		ids, err := fs.parse(args)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return &usageError{msg: "name at least one item id (see 'syndic items')"}
		}
		cfg, st, err := openConfigStore(ctx, env, *fs.config, false)
		if err != nil {
			return err
		}
		defer closeStore(newLogger(env.Stderr, cfg), st)
		var failed bool
		for _, id := range ids {
			if err := curate(ctx, st, action, id, time.Now()); err != nil {
				failed = true
				if errors.Is(err, store.ErrNotFound) {
					fmt.Fprintf(env.Stderr, "syndic %s: no item %q (see 'syndic items')\n", action, id)
					continue
				}
				fmt.Fprintf(env.Stderr, "syndic %s: %s: %v\n", action, id, err)
				continue
			}
			fmt.Fprintf(env.Stdout, "%sd %s\n", action, id)
		}
		if failed {
			return errSilent
		}
		return nil
	}
}

// curate applies a curation action to one item.
func curate(ctx context.Context, st *store.Store, action, id string, now time.Time) error {
	switch action {
	case "feature":
		return st.SetFeatured(ctx, id, true, now)
	case "unfeature":
		return st.SetFeatured(ctx, id, false, now)
	case "hide":
		return st.SetHidden(ctx, id, true, now)
	case "unhide":
		return st.SetHidden(ctx, id, false, now)
	}
	return fmt.Errorf("unknown curation action %q", action)
}

func runVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "version", "", "Print syndic's version.")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "syndic", Version())
	return nil
}

func runCheck(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "check", "[-config FILE]", `
Load and validate the configuration. Prints one line with counts when it is
valid; otherwise prints every problem, one per line, as
FILE:LINE:COLUMN: KEY: MESSAGE, and exits with status 1.`)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	path := *fs.config
	if len(pos) == 1 {
		path = pos[0]
	} else if len(pos) > 1 {
		return &usageError{msg: "check takes at most one file"}
	}
	cfg, err := loadConfig(env, path)
	if err != nil {
		return err
	}
	enabled := len(cfg.EnabledSources())
	fmt.Fprintf(env.Stdout, "OK %s: %d sources (%d enabled), %d outputs\n", cfg.Path, len(cfg.Sources), enabled, len(cfg.Outputs))
	return nil
}
