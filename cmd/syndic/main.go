// Command syndic aggregates RSS, Atom and JSON feeds and republishes
// curated outputs of them. See 'syndic -h' and README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/syndic-dev/syndic/internal/cli"
)

// setGC applies cli.GCPercent unless getenv says GOGC, which the runtime
// has applied already. Commands that ingest many sources raise it once
// they know how many (see internal/cli).
func setGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(cli.GCPercent)
	}
}

func main() {
	setGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
