package scheduler

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Offset returns a stable offset in [0, gap) derived from id alone, so a
// source keeps its place in the spread across restarts and a thousand
// sources on one spec do not fire in the same second. A gap <= 0 gives 0.
func Offset(id string, gap time.Duration) time.Duration {
	if gap <= 0 {
		return 0
	}
	// sha256 rather than FNV: ids often differ only in their last byte, and
	// every bit of the sum must depend on every byte for the remainder to
	// spread well.
	sum := sha256.Sum256([]byte(id))
	return time.Duration(binary.BigEndian.Uint64(sum[:8]) % uint64(gap))
}

// Interval returns the gap between the first two times spec fires after
// at: the interval a source on that spec is fetched at around that time.
// Callers use it to size backoff and staleness relative to a schedule.
func Interval(spec string, at time.Time) (time.Duration, error) {
	sched, err := specParser.Parse(spec)
	if err != nil {
		return 0, fmt.Errorf("interval of cron spec %q: %w", spec, err)
	}
	return gapAfter(sched, sched.Next(at)), nil
}

// gapAfter returns the time from nominal fire n to the one after it; zero
// when either does not exist (a spec that never fires again).
func gapAfter(sched cron.Schedule, n time.Time) time.Duration {
	if n.IsZero() {
		return 0
	}
	m := sched.Next(n)
	if m.IsZero() {
		return 0
	}
	return m.Sub(n)
}

// spreadFire returns when id actually fires for nominal time n: n plus the
// id's offset within the gap to the following nominal time, so the spread
// never pushes a fire past the next nominal one.
func spreadFire(sched cron.Schedule, id string, n time.Time) time.Time {
	return n.Add(Offset(id, gapAfter(sched, n)))
}

// firstFire returns the first spread fire of id strictly after t and the
// nominal time it belongs to; zero times when the spec never fires.
//
// The nominal time before t may have a spread fire still ahead of t (a
// source that runs at :00 + 20m, asked at :05): that one comes first, as it
// would have in a process that never restarted. cron has no Prev, so the
// previous nominal time is found as Next(t - gap), which is exact for
// regular schedules; for irregular ones (weekdays only, DST) the check
// fails and the next nominal time is used instead.
func firstFire(sched cron.Schedule, id string, t time.Time) (nominal, fire time.Time) {
	n := sched.Next(t)
	if n.IsZero() {
		return time.Time{}, time.Time{}
	}
	if gap := gapAfter(sched, n); gap > 0 {
		if p := sched.Next(t.Add(-gap)); !p.After(t) && sched.Next(p).Equal(n) {
			if f := p.Add(Offset(id, n.Sub(p))); f.After(t) {
				return p, f
			}
		}
	}
	return n, spreadFire(sched, id, n)
}

// nextFire returns the fire that follows the one for nominal time prev.
// When that is already past now (the process was suspended or the loop
// fell behind) the missed fires are dropped rather than run in a burst.
func nextFire(sched cron.Schedule, id string, prev, now time.Time) (nominal, fire time.Time) {
	n := sched.Next(prev)
	if n.IsZero() {
		return time.Time{}, time.Time{}
	}
	if f := spreadFire(sched, id, n); f.After(now) {
		return n, f
	}
	return firstFire(sched, id, now)
}

// startFire plans the first fire of a source that was just added. A source
// never fetched, or not within its interval, is due soon: within
// min(spread, interval) of now, staggered by id, so a restart neither
// refetches everything at once nor leaves stale sources waiting a whole
// interval. A fresh source waits for its regular spread fire.
func startFire(sched cron.Schedule, id string, now, lastFetch time.Time, spread time.Duration) (nominal, fire time.Time) {
	gap := gapAfter(sched, sched.Next(now))
	if gap > 0 && (lastFetch.IsZero() || now.Sub(lastFetch) >= gap) {
		f := now.Add(Offset(id, min(spread, gap)))
		// The startup fire stands for a nominal time of its own: the regular
		// cadence resumes with the first nominal time after it.
		return f, f
	}
	return firstFire(sched, id, now)
}
