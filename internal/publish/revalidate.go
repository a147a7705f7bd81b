package publish

import (
	"context"
	"errors"
	"time"
)

// rebuild is the background rebuild of one output. It runs in rounds: a
// round takes every request waiting at its start, builds the keys they
// asked for at the output's current generation, and answers them. However
// many invalidations arrive during a round, one more round covers them all,
// and only if requests came in the meantime; with none, the rebuild ends.
type rebuild struct {
	pending []*waiter // guarded by Publisher.mu
}

// waiter is a request for one render of a rebuilding output.
type waiter struct {
	key renderKey
	// ch receives the round's result; nil when the request was answered
	// from the stale render and only asks for the key to be rebuilt.
	ch chan result
}

// result is what a round built for a key.
type result struct {
	r   *Rendered
	err error
}

// startTimer is the production timer of Publisher.timer.
func startTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// revalidate answers a request for an output whose render of key is out of
// date but has a stale one. It makes sure a background rebuild covers key;
// a request that starts the rebuild waits for it up to staleWait, any
// other gets the stale render at once.
func (p *Publisher) revalidate(ctx context.Context, st *outputState, outputID string, key renderKey, stale *Rendered) (*Rendered, error) {
	w := &waiter{key: key}
	p.mu.Lock()
	if r := st.renders[key]; r != nil {
		p.mu.Unlock()
		p.obs.ObserveCache(outputID, key.format, true)
		return r, nil
	}
	if p.closed {
		p.mu.Unlock()
		return p.renderNow(ctx, st, outputID, key)
	}
	if st.rebuild == nil {
		st.rebuild = &rebuild{}
		w.ch = make(chan result, 1)
		p.rebuilds.Add(1)
		go p.runRebuild(st, outputID)
	}
	st.rebuild.pending = append(st.rebuild.pending, w)
	p.mu.Unlock()
	if w.ch == nil {
		p.obs.ObserveCache(outputID, key.format, true)
		return stale, nil
	}
	timeout, stop := p.timer(p.staleWait)
	defer stop()
	select {
	case res := <-w.ch:
		switch {
		case res.err == nil:
			return res.r, nil
		case errors.Is(res.err, ErrNoSuchPage):
			// The output shrank: the stale page is gone for good.
			return nil, res.err
		}
		// The rebuild failed and logged why; the stale render is the best
		// answer there is.
	case <-timeout:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.obs.ObserveCache(outputID, key.format, true)
	return stale, nil
}

// runRebuild runs rounds of st's rebuild until a round starts with no
// request waiting or the Publisher is closed.
func (p *Publisher) runRebuild(st *outputState, outputID string) {
	defer p.rebuilds.Done()
	for {
		p.mu.Lock()
		batch := st.rebuild.pending
		st.rebuild.pending = nil
		if len(batch) == 0 || p.ctx.Err() != nil {
			st.rebuild = nil
			p.mu.Unlock()
			answer(batch, func(renderKey) result { return result{err: p.ctx.Err()} })
			return
		}
		p.mu.Unlock()
		p.round(st, outputID, batch)
	}
}

// round builds every key batch asks for and answers its waiters.
func (p *Publisher) round(st *outputState, outputID string, batch []*waiter) {
	results := map[renderKey]result{}
	st.build.Lock()
	for _, w := range batch {
		if _, done := results[w.key]; done {
			continue
		}
		r, err := p.buildLocked(p.ctx, st, outputID, w.key)
		if err != nil && !errors.Is(err, ErrNoSuchPage) && p.ctx.Err() == nil {
			p.log.Error("rebuild output", "output", outputID, "format", w.key.format, "page", w.key.page, "error", err)
		}
		results[w.key] = result{r: r, err: err}
	}
	st.build.Unlock()
	answer(batch, func(k renderKey) result { return results[k] })
}

// answer sends each waiter of batch that waits its result.
func answer(batch []*waiter, res func(renderKey) result) {
	for _, w := range batch {
		if w.ch != nil {
			w.ch <- res(w.key) // buffered: never blocks
		}
	}
}

// Close stops background rebuilds and waits for them to end. Requests
// made after Close still get answers, built synchronously when needed. It
// must be called before the Store is closed.
func (p *Publisher) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.rebuilds.Wait()
}
