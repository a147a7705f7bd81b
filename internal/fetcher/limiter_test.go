package fetcher

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// runLimited starts one request per host in hosts (in order, each after the
// previous one is waiting), holds each for hold, and returns the start
// offsets from the beginning of the bubble.
func runLimited(t *testing.T, l *limiter, hosts []string, hold time.Duration) []time.Duration {
	t.Helper()
	begin := time.Now()
	starts := make([]time.Duration, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			release, err := l.acquire(context.Background(), h)
			if err != nil {
				t.Errorf("acquire(%q): %v", h, err)
				return
			}
			starts[i] = time.Since(begin)
			time.Sleep(hold)
			release()
		})
		synctest.Wait() // each request queues before the next one
	}
	wg.Wait()
	return starts
}

func TestLimiterHostInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(10, 5, time.Second)
		got := runLimited(t, l, []string{"a", "a", "a", "b"}, 100*time.Millisecond)
		want := []time.Duration{0, time.Second, 2 * time.Second, 0}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("start[%d] = %v, want %v (all %v)", i, got[i], want[i], got)
			}
		}
	})
}

func TestLimiterPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(10, 2, 0)
		got := runLimited(t, l, []string{"a", "a", "a", "a", "a", "b"}, time.Second)
		want := []time.Duration{0, 0, time.Second, time.Second, 2 * time.Second, 0}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("start[%d] = %v, want %v (all %v)", i, got[i], want[i], got)
			}
		}
	})
}

func TestLimiterGlobal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(2, 2, 0)
		got := runLimited(t, l, []string{"a", "b", "c", "d", "e"}, time.Second)
		want := []time.Duration{0, 0, time.Second, time.Second, 2 * time.Second}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("start[%d] = %v, want %v (all %v)", i, got[i], want[i], got)
			}
		}
	})
}

// A request sleeping out its host's interval must not hold the only global
// slot: another host starts meanwhile.
func TestLimiterNoGlobalSlotWhileWaitingForHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(1, 1, 10*time.Second)
		got := runLimited(t, l, []string{"a", "a", "b"}, time.Second)
		want := []time.Duration{0, 10 * time.Second, time.Second}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("start[%d] = %v, want %v (all %v)", i, got[i], want[i], got)
			}
		}
	})
}

// The interval holds between starts even when the next request waited for
// a global slot past its reserved time while another request of the same
// host raced it.
func TestLimiterIntervalUnderContention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(1, 3, time.Second)
		hosts := []string{"b", "a", "a", "a"}
		got := runLimited(t, l, hosts, 3*time.Second)
		var as []time.Duration
		for i, h := range hosts {
			if h == "a" {
				as = append(as, got[i])
			}
		}
		slices.Sort(as)
		for i := 1; i < len(as); i++ {
			if d := as[i] - as[i-1]; d < time.Second {
				t.Errorf("starts of host a %v apart, want >= 1s (all %v)", d, got)
			}
		}
	})
}

func TestLimiterCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(1, 1, time.Hour)
		release, err := l.acquire(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		release()
		release() // idempotent

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := l.acquire(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("acquire during interval = %v, want deadline exceeded", err)
		}
		// The failed wait released its host slot: after the interval a
		// request goes through.
		time.Sleep(time.Hour)
		release, err = l.acquire(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		release()
		if got := len(l.global); got != 0 {
			t.Errorf("global slots in use = %d, want 0", got)
		}
	})
}

func TestLimiterForgetsIdleHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(4, 1, time.Second)
		for i := range 3 * minSweep {
			release, err := l.acquire(context.Background(), string(rune('a'+i%26))+string(rune(i)))
			if err != nil {
				t.Fatal(err)
			}
			release()
		}
		time.Sleep(2 * time.Second)
		// New hosts trigger a sweep of the old, idle ones.
		for i := range 100 {
			release, err := l.acquire(context.Background(), "new"+string(rune(i)))
			if err != nil {
				t.Fatal(err)
			}
			release()
		}
		l.mu.Lock()
		n := len(l.hosts)
		l.mu.Unlock()
		if n > 100 {
			t.Errorf("limiter remembers %d hosts, want at most 100 (the idle ones forgotten)", n)
		}
	})
}
