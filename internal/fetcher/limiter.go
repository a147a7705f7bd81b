package fetcher

import (
	"context"
	"sync"
	"time"
)

// limiter enforces, for every caller of one Fetcher: at most `global`
// requests in flight, at most perHost per host, and at least interval
// between the starts of two requests to one host.
//
// A request first takes its host's slot and reserves a start time in its
// host's queue (so requests to one host start in arrival order), sleeps
// until then, and only then takes a global slot: a global slot is never held
// while sleeping for a host, so other hosts keep going. The actual start is
// checked against the host's last start under the mutex once both slots are
// held; if waiting for the global slot let the order slip, the global slot
// is given back and the wait starts over, so the interval always holds.
type limiter struct {
	global   chan struct{}
	perHost  int
	interval time.Duration

	mu      sync.Mutex
	hosts   map[string]*hostSlot
	sweepAt int
}

type hostSlot struct {
	sem      chan struct{}
	reserved time.Time // next free start in the host's queue
	earliest time.Time // last actual start + interval
	refs     int       // requests holding or waiting for this entry
}

// idle reports whether the entry carries no information any more.
func (h *hostSlot) idle(now time.Time) bool {
	return h.refs == 0 && !h.reserved.After(now) && !h.earliest.After(now)
}

const minSweep = 64

func newLimiter(global, perHost int, interval time.Duration) *limiter {
	return &limiter{
		global:   make(chan struct{}, max(global, 1)),
		perHost:  max(perHost, 1),
		interval: interval,
		hosts:    make(map[string]*hostSlot),
		sweepAt:  minSweep,
	}
}

// acquire waits until a request to host may start. The returned release
// must be called when the request is done (body read). It fails only when
// ctx ends first.
func (l *limiter) acquire(ctx context.Context, host string) (release func(), err error) {
	h := l.ref(host)
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		l.unref(host, h)
		return nil, ctx.Err()
	}
	l.mu.Lock()
	slot := time.Now()
	if h.reserved.After(slot) {
		slot = h.reserved
	}
	h.reserved = slot.Add(l.interval)
	l.mu.Unlock()

	fail := func(err error) (func(), error) {
		l.mu.Lock()
		if h.reserved.Equal(slot.Add(l.interval)) {
			h.reserved = slot // nobody queued behind: give the time back
		}
		l.mu.Unlock()
		<-h.sem
		l.unref(host, h)
		return nil, err
	}
	for {
		l.mu.Lock()
		wake := slot
		if h.earliest.After(wake) {
			wake = h.earliest
		}
		l.mu.Unlock()
		if wait := time.Until(wake); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fail(ctx.Err())
			}
		}
		select {
		case l.global <- struct{}{}:
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		l.mu.Lock()
		now := time.Now()
		if !now.Before(h.earliest) {
			h.earliest = now.Add(l.interval)
			l.mu.Unlock()
			break
		}
		l.mu.Unlock()
		<-l.global
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.global
			<-h.sem
			l.unref(host, h)
		})
	}, nil
}

func (l *limiter) ref(host string) *hostSlot {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.hosts[host]
	if !ok {
		if len(l.hosts) >= l.sweepAt {
			l.sweep()
		}
		h = &hostSlot{sem: make(chan struct{}, l.perHost)}
		l.hosts[host] = h
	}
	h.refs++
	return h
}

func (l *limiter) unref(host string, h *hostSlot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.refs--
	if h.idle(time.Now()) {
		delete(l.hosts, host)
	}
}

// sweep forgets idle hosts whose interval has passed; their entries carry
// no information any more. Called with mu held, amortized by sweepAt.
func (l *limiter) sweep() {
	now := time.Now()
	for k, h := range l.hosts {
		if h.idle(now) {
			delete(l.hosts, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.hosts))
}
