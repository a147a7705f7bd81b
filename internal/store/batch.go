package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

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
const (
	maxBatchFetches = 64
	maxBatchItems   = 4000
)

// saveReq is one SaveFetch waiting for the batcher.
type saveReq struct {
	ctx  context.Context
	u    model.FetchUpdate
	pre  *prepared
	res  model.SaveResult
	err  error
	done chan struct{}
}

// batcher owns the goroutine that runs queued fetches.
type batcher struct {
	queue chan *saveReq
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// errClosed is returned by SaveFetch once Close has begun.
var errClosed = errors.New("store is closed")

func (s *Store) startBatcher() {
	s.batch = &batcher{
		queue: make(chan *saveReq),
		quit:  make(chan struct{}),
	}
	s.batch.wg.Add(1)
	go func() {
		defer s.batch.wg.Done()
		s.runBatcher()
	}()
}

// stopBatcher ends the batcher after the batch in progress; fetches still
// waiting to be taken get errClosed.
func (s *Store) stopBatcher() {
	if s.batch == nil {
		return
	}
	s.batch.once.Do(func() { close(s.batch.quit) })
	s.batch.wg.Wait()
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

// runBatcher forms batches of the fetches waiting and runs them.
func (s *Store) runBatcher() {
	var next *saveReq
	for {
		first := next
		if first == nil {
			select {
			case first = <-s.batch.queue:
			case <-s.batch.quit:
				return
			}
		}
		var reqs []*saveReq
		reqs, next = fillBatch(first, func() *saveReq {
			select {
			case r := <-s.batch.queue:
				return r
			default:
				return nil
			}
		})
		s.runBatch(reqs)
	}
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
	items := len(first.u.Items)
	for len(reqs) < maxBatchFetches && items < maxBatchItems {
		r := poll()
		if r == nil {
			break
		}
		if sources[r.u.SourceID] {
			return reqs, r
		}
		sources[r.u.SourceID] = true
		reqs = append(reqs, r)
		items += len(r.u.Items)
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

// writeFetches writes reqs in one transaction, and records the story keys
// it committed in the key log.
func (s *Store) writeFetches(ctx context.Context, reqs []*saveReq) ([]model.SaveResult, error) {
	results := make([]model.SaveResult, len(reqs))
	var logged []storyKey
	err := s.write(ctx, func(sqltx *sql.Tx) error {
		tx := newCachedTx(sqltx, &s.stmts)
		defer tx.close()
		var v int64
		if err := tx.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			return fmt.Errorf("read data version: %w", err)
		}
		s.keyLog.checkDataVersion(v)
		var keys keyBuffer
		for i, r := range reqs {
			res, err := r.apply(tx, &keys, &s.keyLog)
			if err != nil {
				return err
			}
			if err := r.ctx.Err(); err != nil {
				return err
			}
			results[i] = res
		}
		logged = keys.keys // flush sorts them by hash
		return keys.flush(ctx, tx)
	})
	s.stmts.prepareLearned(context.Background(), s.writer)
	if err != nil {
		return nil, err
	}
	s.keyLog.committed(logged)
	return results, nil
}

// apply writes one fetch within tx; its story keys go to keys, and
// candidates committed after its snapshot come from log.
func (r *saveReq) apply(tx *cachedTx, keys *keyBuffer, log *keyLog) (model.SaveResult, error) {
	ctx, u := r.ctx, r.u
	if err := upsertState(ctx, tx, u.State); err != nil {
		return model.SaveResult{}, fmt.Errorf("state: %w", err)
	}
	if u.Items == nil {
		return model.SaveResult{}, nil
	}
	res, err := saveItems(ctx, tx, u, r.pre, keys, log)
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
