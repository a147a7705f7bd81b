package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

// BuildSyndic builds ./cmd/syndic of the module the current directory is
// in into dir and returns the binary's path. It is built as README says a
// release is, static and without cgo, so that what is measured is what
// ships.
func BuildSyndic(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find module root: not inside the syndic module")
	}
	bin := filepath.Join(dir, "syndic")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/syndic")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build syndic: %w\n%s", err, out)
	}
	return bin, nil
}

// ConfigOptions are the harness's settings of a syndic configuration.
type ConfigOptions struct {
	DBPath  string
	Workers int // fetch.concurrency and fetch.per_host
	// Serve adds the settings `syndic serve` needs: a free port, and
	// every source fetched at once rather than spread over a minute.
	Serve bool
	// FarmURL is the farm's base URL when it serves through a server of
	// its caller's rather than Start; empty for a started farm.
	FarmURL string
}

// WriteSyndicConfig writes a syndic configuration for farm to path.
func WriteSyndicConfig(farm *feedfarm.Farm, path string, opts ConfigOptions) error {
	var b bytes.Buffer
	co := feedfarm.ConfigOptions{
		StoragePath: opts.DBPath,
		FarmURL:     opts.FarmURL,
		Listen:      "127.0.0.1:0",
		Concurrency: opts.Workers,
		// The farm is one host (127.0.0.1): real-world politeness (2 per
		// host, 1 s apart) would fetch 500 sources one pair per second
		// and measure the politeness, not syndic. feedfarm says so in the
		// file too.
		PerHost:      opts.Workers,
		HostInterval: "0s",
	}
	if err := farm.WriteConfig(&b, co); err != nil {
		return err
	}
	text := b.String()
	if opts.Serve {
		const anchor = "host_interval = \"0s\"\n"
		text = strings.Replace(text, anchor, anchor+
			"# The benchmark measures ingestion at full speed: every source is due at\n"+
			"# start and none is staggered.\n"+
			"startup_spread = \"0s\"\n", 1)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write syndic config: %w", err)
	}
	return nil
}

// expected accumulates what the farm has published: every item of every
// generation a system was asked to ingest, by source id.
type expected map[string]map[string]bool

func (e expected) add(farm *feedfarm.Farm) {
	for i := range farm.Sources() {
		id := feedfarm.SourceID(i)
		set := e[id]
		if set == nil {
			set = map[string]bool{}
			e[id] = set
		}
		for _, it := range farm.ExpectedItems(i) {
			set[it.GUID] = true
		}
	}
}

func (e expected) total() int {
	n := 0
	for _, s := range e {
		n += len(s)
	}
	return n
}

// Check is how syndic's database compares with what the farm published.
type Check struct {
	Stored     int // rows in items
	Expected   int
	Missing    int // published, not stored: loss
	Extra      int // stored, never published
	Duplicates int // items stored as joining another source's story
}

// checkSyndicDB reads syndic's database, read-only, and compares it with
// exp. An item's GUID is its guid column, or its key without the "guid:"
// prefix when the store left the guid out as redundant.
func checkSyndicDB(ctx context.Context, path string, exp expected) (Check, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return Check{}, fmt.Errorf("open syndic database %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT
		source_id,
		key,
		coalesce(guid, ''),
		story_id IS NOT NULL
	FROM items`)
	if err != nil {
		return Check{}, fmt.Errorf("read items of %s: %w", path, err)
	}
	defer rows.Close()
	c := Check{Expected: exp.total()}
	seen := map[string]map[string]bool{}
	for rows.Next() {
		var src, key, guid string
		var dup bool
		if err := rows.Scan(&src, &key, &guid, &dup); err != nil {
			return Check{}, fmt.Errorf("read items of %s: %w", path, err)
		}
		c.Stored++
		if dup {
			c.Duplicates++
		}
		if guid == "" {
			guid = strings.TrimPrefix(key, "guid:")
		}
		if seen[src] == nil {
			seen[src] = map[string]bool{}
		}
		seen[src][guid] = true
		if !exp[src][guid] {
			c.Extra++
		}
	}
	if err := rows.Err(); err != nil {
		return Check{}, fmt.Errorf("read items of %s: %w", path, err)
	}
	for src, set := range exp {
		for g := range set {
			if !seen[src][g] {
				c.Missing++
			}
		}
	}
	return c, nil
}

// countRows counts the rows of a table (the raw baseline's items).
func countRows(ctx context.Context, path, table string) (int, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s in %s: %w", table, path, err)
	}
	return n, nil
}

// dbBytes is the size of a SQLite database with its -wal file (the -shm
// index is a cache, rebuilt on open).
func dbBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
