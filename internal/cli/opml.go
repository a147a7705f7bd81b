package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/syndic-dev/syndic/config"
	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/opml"
	"github.com/syndic-dev/syndic/internal/store"
)

// maxOPMLBytes bounds an imported file: a reader's export of thousands of
// feeds is a few hundred KB.
const maxOPMLBytes = 32 << 20

func runOPML(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(env.Stderr, opmlHelp)
			return nil
		}
		return &usageError{msg: "use 'syndic opml export' or 'syndic opml import FILE'"}
	}
	if args[0] == "export" {
		return runOPMLExport(ctx, env, args[1:])
	}
	return runOPMLImport(ctx, env, args[1:])
}

const opmlHelp = `Usage: syndic opml export [-config FILE] [-o FILE]
       syndic opml import [-config FILE] [-write] OPML_FILE

export writes the configured sources as OPML 2.0 (titles, feed and site
URLs, tags as categories) for another reader. The feed URLs are written as
configured, credentials included: the export is the operator's copy. The
/sources.opml that serve publishes (server.publish_opml = true) leaves out
the sources whose URL holds a password or a secret query parameter
(token=, api_key=, ...).

import reads another reader's OPML export (nested folders become tags) and
prints [[source]] blocks for the feeds not configured yet; with -write it
appends them to the config file, keeping its content and comments, and
checks the result before replacing the file. Feeds already configured are
skipped and reported on stderr.
`

func runOPMLExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "opml export", "[-config FILE] [-o FILE]", "Write the configured sources as OPML 2.0.")
	outFile := fs.String("o", "", "write to `file` instead of stdout")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *fs.config)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := exportOPML(ctx, &buf, cfg, nil, false); err != nil {
		return err
	}
	if *outFile == "" {
		_, err := env.Stdout.Write(buf.Bytes())
		return err
	}
	return writeFileAtomic(*outFile, buf.Bytes())
}

// exportOPML writes cfg's sources, with site URLs from st when it is
// given. A public export leaves out the sources whose URL carries a
// credential: their URL is a secret, and without the credential it would
// not subscribe anyone.
func exportOPML(ctx context.Context, w io.Writer, cfg *config.Config, st *store.Store, public bool) error {
	sites := map[string]string{}
	if st != nil {
		states, err := st.SourceStates(ctx)
		if err != nil {
			return fmt.Errorf("read source states: %w", err)
		}
		for _, s := range states {
			sites[s.SourceID] = s.SiteURL
		}
	}
	srcs := make([]opml.Source, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		if public && credential.HasSecret(s.URL) {
			continue
		}
		srcs = append(srcs, opml.Source{ID: s.ID, URL: s.URL, Title: s.Title, SiteURL: sites[s.ID], Tags: s.Tags})
	}
	if err := opml.Export(w, "syndic sources", srcs, time.Now()); err != nil {
		return fmt.Errorf("export opml: %w", err)
	}
	return nil
}

func runOPMLImport(_ context.Context, env *Env, args []string) error {
	fs := newFlags(env, "opml import", "[-config FILE] [-write] OPML_FILE", `
Turn another reader's OPML export into [[source]] blocks: printed on stdout,
or appended to the config file with -write (existing content and comments
are kept; the result is validated before the file is replaced). Nested
folders become tags. Feeds whose URL is already configured are skipped and
reported on stderr.`)
	write := fs.Bool("write", false, "append the new sources to the config file")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "name exactly one OPML file"}
	}
	cfg, err := loadConfig(env, *fs.config)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("read opml: %w", err)
	}
	defer f.Close()
	feeds, err := opml.Parse(io.LimitReader(f, maxOPMLBytes))
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	res := opml.Import(cfg, feeds)
	for _, s := range res.Skipped {
		fmt.Fprintf(env.Stderr, "skipped %s: %s\n", credential.Redact(s.Feed.URL), s.Reason)
	}
	if !*write {
		fmt.Fprint(env.Stdout, res.Blocks)
		fmt.Fprintf(env.Stderr, "%d new sources, %d skipped\n", len(res.Added), len(res.Skipped))
		return nil
	}
	if len(res.Added) == 0 {
		fmt.Fprintf(env.Stdout, "nothing to add to %s (%d skipped)\n", cfg.Path, len(res.Skipped))
		return nil
	}
	if err := opml.AppendToConfig(cfg.Path, res.Blocks); err != nil {
		printConfigErrors(env.Stderr, err)
		return fmt.Errorf("append to %s: config unchanged", cfg.Path)
	}
	fmt.Fprintf(env.Stdout, "added %d sources to %s (%d skipped); 'syndic serve' picks them up on its next reload\n", len(res.Added), cfg.Path, len(res.Skipped))
	return nil
}

// opmlHandler serves GET /sources.opml from the running configuration.
func (d *daemon) opmlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := exportOPML(r.Context(), &buf, d.cfg.Load(), d.store, true); err != nil {
			d.log.Error("export opml", "error", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/x-opml; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(buf.Bytes())
	})
}
