package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// Checkpoints copy the WAL back into the database file and fsync both.
// SQLite runs them on the connection whose commit crossed
// wal_autocheckpoint, which here is the writer: a first ingest of 200,000
// items spent 6 of its 30 s with the writer blocked in a checkpoint's
// fsync while every fetch waited for the writer. A checkpointer runs them
// on a connection of its own instead, so commits go on while the pages are
// copied; a PASSIVE checkpoint takes no lock that a writer or reader waits
// for.
//
// The writer counts the pages its commits wrote to the WAL (SQLite's
// SQLITE_DBSTATUS_CACHE_WRITE) and wakes the checkpointer every
// checkpointPages pages, SQLite's own default interval, or up to four
// times as many in a large database (checkpointInterval). Its own
// wal_autocheckpoint is a safety net: should the checkpointer fall behind
// or fail, the writer still checkpoints and the WAL stays bounded.
//
// The log starts over from its beginning only when a write transaction
// begins with every frame copied, and while the writer commits without a
// pause the checkpointer never catches up with it: during a long ingest
// the WAL grows to the writer's wal_autocheckpoint, and the writer's own
// checkpoint, which copies the last frames and syncs both files while
// every fetch waits, starts it over. At 10,000x50 that happened 44 times
// with 8,000 pages, and the writer blocked in those syncs for most of the
// moments when both cores had nothing to do. The safety net therefore
// grows with the database (walSafetyPages): as many pages as the
// database has, from 8,000 to 32,000 (125 to 500 MiB of WAL), so that a
// large ingest restarts the log 4 times less often, while a small one,
// whose WAL would otherwise never start over, keeps its log small (500x50
// was 5% slower with 32,000 from the start). When writes pause, the
// checkpointer copies every frame and the log starts over at the next
// write; after truncateIdle without a wake-up, the checkpointer also
// truncates the file, which would otherwise keep its high-water size
// until the database is closed.
const (
	checkpointPages   = 1000
	walSafetyMinPages = 8 * checkpointPages
	walSafetyMaxPages = 32 * checkpointPages
	truncateIdle      = time.Minute
)

// checkpointBusyTimeout is the checkpointer's busy timeout. Only its
// truncating checkpoint waits: it holds the write lock while it waits for
// readers of the log, and a writer waiting behind it gives up after
// busyTimeout, so it gives up much sooner and tries at the next pause.
const checkpointBusyTimeout = 250 * time.Millisecond

// walSafetyPages is the writer's wal_autocheckpoint for a database of
// dbPages pages.
func walSafetyPages(dbPages int64) int64 {
	return min(max(dbPages, walSafetyMinPages), walSafetyMaxPages)
}

// checkpointInterval is the checkpointer's interval for a database of
// dbPages pages: an eighth of the safety net, so checkpointPages for a
// small database and up to four times that for a large one. A checkpoint
// copies the newest frame of every page written since the last one, and
// a large ingest writes the same index and key pages again and again:
// at 10,000x50, 4,000 pages instead of 1,000 took 50.7, 50.0 and 49.8 s
// against 57.3, 51.5 and 51.1 s, with 1-10 s less CPU. At 500x50 (a
// 70 MB database) 4,000 pages were no faster, and they leave more to
// copy when writes pause.
func checkpointInterval(dbPages int64) int64 {
	return walSafetyPages(dbPages) / (walSafetyMinPages / checkpointPages)
}

// checkpointer runs PASSIVE checkpoints on its own connection when woken.
type checkpointer struct {
	db      *sql.DB
	log     *slog.Logger
	path    string
	every   atomic.Int64  // pages between checkpoints (resize)
	fixed   bool          // every is a test's and stays
	idle    time.Duration // quiet time before the WAL file is truncated
	pending atomic.Int64  // pages written since the last wake-up
	total   atomic.Int64  // pages written since Open (logged at Close)
	wake    chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup
	// ran, when set (tests), receives each checkpoint's outcome.
	ran chan checkpointResult
}

// checkpointResult is what PRAGMA wal_checkpoint reports.
type checkpointResult struct {
	frames    int // frames in the WAL
	copied    int // frames copied into the database, this time or before
	truncated bool
	err       error
}

// startCheckpointer opens the checkpointer's connection and its goroutine.
func (s *Store) startCheckpointer(opts Options) error {
	db, err := sql.Open("sqlite", dsn(s.path, connCheckpoint))
	if err != nil {
		return fmt.Errorf("open checkpoint connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{
		db:    db,
		log:   s.log,
		path:  s.path,
		fixed: opts.checkpointEvery != 0,
		idle:  cmp.Or(opts.checkpointIdle, truncateIdle),
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		ran:   opts.checkpointRan,
	}
	c.every.Store(cmp.Or(opts.checkpointEvery, checkpointPages))
	s.ckpt = c
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run()
	}()
	return nil
}

func (c *checkpointer) run() {
	// idle fires once writes have paused for c.idle after a checkpoint.
	idle := time.NewTimer(c.idle)
	idle.Stop()
	defer idle.Stop()
	for {
		var res checkpointResult
		select {
		case <-c.quit:
			return
		case <-c.wake:
			res = c.checkpoint("PASSIVE")
			if res.err != nil {
				// The writer's own autocheckpoint still bounds the WAL.
				c.log.Warn("checkpoint failed", "path", c.path, "error", res.err)
			}
			idle.Reset(c.idle)
		case <-idle.C:
			res = c.checkpoint("TRUNCATE")
			if res.err != nil {
				// Only the file's size is at stake: the next pause tries again.
				c.log.Debug("WAL file not truncated", "path", c.path, "error", res.err)
			}
		}
		if c.ran != nil {
			select {
			case c.ran <- res:
			default:
			}
		}
	}
}

// checkpoint runs a checkpoint of mode PASSIVE, which never waits for a
// lock, or TRUNCATE, which waits up to the busy timeout for the writer
// and for readers of the log and leaves the WAL file empty.
func (c *checkpointer) checkpoint(mode string) checkpointResult {
	var busy, frames, copied int // busy: a reader or the writer kept it from finishing
	// Not tied to a caller: stop waits for it.
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied)
	if err != nil {
		return checkpointResult{err: fmt.Errorf("checkpoint database %q (%s): %w", c.path, mode, err)}
	}
	if mode == "TRUNCATE" && busy != 0 {
		return checkpointResult{frames: frames, copied: copied, err: fmt.Errorf("checkpoint database %q (%s): busy", c.path, mode)}
	}
	return checkpointResult{frames: frames, copied: copied, truncated: mode == "TRUNCATE"}
}

// resize sets the interval for a database of dbPages pages
// (checkpointInterval), unless a test fixed it.
func (c *checkpointer) resize(dbPages int64) {
	if c == nil || c.fixed {
		return
	}
	c.every.Store(checkpointInterval(dbPages))
}

// wrote records pages written to the WAL and wakes the checkpointer when
// enough have piled up since the last wake-up.
func (c *checkpointer) wrote(pages int) {
	if c == nil || pages <= 0 {
		return
	}
	c.total.Add(int64(pages))
	if c.pending.Add(int64(pages)) < c.every.Load() {
		return
	}
	c.pending.Store(0)
	select {
	case c.wake <- struct{}{}:
	default: // already woken; it will see these pages too
	}
}

// stop ends the goroutine after the checkpoint in progress and closes the
// connection, so that the writer's connection is the last to close.
func (c *checkpointer) stop() error {
	if c == nil {
		return nil
	}
	close(c.quit)
	c.wg.Wait()
	return c.db.Close()
}

// walPagesWritten returns how many pages the writer connection has written
// to the WAL since the last call (SQLITE_DBSTATUS_CACHE_WRITE, reset on
// read).
func walPagesWritten(ctx context.Context, db *sql.DB) (int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int
	err = conn.Raw(func(dc any) error {
		st, ok := dc.(sqlite.DBStatus)
		if !ok {
			return fmt.Errorf("driver connection %T has no status counters", dc)
		}
		var serr error
		n, _, serr = st.Status(sqlite.DBStatusCacheWrite, true)
		return serr
	})
	if err != nil {
		return 0, fmt.Errorf("read pages written to the WAL: %w", err)
	}
	return n, nil
}
