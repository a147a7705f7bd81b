package main

import (
	"runtime/debug"
	"testing"

	"github.com/syndic-dev/syndic/internal/cli"
)

// TestSetGC: syndic's GOGC applies unless the environment names one.
func TestSetGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	debug.SetGCPercent(100)
	setGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != cli.GCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, cli.GCPercent)
	}

	debug.SetGCPercent(80) // as the runtime does for GOGC=80
	setGC(func(k string) string {
		if k == "GOGC" {
			return "80"
		}
		return ""
	})
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("with GOGC=80: GC percent %d, want 80", got)
	}
}
