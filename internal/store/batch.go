package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// Group commit. Every fetch's changes go in one transaction (they land
// together or not at all), yet a commit per fetch makes the writer rewrite
// the same index pages into the WAL hundreds of times a second when many
// fetches finish together: at 500 sources, commits were most of the
// writer's time. SaveFetch calls therefore queue for one goroutine, the
// batcher, which runs all the fetches waiting at that moment in one
// transaction. Batches form by themselves: while one commits, the next
// queues. A fetch that fails inside a batch makes the batcher roll the
// batch back and run each of its fetches alone, so one bad fetch costs
// the others time, never their data.

// Batch bounds: a batch ends at whichever comes first. They keep a batch's
// transaction short (other writers, such as curation from the API, wait
// for it) while amortizing the commit over many fetches.
//
// A save without items (a 304, a failure) is one small row of the sources
// table, so many more of those fit in a batch (see runBatcher).
const (
	maxBatchFetches = 64   // saves with items
	maxBatchSaves   = 1024 // saves of any kind
	maxBatchItems   = 4000
)

// saveReq is one SaveFetch waiting for the batcher.
type saveReq struct {
	ctx   context.Context
	u     model.FetchUpdate
	pre   *prepared
	res   model.SaveResult
	err   error
	done  chan struct{}
	async bool // queued by an asynchronous state save; nobody waits on done
}

// batcher owns the goroutine that runs queued fetches.
type batcher struct {
	queue chan *saveReq // SaveFetch calls, which wait for their commit
	// async holds the state-only saves of Options.AsyncStateSaves: the
	// caller goes on at once, Flush waits for them.
	async chan *saveReq
	// flush asks the batcher to write the asynchronous saves it holds.
	flush chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	mu       sync.Mutex
	pending  int             // async saves not yet written
	flushers int             // Flush calls waiting
	idle     []chan struct{} // closed when pending drops to 0
	errs     []error         // of async saves, for Flush and Close
	lost     int             // errors beyond maxAsyncErrors
}

// asyncQueue bounds the asynchronous state saves waiting: past it
// SaveFetch waits for room, so a stalled writer slows fetching down
// instead of growing memory.
const asyncQueue = 1024

// maxAsyncErrors bounds the errors of asynchronous saves kept for Flush.
const maxAsyncErrors = 10

// errClosed is returned by SaveFetch once Close has begun.
var errClosed = errors.New("store is closed")

func (s *Store) startBatcher() {
	s.batch = &batcher{
		queue: make(chan *saveReq),
		async: make(chan *saveReq, asyncQueue),
		flush: make(chan struct{}, 1),
		quit:  make(chan struct{}),
	}
	s.batch.wg.Add(1)
	go func() {
		defer s.batch.wg.Done()
		s.runBatcher()
	}()
}

// stopBatcher ends the batcher after the batch in progress and the
// asynchronous state saves queued; SaveFetch calls still waiting to be
// taken get errClosed.
func (s *Store) stopBatcher() {
	if s.batch == nil {
		return
	}
	b := s.batch
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
	// A save queued while the batcher ended is not written.
	for {
		select {
		case r := <-b.async:
			r.err = errClosed
			b.settle(r)
		default:
			return
		}
	}
}

// enqueue hands r to the batcher and waits for its outcome. Once the
// batcher has taken r, the caller waits for the transaction to end even
// if ctx ends meanwhile, so that the result it gets is the truth: the
// batcher checks ctx before it starts r, and r's statements run with ctx.
func (s *Store) enqueue(ctx context.Context, r *saveReq) (model.SaveResult, error) {
	select {
	case s.batch.queue <- r:
	case <-ctx.Done():
		return model.SaveResult{}, ctx.Err()
	case <-s.batch.quit:
		return model.SaveResult{}, errClosed
	}
	<-r.done
	return r.res, r.err
}

// enqueueAsync queues a state-only save and returns at once, or when
// the queue has room.
func (s *Store) enqueueAsync(ctx context.Context, r *saveReq) error {
	b := s.batch
	select {
	case <-b.quit:
		return errClosed
	default:
	}
	b.mu.Lock()
	b.pending++
	b.mu.Unlock()
	select {
	case b.async <- r:
		return nil
	case <-ctx.Done():
		b.settle(nil)
		return ctx.Err()
	case <-b.quit:
		b.settle(nil)
		return errClosed
	}
}

// settle records the end of an asynchronous save (r nil: it was never
// queued).
func (b *batcher) settle(r *saveReq) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r != nil && r.err != nil {
		if len(b.errs) < maxAsyncErrors {
			b.errs = append(b.errs, fmt.Errorf("save state of source %q: %w", r.u.SourceID, r.err))
		} else {
			b.lost++
		}
	}
	if b.pending--; b.pending == 0 {
		for _, ch := range b.idle {
			close(ch)
		}
		b.idle = nil
	}
}

// idleChan returns a channel closed once no asynchronous save is pending.
func (b *batcher) idleChan() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if b.pending == 0 {
		close(ch)
	} else {
		b.idle = append(b.idle, ch)
	}
	return ch
}

// takeErrors returns the errors of asynchronous saves since the last call.
func (b *batcher) takeErrors() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := b.errs
	if b.lost > 0 {
		errs = append(errs, fmt.Errorf("and %d more state saves failed", b.lost))
	}
	b.errs, b.lost = nil, 0
	return errors.Join(errs...)
}

// Flush waits until every state save queued under Options.AsyncStateSaves
// is written, and returns the state saves' errors since the last Flush.
func (s *Store) Flush(ctx context.Context) error {
	if s.batch == nil {
		return nil
	}
	b := s.batch
	b.mu.Lock()
	b.flushers++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.flushers--
		b.mu.Unlock()
	}()
	idle := b.idleChan()
	select {
	case b.flush <- struct{}{}: // wake the batcher if it holds saves
	default: // woken already
	}
	select {
	case <-idle:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.takeErrors()
}

// flushing reports whether a Flush waits.
func (b *batcher) flushing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushers > 0
}

// runBatcher forms batches of the fetches waiting and runs them. Once
// quit, it writes the asynchronous saves still queued and ends.
//
// Asynchronous state saves are held until maxBatchSaves of them wait, a
// fetch with items comes (they share its transaction, in the order they
// came), a Flush waits, or the store closes. Written as they came, in
// small batches that each rewrote most pages of the sources table into the
// WAL, an all-304 pass of 10,000 sources wrote 8,000 pages (130 MB) for
// 10,000 rows; held, 2,500.
func (s *Store) runBatcher() {
	b := s.batch
	var ready []*saveReq // taken from the queues, in order, not yet written
	quitting := false
	for {
		for !quitting && s.hold(ready) {
			// Items wait for the search index until the writer idles.
			var idle <-chan time.Time
			var timer *time.Timer
			if len(ready) == 0 && s.searchPending.Load() > 0 && !s.indexWait {
				timer = time.NewTimer(s.searchIdleAfter)
				idle = timer.C
			}
			select {
			case r := <-b.queue:
				// Saves queued before it go first: a later fetch of a
				// source must not be overwritten by an earlier state.
				ready = append(s.drainAsync(ready, asyncQueue+maxBatchSaves), r)
			case r := <-b.async:
				ready = append(ready, r)
			case <-b.flush:
			case <-b.quit:
				quitting = true
			case <-idle:
				s.indexIdle()
			}
			if timer != nil {
				timer.Stop()
			}
			ready = s.drainAsync(ready, maxBatchSaves)
		}
		if quitting {
			ready = s.drainAsync(ready, maxBatchSaves)
		}
		if len(ready) == 0 {
			if quitting {
				return
			}
			continue
		}
		first := ready[0]
		ready = ready[1:]
		reqs, next := fillBatch(first, func() *saveReq {
			if len(ready) > 0 {
				r := ready[0]
				ready = ready[1:]
				return r
			}
			select {
			case r := <-b.async:
				return r
			default:
			}
			if !quitting {
				select {
				case r := <-b.queue:
					return r
				default:
				}
			}
			return nil
		})
		if next != nil {
			ready = append([]*saveReq{next}, ready...)
		}
		s.runBatch(reqs)
		for _, r := range reqs {
			if r.async {
				b.settle(r)
			}
		}
		s.indexWait = false // a failed indexing is retried once idle again
		if s.sinceSized++; s.sinceSized >= sizeEvery {
			s.sinceSized = 0
			if err := s.sizeWriter(context.Background()); err != nil {
				s.log.Debug("writer not resized", "path", s.path, "error", err)
			}
		}
	}
}

// logFailure logs a failure of the batcher's bulk work that is retried
// later: as a warning the first time in a row, then, while again is true,
// at debug level (on a full disk, once a batch).
func (s *Store) logFailure(ctx context.Context, again bool, msg string, err error) {
	level := slog.LevelWarn
	if again {
		level = slog.LevelDebug
	}
	s.log.Log(ctx, level, msg, "path", s.path, "error", err)
}

// hold reports whether the batcher should wait for more before writing
// ready: it is empty, or holds fewer than maxBatchSaves asynchronous saves
// and nothing else while no Flush waits.
func (s *Store) hold(ready []*saveReq) bool {
	if len(ready) == 0 {
		return true
	}
	if len(ready) >= maxBatchSaves || s.batch.flushing() {
		return false
	}
	for _, r := range ready {
		if !r.async {
			return false
		}
	}
	return true
}

// drainAsync adds to ready the asynchronous saves queued, while it holds
// fewer than limit.
func (s *Store) drainAsync(ready []*saveReq, limit int) []*saveReq {
	for len(ready) < limit {
		select {
		case r := <-s.batch.async:
			ready = append(ready, r)
		default:
			return ready
		}
	}
	return ready
}

// fillBatch adds to first the fetches that poll gives (nil when none
// waits) up to the batch bounds. A batch holds at most one fetch per
// source: the full-text rows of new items are written at the end of the
// transaction (keyBuffer), so a second fetch of the same source must not
// update an item of the first before then. A fetch that would repeat a
// source is returned as next, to start the next batch.
func fillBatch(first *saveReq, poll func() *saveReq) (reqs []*saveReq, next *saveReq) {
	reqs = []*saveReq{first}
	sources := map[string]bool{first.u.SourceID: true}
	items, fetches := 0, 0
	add := func(r *saveReq) {
		items += len(r.u.Items)
		if len(r.u.Items) > 0 {
			fetches++
		}
	}
	add(first)
	for fetches < maxBatchFetches && len(reqs) < maxBatchSaves && items < maxBatchItems {
		r := poll()
		if r == nil {
			break
		}
		if sources[r.u.SourceID] {
			return reqs, r
		}
		sources[r.u.SourceID] = true
		reqs = append(reqs, r)
		add(r)
	}
	return reqs, nil
}

// runBatch runs reqs in one transaction, or each alone when that fails,
// and wakes their callers.
func (s *Store) runBatch(reqs []*saveReq) {
	defer func() {
		for _, r := range reqs {
			close(r.done)
		}
	}()
	live := reqs[:0:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) > 1 {
		// The batch's own transaction is not tied to any one caller's
		// context; each fetch's statements run with its caller's.
		results, err := s.writeFetches(context.Background(), live)
		if err == nil {
			for i, r := range live {
				r.res = results[i]
			}
			return
		}
		s.log.Debug("batch failed, saving its fetches one by one", "fetches", len(live), "error", err)
	}
	for _, r := range live {
		results, err := s.writeFetches(r.ctx, []*saveReq{r})
		if err != nil {
			r.res, r.err = model.SaveResult{}, err
			continue
		}
		r.res = results[0]
	}
}

// writeFetches writes reqs in one transaction, and adds the story keys it
// committed to the story index.
func (s *Store) writeFetches(ctx context.Context, reqs []*saveReq) ([]model.SaveResult, error) {
	results := make([]model.SaveResult, len(reqs))
	var keys keyBuffer
	err := s.write(ctx, func(sqltx *sql.Tx) error {
		tx := newCachedTx(sqltx, &s.stmts)
		defer tx.close()
		var v int64
		if err := tx.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			return fmt.Errorf("read data version: %w", err)
		}
		if s.clock.checkDataVersion(v) {
			s.clock.foreignWrite()
			if err := s.stories.catchUp(ctx, tx); err != nil {
				return err
			}
		}
		for i, r := range reqs {
			res, err := r.apply(tx, &keys, &s.clock, &s.stories)
			if err != nil {
				return err
			}
			if err := r.ctx.Err(); err != nil {
				return err
			}
			results[i] = res
		}
		return keys.flush(ctx, tx)
	})
	s.stmts.prepareLearned(context.Background(), s.writer)
	if err != nil {
		return nil, err
	}
	s.stories.committed(keys.records, keys.last)
	s.stories.tidy()
	s.clock.committed()
	s.searchPending.Add(keys.pending)
	return results, nil
}

// apply writes one fetch within tx; its story keys go to keys. clock says
// whether prepare's snapshot still holds; index holds the story keys
// committed.
func (r *saveReq) apply(tx *cachedTx, keys *keyBuffer, clock *writeClock, index *storyIndex) (model.SaveResult, error) {
	// The statements of one fetch are short, and writeFetches checks
	// r.ctx once they have run: a context the driver need not watch
	// spares it a goroutine per statement, to interrupt it on
	// cancellation (3% of the writer's CPU in a first ingest).
	ctx, u := context.WithoutCancel(r.ctx), r.u
	if err := upsertState(ctx, tx, u.State); err != nil {
		return model.SaveResult{}, fmt.Errorf("state: %w", err)
	}
	if u.Items == nil {
		return model.SaveResult{}, nil
	}
	res, err := saveItems(ctx, tx, u, r.pre, keys, clock, index)
	if err != nil {
		return model.SaveResult{}, err
	}
	if res.New+res.Updated > 0 {
		if err := bumpVersion(ctx, tx, u.SourceID); err != nil {
			return model.SaveResult{}, err
		}
	}
	return res, nil
}
