package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/mmcdole/gofeed"
	_ "modernc.org/sqlite" // the baseline's own database, see the package doc
)

// RawOptions configure one pass of the raw limit.
type RawOptions struct {
	URLs    []string
	Workers int // concurrent fetches; default 16
	// DBPath, when set, stores every parsed item in a plain SQLite table,
	// one transaction per feed; empty stores nothing.
	DBPath string
	// StatePath, when set, is a JSON file of the validators (ETag,
	// Last-Modified) of the previous pass: read before the pass, so that
	// requests are conditional, and written after it.
	StatePath string
}

// RawResult counts what a raw pass did.
type RawResult struct {
	Fetched     int `json:"fetched"`      // 200 responses parsed
	NotModified int `json:"not_modified"` // 304 responses
	Errors      int `json:"errors"`
	Items       int `json:"items"`    // items parsed
	Inserted    int `json:"inserted"` // items new to the table (DBPath only)
	// FirstError is an example failure, for the report.
	FirstError string `json:"first_error,omitempty"`
}

// validator is the conditional-request state of one feed.
type validator struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// rawSchema is the simplest table a naive aggregator would keep: the
// unique key makes a re-poll's inserts of known items no-ops.
const rawSchema = `
CREATE TABLE IF NOT EXISTS items (
	id        INTEGER PRIMARY KEY,
	source    TEXT NOT NULL,
	guid      TEXT NOT NULL,
	title     TEXT NOT NULL,
	link      TEXT NOT NULL,
	published INTEGER NOT NULL,
	content   TEXT NOT NULL,
	UNIQUE (source, guid)
)`

// RawPass fetches every URL once with opts.Workers in flight, parses each
// document with gofeed and, with DBPath, stores the items. It is the
// "raw limit" syndic is compared with: no politeness, no normalization,
// no deduplication, nothing but the unavoidable work.
func RawPass(ctx context.Context, opts RawOptions) (RawResult, error) {
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	state := map[string]validator{}
	if opts.StatePath != "" {
		b, err := os.ReadFile(opts.StatePath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return RawResult{}, fmt.Errorf("read raw state %s: %w", opts.StatePath, err)
		default:
			if err := json.Unmarshal(b, &state); err != nil {
				return RawResult{}, fmt.Errorf("read raw state %s: %w", opts.StatePath, err)
			}
		}
	}
	var db *sql.DB
	if opts.DBPath != "" {
		var err error
		if db, err = openRawDB(ctx, opts.DBPath); err != nil {
			return RawResult{}, err
		}
		defer db.Close()
	}
	client := &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: opts.Workers,
			MaxConnsPerHost:     opts.Workers,
			IdleConnTimeout:     time.Minute,
		},
	}
	defer client.CloseIdleConnections()

	var (
		mu   sync.Mutex
		res  RawResult
		next = make(map[string]validator, len(opts.URLs))
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	queue := make(chan string)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(func() {
			parser := gofeed.NewParser()
			for u := range queue {
				mu.Lock()
				v := state[u]
				mu.Unlock()
				out, err := rawOne(ctx, client, parser, db, u, v)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				next[u] = out.validator
				if out.notModified {
					res.NotModified++
				} else {
					res.Fetched++
				}
				res.Items += out.items
				res.Inserted += out.inserted
				mu.Unlock()
			}
		})
	}
	for _, u := range opts.URLs {
		if ctx.Err() != nil {
			break
		}
		queue <- u
	}
	close(queue)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("raw pass: %w", err)
	}
	if opts.StatePath != "" {
		b, err := json.Marshal(next)
		if err != nil {
			return res, fmt.Errorf("write raw state: %w", err)
		}
		if err := os.WriteFile(opts.StatePath, b, 0o644); err != nil {
			return res, fmt.Errorf("write raw state: %w", err)
		}
	}
	return res, nil
}

type rawOutcome struct {
	validator
	notModified     bool
	items, inserted int
}

func rawOne(ctx context.Context, client *http.Client, parser *gofeed.Parser, db *sql.DB, u string, v validator) (rawOutcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return rawOutcome{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		return rawOutcome{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return rawOutcome{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	out := rawOutcome{validator: validator{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}
	switch resp.StatusCode {
	case http.StatusNotModified:
		out.notModified = true
		if out.ETag == "" {
			out.validator = v
		}
		return out, nil
	case http.StatusOK:
	default:
		return rawOutcome{}, fmt.Errorf("fetch %s: status %d", u, resp.StatusCode)
	}
	feed, err := parser.Parse(bytes.NewReader(body))
	if err != nil {
		return rawOutcome{}, fmt.Errorf("parse %s: %w", u, err)
	}
	out.items = len(feed.Items)
	if db != nil {
		if out.inserted, err = rawStore(ctx, db, u, feed.Items); err != nil {
			return rawOutcome{}, err
		}
	}
	return out, nil
}

func openRawDB(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open raw database %s: %w", path, err)
	}
	// One writer, as SQLite allows; the workers queue for it.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, rawSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create raw items table in %s: %w", path, err)
	}
	return db, nil
}

// rawStore inserts a feed's items in one transaction and returns how many
// were new.
func rawStore(ctx context.Context, db *sql.DB, source string, items []*gofeed.Item) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store items of %s: %w", source, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO items (
		source,
		guid,
		title,
		link,
		published,
		content
	) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("store items of %s: %w", source, err)
	}
	defer stmt.Close()
	n := 0
	for _, it := range items {
		guid := it.GUID
		if guid == "" {
			guid = it.Link
		}
		var published int64
		if it.PublishedParsed != nil {
			published = it.PublishedParsed.UnixMilli()
		}
		content := it.Content
		if content == "" {
			content = it.Description
		}
		r, err := stmt.ExecContext(ctx, source, guid, it.Title, it.Link, published, content)
		if err != nil {
			return 0, fmt.Errorf("store item %q of %s: %w", guid, source, err)
		}
		k, _ := r.RowsAffected()
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store items of %s: %w", source, err)
	}
	return n, nil
}
