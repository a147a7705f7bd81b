// Command syndicbench measures syndic on this machine against the raw
// limits of the same machine: ingestion (first ingest, all-304 re-poll,
// churn poll) of the real `syndic fetch` against a local feed farm,
// publishing of the real `syndic serve` against a minimal net/http
// server, readers during full-speed ingestion, and serve's cold start.
// See internal/bench.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/syndic-dev/syndic/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if mode := os.Getenv(bench.ChildEnv); mode != "" {
		// Re-executed by the harness as a measured child.
		code = bench.ChildMain(ctx, mode, os.Args[1:], os.Stdout, os.Stderr)
	} else {
		err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
		default:
			fmt.Fprintln(os.Stderr, "syndicbench:", err)
			code = 1
		}
	}
	stop()
	os.Exit(code)
}

const usage = `Usage: syndicbench [flags]

Builds the syndic binary from this module, starts a deterministic feed farm of
N sources x M items on 127.0.0.1 (in this process) and, in one run, measures:

  1. the raw limit: fetch + gofeed parse with the same concurrency, nothing
     stored; then the same with plain SQLite inserts, one transaction per feed
  2. syndic fetch (the real binary, a child process): first ingest, all-304
     re-poll, churn poll (+K items per source): wall, CPU, items/s, peak RSS,
     database bytes per item, and loss (items published but not stored)
  3. publishing: syndic serve -no-fetch vs a minimal net/http child serving
     the same bytes from memory, with and without If-None-Match
  4. readers of an output while syndic serve ingests a fresh farm at full speed
  5. with -coldstart, the first ingest at that scale and serve's cold start

and prints absolute figures, ratios to the raw limits, and issue 7's targets
with PASS/FAIL. Figures vary with the machine's load; compare ratios. On a
shared machine a single first ingest can be slowed by a neighbour: -rounds 3
runs it three times, the systems taking turns, and compares each system's
fastest round.

With -cpuprofile, it instead runs syndic's fetch in this process (the same
code as the binary; the farm runs in a child process) for a first ingest and
a churn poll, writes CPU profiles and prints their top functions.

With -pair BINARY, it instead compares two builds: syndic from this module
(or -syndic) and BINARY run their first ingests at the same time, from one
farm, each into a fresh database of its own, -rounds times, and it prints
their wall and CPU times and the CPU ratio. The machine's load weighs on
both alike, so a difference of 1-2% shows, where passes run one after the
other vary by a quarter on a shared machine. Both must store every item.

Examples:
  go run ./cmd/syndicbench -n 500 -m 50
  go run ./cmd/syndicbench -n 500 -m 50 -rounds 3
  go run ./cmd/syndicbench -n 500 -m 50 -latency 100ms -skip-publish
  go run ./cmd/syndicbench -n 500 -m 50 -coldstart 500000 -out perf.md
  go run ./cmd/syndicbench -n 500 -m 50 -cpuprofile /tmp/fetch.pprof
  go run ./cmd/syndicbench -n 10000 -m 50 -rounds 2 -pair /tmp/syndic-before

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opts bench.Options
	var out, dir, cpuprofile, pair string
	fs := flag.NewFlagSet("syndicbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.IntVar(&opts.Sources, "n", 500, "number of sources in the farm")
	fs.IntVar(&opts.Items, "m", 50, "items in every feed")
	fs.IntVar(&opts.Churn, "churn", 5, "items added to every feed before the churn poll")
	fs.Int64Var(&opts.Seed, "seed", 1, "the farm's seed")
	fs.BoolVar(&opts.Gzip, "gzip", false, "the farm gzips its responses")
	fs.DurationVar(&opts.Latency, "latency", 0, "delay the farm adds to every feed response, e.g. 100ms")
	fs.IntVar(&opts.Rounds, "rounds", 1, "run each first ingest this many times, the systems taking turns on fresh databases, and keep each system's fastest round; the report lists every round")
	fs.IntVar(&opts.Workers, "workers", 16, "fetch concurrency of every system (syndic's fetch.concurrency and per_host)")
	fs.DurationVar(&opts.Duration, "duration", 5*time.Second, "duration of each publishing load, run in five turns alternating with the reference's")
	fs.IntVar(&opts.Clients, "clients", 32, "concurrent keep-alive clients of the publishing load")
	fs.IntVar(&opts.Readers, "readers", 16, "readers of the output during full-speed ingestion")
	fs.StringVar(&opts.Output, "output", "all", "output `id` whose .atom feed is loaded")
	fs.BoolVar(&opts.SkipPublish, "skip-publish", false, "skip publishing and readers during ingestion")
	fs.IntVar(&opts.ColdStart, "coldstart", 0, "also ingest a farm of about this many `items` (N/m sources x m) and time serve's cold start on it, e.g. 500000")
	fs.StringVar(&out, "out", "", "also write the report to this Markdown `file`")
	fs.StringVar(&dir, "dir", "", "work `directory` (kept); default a temporary one, removed")
	fs.StringVar(&opts.Syndic, "syndic", "", "syndic `binary` to measure; default built from this module")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "profile syndic's fetch in-process into this `file` (and FILE-churn) instead of benchmarking")
	fs.StringVar(&pair, "pair", "", "instead of benchmarking, run the first ingests of syndic and of this other syndic `binary` at the same time and compare their CPU")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "syndicbench-")
		if err != nil {
			return fmt.Errorf("make work directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("make work directory: %w", err)
	}
	opts.Dir = dir
	opts.Progress = stderr
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	opts.Self = self
	if cpuprofile != "" {
		return profile(ctx, opts, cpuprofile, stdout, stderr)
	}
	if pair != "" {
		rep, err := bench.Pair(ctx, opts, pair)
		if rep == nil {
			return err
		}
		return errors.Join(err, writeReport(rep, out, stdout))
	}
	rep, err := bench.Run(ctx, opts)
	if rep == nil {
		return err
	}
	return errors.Join(err, writeReport(rep, out, stdout))
}

// writeReport prints rep as Markdown and, when out is set, writes it there
// too. A run that failed partway still reports what it measured.
func writeReport(rep interface{ Markdown(io.Writer) }, out string, stdout io.Writer) error {
	var b bytes.Buffer
	rep.Markdown(&b)
	stdout.Write(b.Bytes()) //nolint:errcheck // nothing better to do with a broken stdout
	if out != "" {
		if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}
