package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// recorder is an Options.Run that takes a fixed time (fake under synctest),
// records when each source started and fails the test when one source
// runs twice at once.
type recorder struct {
	t        *testing.T
	duration time.Duration

	mu          sync.Mutex
	starts      map[string][]time.Time
	running     map[string]bool
	inFlight    int
	maxInFlight int
	cancelled   map[string]bool
}

func newRecorder(t *testing.T, d time.Duration) *recorder {
	return &recorder{t: t, duration: d, starts: map[string][]time.Time{},
		running: map[string]bool{}, cancelled: map[string]bool{}}
}

func (r *recorder) run(ctx context.Context, id string) {
	r.mu.Lock()
	if r.running[id] {
		r.t.Errorf("source %q runs twice at once", id)
	}
	r.running[id] = true
	r.starts[id] = append(r.starts[id], time.Now())
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	r.mu.Unlock()

	timer := time.NewTimer(r.duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[id] = false
	r.inFlight--
	if ctx.Err() != nil {
		r.cancelled[id] = true
	}
}

func (r *recorder) runs(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.starts[id]...)
}

func (r *recorder) max() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxInFlight
}

// states is an Options.State backed by a map.
type states struct {
	mu sync.Mutex
	m  map[string]State
}

func (s *states) get(_ context.Context, id string) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id], nil
}

func (s *states) set(id string, st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = st
}

// start runs s.Run in the background and returns a function that stops it
// and shuts the scheduler down, as `syndic serve` does.
func start(t *testing.T, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 24*time.Hour)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown = %v, want nil", err)
		}
	}
}

func mustSet(t *testing.T, s *Scheduler, sources ...Source) {
	t.Helper()
	if err := s.SetSources(sources); err != nil {
		t.Fatalf("SetSources: %v", err)
	}
}

func TestSkipWhenRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t, 150*time.Second)
		s := New(Options{Concurrency: 4, Run: rec.run})
		mustSet(t, s, Source{ID: "a", Spec: "@every 1m"})
		stop := start(t, s)
		time.Sleep(10 * time.Minute)
		stop()

		st := s.Stats()
		if st.Skipped == 0 {
			t.Errorf("Stats.Skipped = 0, want fires skipped while a 150s run is going on a 1m schedule")
		}
		if got, want := st.Ran+st.Skipped, st.Fired; got != want {
			t.Errorf("Ran+Skipped = %d, want Fired = %d", got, want)
		}
		if got := int64(len(rec.runs("a"))); got != st.Ran || got < 3 {
			t.Errorf("runs = %d, Stats.Ran = %d, want equal and >= 3", got, st.Ran)
		}
	})
}

func TestConcurrencyCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t, 30*time.Second)
		s := New(Options{Concurrency: 3, Run: rec.run})
		var sources []Source
		for i := range 20 {
			sources = append(sources, Source{ID: fmt.Sprintf("s%02d", i), Spec: "@every 10m"})
		}
		mustSet(t, s, sources...)
		stop := start(t, s)
		time.Sleep(5 * time.Minute)
		st := s.Stats()
		stop()

		if got, want := rec.max(), 3; got != want {
			t.Errorf("max in flight = %d, want %d", got, want)
		}
		for _, src := range sources {
			if got := len(rec.runs(src.ID)); got != 1 {
				t.Errorf("source %s ran %d times in 5m, want 1", src.ID, got)
			}
		}
		// 20 runs of 30s through 3 slots cannot all start on time.
		if st.LagMax < 30*time.Second || st.LagLast > st.LagMax {
			t.Errorf("LagMax = %v, LagLast = %v; want LagMax >= 30s and >= LagLast", st.LagMax, st.LagLast)
		}
		if st.InFlight != 0 {
			t.Errorf("InFlight = %d after 5m, want 0", st.InFlight)
		}
	})
}

func TestDeferredBySource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		until := t0.Add(25 * time.Minute)
		rec := newRecorder(t, time.Second)
		st := &states{m: map[string]State{
			"a": {LastFetch: t0, NextFetch: until, Reason: model.DeferRetryAfter},
		}}
		s := New(Options{Concurrency: 2, Run: rec.run, State: st.get})
		mustSet(t, s, Source{ID: "a", Spec: "@every 10m"})
		stop := start(t, s)
		time.Sleep(40 * time.Minute)
		stop()

		runs := rec.runs("a")
		if len(runs) == 0 {
			t.Fatal("source never ran after its deferral passed")
		}
		if runs[0].Before(until) || !runs[0].Before(until.Add(10*time.Minute)) {
			t.Errorf("first run at %v, want within one interval after the deferral until %v", runs[0].Sub(t0), until.Sub(t0))
		}
		if got := s.Stats().Deferred[model.DeferRetryAfter]; got < 2 {
			t.Errorf("Deferred[%q] = %d, want >= 2 (fires before +25m on @every 10m)", model.DeferRetryAfter, got)
		}
	})
}

func TestDeferredByHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		until := t0.Add(25 * time.Minute)
		rec := newRecorder(t, time.Second)
		s := New(Options{
			Concurrency: 2,
			Run:         rec.run,
			HostBlockedUntil: func(host string) time.Time {
				if host == "slow.example" {
					return until
				}
				return time.Time{}
			},
		})
		mustSet(t, s,
			Source{ID: "blocked", Spec: "@every 10m", Host: "slow.example"},
			Source{ID: "free", Spec: "@every 10m", Host: "fast.example"})
		stop := start(t, s)
		time.Sleep(45 * time.Minute)
		stop()

		runs := rec.runs("blocked")
		if len(runs) == 0 || runs[0].Before(until) {
			t.Errorf("blocked host: runs at %v, want the first at or after +25m", runs)
		}
		if free := rec.runs("free"); len(free) == 0 || !free[0].Before(t0.Add(time.Minute)) {
			t.Errorf("free host: runs %v, want the first within the startup spread", free)
		}
		if got := s.Stats().Deferred[model.DeferHostRetryAfter]; got < 2 {
			t.Errorf("Deferred[%q] = %d, want >= 2", model.DeferHostRetryAfter, got)
		}
	})
}

func TestStartup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		const spec = "*/30 * * * *"
		sched, err := specParser.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		st := &states{m: map[string]State{}}
		var stale, fresh []string
		var sources []Source
		for i := range 10 {
			id := fmt.Sprintf("stale%d", i)
			if i%2 == 0 { // never fetched, or fetched long ago
				st.set(id, State{LastFetch: t0.Add(-2 * time.Hour)})
			}
			stale = append(stale, id)
			sources = append(sources, Source{ID: id, Spec: spec})
		}
		for i := range 5 {
			id := fmt.Sprintf("fresh%d", i)
			st.set(id, State{LastFetch: t0.Add(-5 * time.Minute)})
			fresh = append(fresh, id)
			sources = append(sources, Source{ID: id, Spec: spec})
		}
		rec := newRecorder(t, time.Second)
		s := New(Options{Concurrency: 20, Run: rec.run, State: st.get, StartupSpread: time.Minute})
		stop := start(t, s) // Run first, SetSources after: both orders work
		mustSet(t, s, sources...)

		want := map[string]time.Time{}
		for _, id := range fresh {
			_, want[id] = firstFire(sched, id, t0)
			if got, ok := s.Next(id); !ok || !got.Equal(want[id]) {
				t.Errorf("Next(%s) = %v, %v; want its regular fire %v", id, got, ok, want[id])
			}
		}

		time.Sleep(time.Minute)
		seen := map[time.Time]string{}
		for _, id := range stale {
			runs := rec.runs(id)
			if len(runs) != 1 {
				t.Errorf("stale %s ran %d times in the startup spread, want 1", id, len(runs))
				continue
			}
			if other, dup := seen[runs[0]]; dup {
				t.Errorf("stale %s and %s both started at %v, want staggered", id, other, runs[0].Sub(t0))
			}
			seen[runs[0]] = id
		}

		time.Sleep(30 * time.Minute)
		stop()
		for _, id := range fresh {
			if runs := rec.runs(id); len(runs) == 0 || !runs[0].Equal(want[id]) {
				t.Errorf("fresh %s runs %v, want the first at its regular fire %v", id, runs, want[id])
			}
		}
	})
}

func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := &states{m: map[string]State{}}
		for _, id := range []string{"keep", "respec", "gone", "new"} {
			st.set(id, State{LastFetch: t0}) // fresh: regular fires only
		}
		rec := newRecorder(t, time.Second)
		var goneErr error // ctx.Err() when the removed source's fetch ended
		run := func(ctx context.Context, id string) {
			if id == "gone" {
				time.Sleep(5 * time.Minute)
				goneErr = ctx.Err()
			}
			rec.run(ctx, id)
		}
		s := New(Options{Concurrency: 4, Run: run, State: st.get})
		mustSet(t, s,
			Source{ID: "keep", Spec: "@every 10m"},
			Source{ID: "respec", Spec: "@every 10m"},
			Source{ID: "gone", Spec: "@every 10m"})
		stop := start(t, s)
		keepNext, _ := s.Next("keep")
		if err := s.Trigger(context.Background(), "gone"); err != nil {
			t.Fatalf("Trigger(gone): %v", err)
		}
		synctest.Wait()

		mustSet(t, s,
			Source{ID: "keep", Spec: "@every 10m", Host: "moved.example"},
			Source{ID: "respec", Spec: "@hourly"},
			Source{ID: "new", Spec: "@every 10m"})
		if got, ok := s.Next("keep"); !ok || !got.Equal(keepNext) {
			t.Errorf("Next(keep) = %v, want unchanged %v", got, keepNext)
		}
		if _, ok := s.Next("gone"); ok {
			t.Error("Next(gone) found a plan after removal")
		}
		if got, ok := s.Next("respec"); !ok || got.Sub(t0) < 0 || got.Sub(t0) >= 2*time.Hour {
			t.Errorf("Next(respec) = %v, %v; want a fire on the hourly spec", got, ok)
		}
		if _, ok := s.Next("new"); !ok {
			t.Error("Next(new) = false, want a plan")
		}

		time.Sleep(61 * time.Minute)
		stop()
		if got := len(rec.runs("gone")); got != 1 {
			t.Errorf("removed source ran %d times, want only the fetch that was running", got)
		}
		if goneErr != nil {
			t.Error("removing a source cancelled its running fetch")
		}
		if got := len(rec.runs("new")); got < 5 {
			t.Errorf("added source ran %d times in 61m, want >= 5", got)
		}
		if got := len(rec.runs("respec")); got != 1 {
			t.Errorf("re-specced source ran %d times in 61m on @hourly, want 1", got)
		}
		if got := len(rec.runs("keep")); got < 5 {
			t.Errorf("unchanged source ran %d times, want >= 5", got)
		}
	})
}

func TestSetSourcesInvalid(t *testing.T) {
	s := New(Options{Run: func(context.Context, string) {}})
	mustSet(t, s, Source{ID: "a", Spec: "@hourly"})
	tests := []struct {
		name    string
		sources []Source
	}{
		{"empty id", []Source{{Spec: "@hourly"}}},
		{"duplicate id", []Source{{ID: "b", Spec: "@hourly"}, {ID: "b", Spec: "@daily"}}},
		{"bad spec", []Source{{ID: "b", Spec: "every hour"}}},
		{"seconds field", []Source{{ID: "b", Spec: "* * * * * *"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.SetSources(tt.sources); err == nil {
				t.Fatal("SetSources succeeded, want an error")
			}
			if _, ok := s.Next("a"); !ok {
				t.Error("a rejected set replaced the sources")
			}
		})
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := &states{m: map[string]State{
			// Deferred by cache headers: a manual refresh ignores that.
			"a": {LastFetch: t0, NextFetch: t0.Add(time.Hour), Reason: model.DeferCacheControl},
		}}
		blockedUntil := t0.Add(time.Hour)
		rec := newRecorder(t, time.Minute)
		s := New(Options{
			Concurrency: 2,
			Run:         rec.run,
			State:       st.get,
			HostBlockedUntil: func(host string) time.Time {
				if host == "blocked.example" {
					return blockedUntil
				}
				return time.Time{}
			},
		})
		mustSet(t, s,
			Source{ID: "a", Spec: "@daily", Host: "a.example"},
			Source{ID: "b", Spec: "@daily", Host: "blocked.example"})
		stop := start(t, s)
		ctx := context.Background()

		if err := s.Trigger(ctx, "a"); err != nil {
			t.Fatalf("Trigger(a) = %v", err)
		}
		synctest.Wait()
		if runs := rec.runs("a"); len(runs) != 1 || !runs[0].Equal(t0) {
			t.Errorf("Trigger(a) runs at %v, want one now", runs)
		}
		if err := s.Trigger(ctx, "a"); !errors.Is(err, ErrRunning) {
			t.Errorf("Trigger(a) while running = %v, want ErrRunning", err)
		}
		if err := s.Trigger(ctx, "nope"); !errors.Is(err, ErrUnknownSource) {
			t.Errorf("Trigger(nope) = %v, want ErrUnknownSource", err)
		}
		err := s.Trigger(ctx, "b")
		var hb *HostBlockedError
		if !errors.Is(err, ErrHostBlocked) || !errors.As(err, &hb) || !hb.Until.Equal(blockedUntil) {
			t.Errorf("Trigger(b) on a blocked host = %v, want a HostBlockedError until %v", err, blockedUntil)
		}

		time.Sleep(2 * time.Minute)
		if err := s.Trigger(ctx, "a"); err != nil {
			t.Errorf("Trigger(a) after the run ended = %v", err)
		}
		synctest.Wait()
		stop()
		if got := s.Stats(); got.Triggered != 2 || got.Ran != 2 {
			t.Errorf("Stats Triggered = %d, Ran = %d; want 2, 2", got.Triggered, got.Ran)
		}
		if err := s.Trigger(ctx, "a"); !errors.Is(err, ErrClosed) {
			t.Errorf("Trigger after Shutdown = %v, want ErrClosed", err)
		}
	})
}

func TestTriggerWaitsForSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(t, time.Hour)
		s := New(Options{Concurrency: 1, Run: rec.run})
		mustSet(t, s, Source{ID: "a", Spec: "@daily"}, Source{ID: "b", Spec: "@daily"})
		if err := s.Trigger(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Trigger(ctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Trigger(b) with every slot taken = %v, want DeadlineExceeded", err)
		}
		// b is free again: a fire or a later trigger may run it.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Hour)
		defer cancel2()
		if err := s.Trigger(ctx2, "b"); err != nil {
			t.Errorf("Trigger(b) once a slot frees = %v", err)
		}
		if err := s.Shutdown(ctx2); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	})
}

func TestTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		// The only fetch slot is held all along: tasks do not need one.
		rec := newRecorder(t, 3*time.Hour)
		s := New(Options{Concurrency: 1, Run: rec.run})
		mustSet(t, s, Source{ID: "a", Spec: "@every 1m"})

		var mu sync.Mutex
		var starts []time.Duration
		running := false
		err := s.AddTask("prune", "@every 10m", func(ctx context.Context) {
			mu.Lock()
			if running {
				t.Error("task runs twice at once")
			}
			running = true
			starts = append(starts, time.Since(t0))
			mu.Unlock()
			time.Sleep(25 * time.Minute)
			mu.Lock()
			running = false
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddTask("prune", "@hourly", func(context.Context) {}); err == nil {
			t.Error("AddTask with a duplicate name succeeded")
		}
		if err := s.AddTask("x", "bad", func(context.Context) {}); err == nil {
			t.Error("AddTask with a bad spec succeeded")
		}
		stop := start(t, s)
		time.Sleep(65 * time.Minute)
		stop()

		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{10 * time.Minute, 40 * time.Minute}
		if fmt.Sprint(starts) != fmt.Sprint(want) {
			t.Errorf("task started at %v, want %v (fires at 20m, 30m, 50m, 60m found it running)", starts, want)
		}
	})
}

func TestShutdown(t *testing.T) {
	tests := []struct {
		name          string
		run           time.Duration
		timeout       time.Duration
		wantErr       error
		wantElapsed   time.Duration
		wantCancelled bool
	}{
		{"finishes in time", 5 * time.Second, 10 * time.Second, nil, 5 * time.Second, false},
		{"too slow", time.Hour, 10 * time.Second, context.DeadlineExceeded, 10 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(t, tt.run)
				s := New(Options{Run: rec.run})
				mustSet(t, s, Source{ID: "a", Spec: "@daily"})
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- s.Run(ctx) }()
				if err := s.Trigger(context.Background(), "a"); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				cancel()
				if err := <-errc; err != nil {
					t.Errorf("Run = %v", err)
				}

				sctx, scancel := context.WithTimeout(context.Background(), tt.timeout)
				defer scancel()
				t0 := time.Now()
				err := s.Shutdown(sctx)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
					t.Errorf("Shutdown = %v, want %v", err, tt.wantErr)
				}
				if got := time.Since(t0); got != tt.wantElapsed {
					t.Errorf("Shutdown took %v, want %v", got, tt.wantElapsed)
				}
				rec.mu.Lock()
				cancelled := rec.cancelled["a"]
				rec.mu.Unlock()
				if cancelled != tt.wantCancelled {
					t.Errorf("run cancelled = %v, want %v", cancelled, tt.wantCancelled)
				}
			})
		})
	}
}

func TestRunStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Run: func(context.Context, string) {}})
		mustSet(t, s, Source{ID: "a", Spec: "@every 1m"})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		time.Sleep(3 * time.Minute)
		if err := s.Run(ctx); !errors.Is(err, ErrAlreadyRun) {
			t.Errorf("second Run = %v, want ErrAlreadyRun", err)
		}
		cancel()
		synctest.Wait()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		default:
			t.Fatal("Run did not return when its context was cancelled")
		}

		// Shutdown alone also stops a running loop.
		errc2 := make(chan error, 1)
		go func() { errc2 <- s.Run(context.Background()) }()
		synctest.Wait()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case err := <-errc2:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		default:
			t.Fatal("Run did not return on Shutdown")
		}
		if err := s.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Shutdown = %v, want ErrClosed", err)
		}
		if err := s.SetSources(nil); !errors.Is(err, ErrClosed) {
			t.Errorf("SetSources after Shutdown = %v, want ErrClosed", err)
		}
	})
}

func TestRunWithoutRunFunc(t *testing.T) {
	if err := New(Options{}).Run(context.Background()); !errors.Is(err, ErrNoRun) {
		t.Errorf("Run = %v, want ErrNoRun", err)
	}
}

// TestSpreadAtScale runs a thousand fresh sources on one spec: each runs
// once per half hour, at distinct moments, so a small pool keeps up.
func TestSpreadAtScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		st := &states{m: map[string]State{}}
		var sources []Source
		for i := range 1000 {
			id := fmt.Sprintf("source-%03d", i)
			st.set(id, State{LastFetch: t0})
			sources = append(sources, Source{ID: id, Spec: "*/30 * * * *"})
		}
		rec := newRecorder(t, 500*time.Millisecond)
		s := New(Options{Concurrency: 4, Run: rec.run, State: st.get})
		mustSet(t, s, sources...)
		stop := start(t, s)
		time.Sleep(30 * time.Minute)
		stop()

		seconds := map[time.Time]bool{}
		for _, src := range sources {
			runs := rec.runs(src.ID)
			if len(runs) != 1 {
				t.Fatalf("%s ran %d times in 30m, want 1", src.ID, len(runs))
			}
			seconds[runs[0].Truncate(time.Second)] = true
		}
		if got := len(seconds); got < 600 {
			t.Errorf("runs started in %d distinct seconds, want >= 600", got)
		}
		if got := s.Stats().LagMax; got > 5*time.Second {
			t.Errorf("LagMax = %v, want the spread to keep 4 slots ahead", got)
		}
	})
}

// TestStateErrorProceeds checks that a failing State read is logged and
// does not stop the fetch.
func TestStateErrorProceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs strings.Builder
		var logMu sync.Mutex
		rec := newRecorder(t, time.Second)
		s := New(Options{
			Run: rec.run,
			State: func(context.Context, string) (State, error) {
				return State{}, errors.New("database is locked")
			},
			Logger: slog.New(slog.NewTextHandler(&lockedWriter{mu: &logMu, w: &logs}, nil)),
		})
		mustSet(t, s, Source{ID: "a", Spec: "@hourly"})
		stop := start(t, s)
		time.Sleep(time.Minute)
		stop()
		if got := len(rec.runs("a")); got != 1 {
			t.Errorf("runs = %d, want 1 despite the State error", got)
		}
		logMu.Lock()
		defer logMu.Unlock()
		if !strings.Contains(logs.String(), "database is locked") {
			t.Errorf("log = %q, want the State error", logs.String())
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
