package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"

	"github.com/syndic-dev/syndic/internal/bench"
	"github.com/syndic-dev/syndic/internal/cli"
)

// profile runs `syndic fetch` in this process, through cli.Run exactly as
// the binary does, under the CPU profiler: a first ingest into file and,
// after the farm advances, a churn poll into file-churn. The binary has no
// profiling flag and should not grow one for this. This command, like
// cmd/syndic, is a main package: importing cli here keeps the rule that
// no library package imports it.
//
// The farm runs in a child process (bench.StartFarmChild), so that this
// process's heap is syndic's alone, as in the binary: beside an in-process
// farm's gigabyte of rendered documents at 10,000x50 the collector hardly
// ran, and the profile (and a PGO build made from it) saw allocation
// costs the binary does not have.
func profile(ctx context.Context, opts bench.Options, file string, stdout, stderr io.Writer) error {
	cfg := filepath.Join(opts.Dir, "profile.toml")
	farm, err := bench.StartFarmChild(ctx, opts.Self, opts, cfg, filepath.Join(opts.Dir, "profile.db"), max(opts.Workers, 1))
	if err != nil {
		return err
	}
	defer farm.Stop() //nolint:errcheck // a farm that fails to stop costs nothing measured
	passes := []struct{ name, file string }{{"first ingest", file}, {"churn poll", file + "-churn"}}
	for i, p := range passes {
		if i > 0 {
			if err := farm.Advance(ctx); err != nil {
				return err
			}
		}
		if err := profileFetch(ctx, cfg, p.file, stdout, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n## %s: %s\n\n", p.name, p.file)
		top := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=30", p.file)
		top.Stdout, top.Stderr = stdout, stderr
		if err := top.Run(); err != nil {
			return fmt.Errorf("go tool pprof: %w", err)
		}
		top = exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=40", p.file)
		fmt.Fprintf(stdout, "\n## %s, cumulative\n\n", p.name)
		top.Stdout, top.Stderr = stdout, stderr
		if err := top.Run(); err != nil {
			return fmt.Errorf("go tool pprof: %w", err)
		}
	}
	return nil
}

func profileFetch(ctx context.Context, cfg, file string, stdout, stderr io.Writer) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("start profile: %w", err)
	}
	code := cli.Run(ctx, []string{"fetch", "-q", "-config", cfg}, &cli.Env{Stdout: stdout, Stderr: stderr, Getenv: func(string) string { return "" }})
	pprof.StopCPUProfile()
	if code != 0 {
		return fmt.Errorf("syndic fetch exited with status %d", code)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	return nil
}
