// Command syndic aggregates RSS, Atom and JSON feeds and republishes
// curated outputs of them. See 'syndic -h' and README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/syndic-dev/syndic/internal/cli"
)

func main() {
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
