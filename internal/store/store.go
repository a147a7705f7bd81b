// Package store owns syndic's SQLite database: it is the only holder of a
// *sql.DB. It keeps per-source fetch state, items with their stories and
// tombstones, and the full-text index, behind methods that each run in one
// transaction. Writes funnel through a single connection; reads use a pool
// of query-only connections that WAL lets run beside the writer.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a source or item does not exist.
var ErrNotFound = errors.New("not found")

// ErrReadOnly is returned by methods that write when the store was opened
// with Options.ReadOnly.
var ErrReadOnly = errors.New("store is read-only")

// ErrInvalidSearch wraps the error of an FTS5 query the user got wrong.
var ErrInvalidSearch = errors.New("invalid search query")

// busyTimeout is how long a connection waits for a lock before giving up.
// Readers never wait in WAL mode; the writer waits for checkpoints and
// for another process (a CLI command beside the server).
const busyTimeout = 10 * time.Second

// pageSize is the page size of a new database.
const pageSize = 16384

// readers is the size of the query-only pool. The machine is small and
// SQLite reads are CPU bound, so a few connections are enough.
const readers = 4

// prepareReaders is how many of the readers SaveFetch's preparation may
// hold at once, so that at least one stays free for readers of outputs
// while ingestion runs at full speed.
const prepareReaders = readers - 1

// Options tune Open.
type Options struct {
	// Logger receives migration notices; nil discards them.
	Logger *slog.Logger
	// ReadOnly opens an existing, migrated database for reading only: no
	// file is created, no migration runs and writing methods return
	// ErrReadOnly.
	ReadOnly bool
	// AsyncStateSaves makes SaveFetch of an update without items (a 304,
	// a failed fetch) queue the source's state and return at once,
	// instead of waiting for its commit. Flush waits for the queued
	// states and reports their errors; Close writes those still queued.
	// An all-304 pass of 10,000 sources otherwise runs 10,000 commits
	// one after the other.
	AsyncStateSaves bool

	// checkpointEvery, checkpointIdle and checkpointRan tune and observe
	// the checkpointer in tests (checkpoint.go); zero values mean
	// checkpointPages, truncateIdle and none.
	checkpointEvery int64
	checkpointIdle  time.Duration
	checkpointRan   chan checkpointResult
	// searchBatch and searchIdle override the constants of the same
	// names in tests; searchIndexed, when set, receives the outcome of
	// every idle indexing of the batcher (search.go).
	searchBatch   int64
	searchIdle    time.Duration
	searchIndexed chan error
}

// Store is syndic's database. Every method is safe for concurrent use.
type Store struct {
	path   string
	log    *slog.Logger
	writer *sql.DB  // one connection; nil when read-only
	reader *sql.DB  // query-only pool
	batch  *batcher // runs SaveFetch calls; nil when read-only
	// asyncState is Options.AsyncStateSaves.
	asyncState bool
	stmts      stmtCache            // the batcher's statements, prepared on the writer
	readStmts  map[string]*sql.Stmt // readQueries, prepared on the reader pool
	// prepareSlots holds a token per read that prepare has running.
	prepareSlots chan struct{}
	clock        writeClock    // commits, and other processes' (clock.go)
	ckpt         *checkpointer // nil when read-only (checkpoint.go)
	// stories is the story keys of the items, in memory (storyindex.go):
	// the writer's alone.
	stories storyIndex
	// searchPending counts the items waiting for the full-text index,
	// give or take other processes' (search.go). The batcher indexes
	// searchChunk of them at a time once it has had nothing to write for
	// searchIdleAfter; searchIndexed is Options.searchIndexed.
	searchPending   atomic.Int64
	searchChunk     int64
	searchIdleAfter time.Duration
	searchIndexed   chan error
	// maintainFailing and indexFailing say the last maintain and the last
	// idle indexing failed (batch.go, search.go); indexWait holds idle
	// indexing back after a failure until the next batch. The batcher's
	// alone.
	maintainFailing bool
	indexFailing    bool
	indexWait       bool
	// sinceSized counts the batches since the batcher last looked at the
	// database's size (sizeWriter). The batcher's alone.
	sinceSized int

	// tempDir holds a throwaway database (MemoryPath); Close removes it.
	tempDir string

	closeOnce sync.Once
	closeErr  error
}

// MemoryPath, as Open's path, asks for a throwaway database: a file in a
// directory of its own under the system's temporary directory, which
// Close removes. SQLite's own in-memory databases do not serve here: each
// connection gets its own, and shared ones take table locks that a busy
// timeout does not wait on, so the writer and the readers would not see
// the same data or would fail each other.
const MemoryPath = ":memory:"

// Open opens the database at path, creating and migrating it as needed.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tempDir string
	if path == MemoryPath {
		if opts.ReadOnly {
			return nil, fmt.Errorf("open database %q read-only: a throwaway database has nothing to read (set storage.path to a database file)", path)
		}
		dir, err := os.MkdirTemp("", "syndic-memory-")
		if err != nil {
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
		tempDir, path = dir, filepath.Join(dir, "syndic.db")
	}
	opened := false
	defer func() {
		if !opened && tempDir != "" {
			os.RemoveAll(tempDir)
		}
	}()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	s := &Store{path: abs, tempDir: tempDir, log: log, asyncState: opts.AsyncStateSaves,
		searchChunk: cmp.Or(opts.searchBatch, searchBatch), searchIdleAfter: cmp.Or(opts.searchIdle, searchIdle), searchIndexed: opts.searchIndexed}
	s.stories.log = log
	if err := registerFunctions(); err != nil {
		return nil, fmt.Errorf("open database %q: register functions: %w", path, err)
	}
	if err := configurePageCache(); err != nil {
		log.Debug("page slots not used", "error", err)
	}
	if opts.ReadOnly {
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("open database %q read-only: %w", path, err)
		}
	} else {
		s.writer, err = sql.Open("sqlite", dsn(abs, connWriter))
		if err != nil {
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
		// One writer connection: SQLite allows one writer at a time anyway,
		// and queueing in database/sql (which honours ctx) beats spinning
		// in the busy handler.
		s.writer.SetMaxOpenConns(1)
		s.writer.SetMaxIdleConns(1)
		s.writer.SetConnMaxLifetime(0)
		s.writer.SetConnMaxIdleTime(0)
		if err := s.migrate(ctx); err != nil {
			s.writer.Close()
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
		if err := s.readWriterState(ctx); err != nil {
			s.writer.Close()
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
	}
	s.reader, err = sql.Open("sqlite", dsn(abs, connReader))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	s.reader.SetMaxOpenConns(readers)
	s.reader.SetMaxIdleConns(readers)
	s.prepareReads(ctx)
	s.prepareSlots = make(chan struct{}, prepareReaders)
	if s.writer != nil {
		if err := s.startCheckpointer(opts); err != nil {
			s.Close()
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
		// After the checkpointer, so that a large database starts with
		// its interval (checkpointInterval), not checkpointPages.
		if err := s.sizeWriter(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
		s.startBatcher()
	}
	if opts.ReadOnly {
		if err := s.checkVersion(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("open database %q read-only: %w", path, err)
		}
	}
	opened = true
	return s, nil
}

// readWriterState reads what the writer keeps count of between commits:
// the items waiting for the search index, and the writer connection's
// first data version, so that other processes' commits after it are seen
// at the next write (storyindex.go needs every one).
func (s *Store) readWriterState(ctx context.Context) error {
	if err := s.countSearchPending(ctx); err != nil {
		return err
	}
	var v int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return fmt.Errorf("read data version: %w", err)
	}
	s.clock.checkDataVersion(v)
	return nil
}

// The writer's page cache grows with the database: writerCacheShare of
// its size, from writerCacheMin (SQLite's default) to writerCacheMax, in
// whole MiB. Inserts land all over the indexes that are not in arrival
// order (items by id and by date, story keys by hash); once those outgrow
// the cache, every insert reads its leaf page back from the file and
// spills dirty pages into the WAL before the commit. At 10,000x50 (a
// 1.1 GB database) the writer made 574,000 read and 1,047,000 write system
// calls with 2 MiB, 209,000 and 848,000 with 32 MiB, and spent 3.6 s less
// CPU; each call is also a moment the writer may lose its Go processor. A
// fixed 32 MiB would cost a small database's ingest as much RSS as its
// whole index (500x50: about 65 MB of database); a sixteenth costs it 4.
const (
	writerCacheMin   = 2 << 20
	writerCacheMax   = 32 << 20
	writerCacheShare = 16
	// sizeEvery is how many batches the batcher runs between two looks at
	// the database's size (sizeWriter).
	sizeEvery = 64
)

// writerCacheBytes is the writer's page cache for a database of dbBytes.
func writerCacheBytes(dbBytes int64) int64 {
	c := (dbBytes / writerCacheShare) &^ (1<<20 - 1)
	return min(max(c, writerCacheMin), writerCacheMax)
}

// sizeWriter sets the writer's page cache (writerCacheBytes), its
// autocheckpoint (walSafetyPages) and the checkpointer's interval
// (checkpointInterval) for the database's size now. Only the batcher and
// Open call it.
func (s *Store) sizeWriter(ctx context.Context) error {
	var pages, size, cacheKiB, autoPages int64
	err := s.writer.QueryRowContext(ctx, "SELECT page_count, page_count * page_size, -cache_size FROM pragma_page_count(), pragma_page_size(), pragma_cache_size()").Scan(&pages, &size, &cacheKiB)
	if err != nil {
		return fmt.Errorf("read database size: %w", err)
	}
	if err := s.writer.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&autoPages); err != nil {
		return fmt.Errorf("read writer autocheckpoint: %w", err)
	}
	if want := writerCacheBytes(size) >> 10; want != cacheKiB {
		if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", want)); err != nil {
			return fmt.Errorf("set writer page cache to %d KiB: %w", want, err)
		}
	}
	s.ckpt.resize(pages)
	if want := walSafetyPages(pages); want != autoPages {
		if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", want)); err != nil {
			return fmt.Errorf("set writer autocheckpoint to %d pages: %w", want, err)
		}
	}
	return nil
}

// Kinds of connection.
const (
	connWriter = iota
	connReader
	connBackup
	connCheckpoint
)

// dsn builds the connection string for a kind of connection. Every
// setting is a _pragma so that each connection a pool opens gets it, not
// only the first.
func dsn(path string, kind int) string {
	q := url.Values{}
	timeout := busyTimeout
	if kind == connCheckpoint {
		timeout = checkpointBusyTimeout
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", timeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	switch kind {
	case connReader:
		q.Add("_pragma", "query_only(1)")
		// A reader's page cache lives as long as its connection and each
		// of the readers has one; the OS caches the file anyway. 1 MB
		// instead of the default 2 MB kept 4 MB off a first ingest's peak
		// RSS at 500x50 without a measurable cost.
		q.Add("_pragma", "cache_size(-1024)")
	case connCheckpoint:
		// A checkpoint copies pages from the WAL through a buffer of its
		// own; a page cache would only add to the process's RSS.
		q.Add("_pragma", "cache_size(-64)")
	case connWriter:
		// Items are 2-4 KB; in 4 KB pages most would sit alone and waste
		// a third of the file. page_size only takes effect on a new file,
		// so it must come before journal_mode, which the driver applies
		// after every _pragma.
		q.Add("_pragma", fmt.Sprintf("page_size(%d)", pageSize))
		// journal_mode is persistent; setting it from the writer is enough.
		q.Set("_journal_mode", "WAL")
		// No journal_size_limit: SQLite would truncate the WAL file at every
		// restart of the log, and during a long ingest each truncation of
		// pages the kernel was still writing back blocked the writer (27%
		// of the moments when every fetch waited for it). The checkpointer
		// truncates the file once writes pause instead (checkpoint.go).
		// The checkpointer copies the WAL back every checkpointPages
		// pages or more; the writer only does when it falls far behind,
		// at a point that grows with the database (sizeWriter).
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyMinPages))
		q.Set("_txlock", "immediate")
		// temp_store(MEMORY) was measured and left out: at a first ingest
		// of 25,000 items it saved no time and added 120 MB of peak RSS
		// (the statement journal lives in the C allocator). The page
		// cache grows with the database (sizeWriter).
	}
	// A file: URI escapes '?' and '#' in the path, which the plain form
	// cannot carry.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), OmitHost: true, RawQuery: q.Encode()}
	return u.String()
}

// Close closes the database. The WAL is checkpointed by SQLite when the
// last connection closes. Calls after the first return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.stopBatcher()
	if s.stories.loaded && s.log.Enabled(context.Background(), slog.LevelDebug) {
		items, keys := s.stories.idx.Len()
		s.log.Debug("story index", "items", items, "keys", keys, "bytes", s.stories.idx.Bytes())
	}
	s.stories.forget() // the batcher's, which has ended
	var errs []error
	if s.writer != nil && s.log.Enabled(context.Background(), slog.LevelDebug) {
		used, usedMax, overflow := pageCacheStats()
		s.log.Debug("sqlite page slots", "slots", pageSlots, "used", used, "used_max", usedMax, "overflow_bytes_max", overflow)
		if s.ckpt != nil {
			s.log.Debug("wal pages written", "pages", s.ckpt.total.Load(), "page_size", pageSize)
		}
	}
	s.stmts.close()
	s.closeReads()
	if s.batch != nil {
		errs = append(errs, s.batch.takeErrors())
	}
	errs = append(errs, s.ckpt.stop())
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	if s.tempDir != "" {
		errs = append(errs, os.RemoveAll(s.tempDir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database %q: %w", s.path, err)
	}
	return nil
}

// write runs fn in one IMMEDIATE transaction on the writer and commits it
// unless fn fails or ctx ends first.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.writer == nil {
		return ErrReadOnly
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if s.ckpt != nil {
		// Not knowing is harmless: the counter keeps counting, and the
		// writer's own autocheckpoint bounds the WAL.
		if n, err := walPagesWritten(ctx, s.writer); err == nil {
			s.ckpt.wrote(n)
		}
	}
	return nil
}

// read runs fn in one read transaction on the reader pool, so that it sees
// a single snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping database %q: %w", s.path, err)
	}
	return nil
}

// Size reports the database size in bytes (pages in use times page size,
// without the WAL).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.reader.QueryRowContext(ctx, `
		SELECT page_count * page_size
		FROM pragma_page_count(), pragma_page_size()`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of database %q: %w", s.path, err)
	}
	return n, nil
}

// ItemCount reports how many items are stored.
func (s *Store) ItemCount(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		return 0, fmt.Errorf("count items: %w", err)
	}
	return n, nil
}

// Optimize lets SQLite refresh the statistics its query planner uses.
// Run it now and then (daily) and before closing a long-lived store.
func (s *Store) Optimize(ctx context.Context) error {
	if s.writer == nil {
		return fmt.Errorf("optimize database: %w", ErrReadOnly)
	}
	if _, err := s.writer.ExecContext(ctx, "PRAGMA optimize"); err != nil {
		return fmt.Errorf("optimize database %q: %w", s.path, err)
	}
	return nil
}

// Checkpoint copies the WAL into the database and truncates it. Readers
// still on an old snapshot make it partial; that is not an error and the
// next checkpoint finishes the work.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.writer == nil {
		return fmt.Errorf("checkpoint database: %w", ErrReadOnly)
	}
	var busy, logPages, done int
	err := s.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
	if err != nil {
		return fmt.Errorf("checkpoint database %q: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent, compacted copy of the database to path,
// which must not exist. Writers go on meanwhile: the copy is made from a
// read snapshot.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("back up database to %q: %w", path, os.ErrExist)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("back up database to %q: %w", path, err)
	}
	// VACUUM INTO writes only the new file, yet SQLite refuses it on a
	// query-only connection; a connection of its own keeps both pools as
	// they are.
	db, err := sql.Open("sqlite", dsn(s.path, connBackup))
	if err != nil {
		return fmt.Errorf("back up database to %q: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("back up database to %q: %w", path, err)
	}
	return nil
}

// IntegrityCheck runs SQLite's integrity check and, when the store can
// write, the full-text index's own check. It returns "ok" or the problems
// found, one per line; the error is for failures to run the check.
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	rows, err := s.reader.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return "", fmt.Errorf("check database %q: %w", s.path, err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return "", fmt.Errorf("check database %q: %w", s.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("check database %q: %w", s.path, err)
	}
	rows.Close()
	if s.writer != nil {
		if err := s.checkSearchIndex(ctx); err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("check database %q: %w", s.path, err)
			}
			problems = append(problems, "full-text index: "+err.Error())
		}
	}
	if len(problems) == 0 {
		return "ok", nil
	}
	return strings.Join(problems, "\n"), nil
}

// checkSearchIndex runs the full-text index's own check and compares the
// items it holds with the stored ones. The check is spelled as an INSERT,
// so it needs the writer. The items pending for the index (search.go) go
// in first, within a transaction that is rolled back: checking writes
// nothing, so it works on a full disk too. Since migration 12 the index
// keeps no link to the items' text (it is contentless), so FTS5 checks
// its own structure and this check that every item, and nothing else,
// has an entry; which words an entry holds is not compared.
func (s *Store) checkSearchIndex(ctx context.Context) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // nothing is kept
	if _, err := indexPending(ctx, tx, -1); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO items_fts (items_fts, rank) VALUES ('integrity-check', 0)"); err != nil {
		return err
	}
	var missing, extra int64
	err = tx.QueryRowContext(ctx, `
		SELECT
			(SELECT count(*) FROM items AS i
			 WHERE NOT EXISTS (SELECT 1 FROM items_fts_docsize WHERE id = i.rowid)),
			(SELECT count(*) FROM items_fts_docsize AS d
			 WHERE NOT EXISTS (SELECT 1 FROM items WHERE rowid = d.id))`).Scan(&missing, &extra)
	switch {
	case err != nil:
		return err
	case missing > 0 || extra > 0:
		return fmt.Errorf("%d items have no entry and %d entries have no item", missing, extra)
	}
	return nil
}

// ms converts a time to the stored form: unix milliseconds UTC, 0 for the
// zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// jsonList encodes a list for a JSON column: NULL when empty.
func jsonList(l []string) (any, error) {
	if len(l) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// parseList decodes a JSON column written by jsonList.
func parseList(v sql.NullString) ([]string, error) {
	if !v.Valid || v.String == "" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(v.String), &l); err != nil {
		return nil, err
	}
	return l, nil
}

// jsonArray encodes values for `IN (SELECT value FROM json_each(?))`,
// which lets one prepared statement take a list of any length.
func jsonArray(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // []string always marshals
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
