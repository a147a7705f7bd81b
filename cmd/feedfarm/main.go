// Command feedfarm serves a deterministic farm of synthetic RSS, Atom and
// JSON feeds on 127.0.0.1 for trying syndic out, end-to-end runs and
// benchmarks. See internal/feedfarm for what the farm serves.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "feedfarm:", err)
		os.Exit(1)
	}
}

const usage = `Usage: feedfarm [flags]

Serves N synthetic news feeds of M items each on 127.0.0.1, the same bytes
for the same flags on every run. Source i is at BASE/s/i and is RSS 2.0,
Atom 1.0 or JSON Feed 1.1 for i%%3 = 0, 1, 2. The base URL is printed on
stdout; the farm serves until SIGINT or SIGTERM.

Control endpoints: POST BASE/_farm/advance (next generation, see -churn),
GET BASE/_farm/stats, GET BASE/_farm/expected/{i}.

Examples:
  feedfarm                                      50 healthy feeds on 127.0.0.1:8090
  feedfarm -n 500 -m 50 -gzip -config farm.toml a benchmark farm plus a syndic config for it
  feedfarm -dup 0.2 -broken 0.1                 cross-source duplicates and broken sources
  feedfarm -churn 5 -advance-every 1m           5 new items per feed every minute
  feedfarm -latency 50ms -listen 127.0.0.1:0    slow network, any free port

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opts feedfarm.Options
	var configPath string
	var advanceEvery time.Duration
	fs := flag.NewFlagSet("feedfarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage)
		fs.PrintDefaults()
	}
	fs.IntVar(&opts.Sources, "n", 50, "number of sources (feeds), e.g. -n 500")
	fs.IntVar(&opts.Items, "m", 20, "items in every feed, e.g. -m 50")
	fs.Int64Var(&opts.Seed, "seed", 1, "seed for titles, bodies, duplicates and which sources are broken")
	fs.StringVar(&opts.Addr, "listen", "127.0.0.1:8090", "address to listen on; 127.0.0.1:0 picks a free port")
	fs.BoolVar(&opts.Gzip, "gzip", false, "gzip responses for clients that accept it")
	fs.IntVar(&opts.Churn, "churn", 0, "new items per feed at each generation (-advance-every or POST /_farm/advance), e.g. -churn 5")
	fs.DurationVar(&advanceEvery, "advance-every", 0, "move to the next generation this often, e.g. -advance-every 30s; 0 only on POST /_farm/advance")
	fs.Float64Var(&opts.DupShare, "dup", 0, "share of items that retell another source's story with utm_ links, e.g. -dup 0.2")
	fs.Float64Var(&opts.BrokenShare, "broken", 0, "share of broken sources (500, 404, truncated XML, HTML page, 429, slow in turn), e.g. -broken 0.1")
	fs.DurationVar(&opts.SlowDelay, "slow", time.Minute, "how long the slow broken sources take to answer")
	fs.DurationVar(&opts.Latency, "latency", 0, "delay added to every feed response, e.g. -latency 50ms")
	fs.StringVar(&configPath, "config", "", "also write a syndic config listing every source to this file, e.g. -config farm.toml")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	opts.Logger = logger

	farm := feedfarm.New(opts)
	base, err := farm.Start()
	if err != nil {
		return err
	}
	if configPath != "" {
		var buf bytes.Buffer
		if err := farm.WriteConfig(&buf, feedfarm.ConfigOptions{}); err != nil {
			farm.Close()
			return err
		}
		if err := os.WriteFile(configPath, buf.Bytes(), 0o644); err != nil {
			farm.Close()
			return fmt.Errorf("write config %s: %w", configPath, err)
		}
	}
	fmt.Fprintln(stdout, base)
	logger.Info("feed farm serving", "url", base, "sources", opts.Sources, "items", opts.Items, "seed", opts.Seed, "config", configPath)

	var tick <-chan time.Time
	if advanceEvery > 0 {
		t := time.NewTicker(advanceEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			farm.Advance()
			logger.Info("feed farm advanced", "generation", farm.Generation())
		case <-ctx.Done():
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := farm.Shutdown(shutdownCtx)
			st := farm.Requests()
			logger.Info("feed farm stopped", "requests", st.Total, "not_modified", st.NotModified, "bytes_sent", st.BytesSent)
			return err
		}
	}
}
