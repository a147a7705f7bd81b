package scheduler

import (
	"fmt"
	"testing"
	"time"
)

func TestOffset(t *testing.T) {
	tests := []struct {
		name string
		id   string
		gap  time.Duration
		want time.Duration
	}{
		{name: "zero gap", id: "a", gap: 0, want: 0},
		{name: "negative gap", id: "a", gap: -time.Minute, want: 0},
		{name: "one nanosecond", id: "a", gap: 1, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Offset(tt.id, tt.gap); got != tt.want {
				t.Errorf("Offset(%q, %v) = %v, want %v", tt.id, tt.gap, got, tt.want)
			}
		})
	}

	gaps := []time.Duration{time.Second, time.Minute, 30 * time.Minute, time.Hour, 7 * 24 * time.Hour}
	for i := range 1000 {
		id := fmt.Sprintf("source-%03d", i)
		for _, gap := range gaps {
			got := Offset(id, gap)
			if got < 0 || got >= gap {
				t.Fatalf("Offset(%q, %v) = %v, want in [0, %v)", id, gap, got, gap)
			}
			if again := Offset(id, gap); again != got {
				t.Fatalf("Offset(%q, %v) = %v then %v, want stable", id, gap, got, again)
			}
		}
	}
}

// TestOffsetDistribution checks that a thousand sources on one spec do not
// start in the same few seconds: thrown at random into 1800 seconds they
// would occupy about 767 distinct ones.
func TestOffsetDistribution(t *testing.T) {
	seconds := make(map[time.Duration]bool)
	for i := range 1000 {
		seconds[Offset(fmt.Sprintf("source-%03d", i), 30*time.Minute).Truncate(time.Second)] = true
	}
	if got, min := len(seconds), 600; got < min {
		t.Errorf("1000 ids over 30m land in %d distinct seconds, want >= %d", got, min)
	}
}

// TestSpreadWithinGap checks that the spread never moves a fire to or past
// the next nominal time, that fires advance one nominal time at a time, and
// that startup fires stay within the startup spread.
func TestSpreadWithinGap(t *testing.T) {
	specs := []string{"*/30 * * * *", "@hourly", "@every 15m", "0 9 * * 1", "0 9 * * 1-5"}
	starts := []time.Time{
		time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC),
		time.Date(2026, 3, 6, 23, 59, 59, 500, time.UTC), // a Friday night
		time.Date(2026, 12, 31, 9, 0, 0, 0, time.UTC),
	}
	for _, spec := range specs {
		t.Run(spec, func(t *testing.T) {
			sched, err := specParser.Parse(spec)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				id := fmt.Sprintf("s%d", i)
				for _, start := range starts {
					n, f := firstFire(sched, id, start)
					for k := range 10 {
						m := sched.Next(n)
						if !f.After(start) || f.Before(n) || !f.Before(m) {
							t.Fatalf("%s from %v: fire %d at %v, want after %v and in [%v, %v)", id, start, k, f, start, n, m)
						}
						prev := f
						var next time.Time
						n, next = nextFire(sched, id, n, f)
						if !n.Equal(m) || !next.After(prev) {
							t.Fatalf("%s: after fire %v the next is %v for nominal %v, want later, nominal %v", id, prev, next, n, m)
						}
						f = next
					}

					gap := gapAfter(sched, sched.Next(start))
					_, sf := startFire(sched, id, start, time.Time{}, time.Minute)
					if sf.Before(start) || !sf.Before(start.Add(min(time.Minute, gap))) {
						t.Fatalf("%s: startup fire %v, want in [%v, +%v)", id, sf, start, min(time.Minute, gap))
					}
				}
			}
		})
	}
}

// TestNextFireDropsMissed checks that a scheduler that fell behind (a
// suspended machine) resumes with one future fire instead of a burst.
func TestNextFireDropsMissed(t *testing.T) {
	sched, err := specParser.Parse("*/30 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	prev := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := prev.Add(5 * time.Hour)
	_, f := nextFire(sched, "a", prev, now)
	if !f.After(now) || f.After(now.Add(time.Hour)) {
		t.Errorf("nextFire after 5h asleep = %v, want within the hour after %v", f, now)
	}
}

func TestInterval(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	tests := []struct {
		spec string
		want time.Duration
	}{
		{"*/30 * * * *", 30 * time.Minute},
		{"@hourly", time.Hour},
		{"@every 15m", 15 * time.Minute},
		{"0 9 * * 1", 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		got, err := Interval(tt.spec, at)
		if err != nil || got != tt.want {
			t.Errorf("Interval(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		}
	}
	if _, err := Interval("nope", at); err == nil {
		t.Error(`Interval("nope") succeeded, want an error`)
	}
}
