package cli

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: a large ingest raises GOGC, a small one keeps GCPercent,
// and a GOGC from the environment is left alone. Not parallel: the GC
// percent is the process's.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	noEnv := &Env{Getenv: func(string) string { return "" }}
	for _, tc := range []struct {
		sources, want int
	}{
		{0, GCPercent},
		{500, GCPercent},
		{largeIngest - 1, GCPercent},
		{largeIngest, largeGCPercent},
		{10000, largeGCPercent},
	} {
		debug.SetGCPercent(100)
		tuneGC(noEnv, tc.sources)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("%d sources: GC percent %d, want %d", tc.sources, got, tc.want)
		}
	}

	withEnv := &Env{Getenv: func(k string) string {
		if k == "GOGC" {
			return "80"
		}
		return ""
	}}
	debug.SetGCPercent(80) // as the runtime does for GOGC=80
	tuneGC(withEnv, 10000)
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("with GOGC=80: GC percent %d, want 80", got)
	}
}
