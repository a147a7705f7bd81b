package cli

import "runtime/debug"

// The garbage collector's GOGC. Every command runs at GCPercent (set by
// cmd/syndic before the command starts); a process that ingests
// largeIngest sources or more runs at largeGCPercent. A GOGC set in the
// environment is used as it is.
//
// GCPercent: with Go's 100, a first ingest of 500 feeds x 50 items
// collected a 7-12 MB live heap 137 times in 3.4 s, 8% of the CPU; at 150
// it ran 4% faster for 5-7 MB more peak RSS. 200 and 300 were no faster
// there and peaked 6-20 MB higher (66, 74 and 87 MB, three runs each on
// a 2-core machine), nor was 300 faster at 3,000 sources (17.0 against
// 16.8 s).
//
// largeGCPercent: at 10,000 feeds x 50 items the live heap grew to 20-25
// MB (a story key filter, since replaced by an index outside the heap,
// took 8 MB of it; each fetch in flight holds its
// body and items) and 150 collected it 846 times in a 60 s pass. With 300 the same pass took
// 53.9-58.1 s against 59.5-64.4 s for 150 (four runs each, taking turns),
// with 10 s less CPU, for a peak RSS of 180 MB instead of 140 MB; 225 and
// 400 were no better than 300.
const (
	GCPercent      = 150
	largeGCPercent = 300
	largeIngest    = 5000
)

// gcPercentFor returns the GOGC for a process that ingests n sources.
func gcPercentFor(n int) int {
	if n >= largeIngest {
		return largeGCPercent
	}
	return GCPercent
}

// tuneGC sets the GOGC for ingesting n sources, unless the environment
// sets GOGC.
func tuneGC(env *Env, n int) {
	if env.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(gcPercentFor(n))
}
