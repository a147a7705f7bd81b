package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// A shared machine's load moves a pass's CPU time by a quarter from one
// run to the next, which hides any change of a few percent between two
// builds measured one after the other. Pair runs the two builds' first
// ingests at the same time instead, each into its own database from the
// same farm: whatever slows the machine slows both, and the ratio of
// their CPU times is what is compared. Two copies of one binary measured
// this way read 0.990 and 1.007 at 10,000x50.

// PairRound is one round of Pair: both builds' first ingests, run at
// once.
type PairRound struct {
	A, B PassResult
}

// Ratio is B's CPU time over A's.
func (p PairRound) Ratio() float64 { return ratio(p.B.CPU, p.A.CPU) }

// PairReport is what Pair measured.
type PairReport struct {
	Opts    Options
	Other   string // the binary compared with Opts.Syndic
	Built   bool   // Opts.Syndic was built from this module
	Machine string
	Started time.Time
	Rounds  []PairRound
}

// Ratio is B's CPU time over A's, summed over the rounds.
func (r *PairReport) Ratio() float64 {
	var a, b time.Duration
	for _, p := range r.Rounds {
		a += p.A.CPU
		b += p.B.CPU
	}
	return ratio(b, a)
}

// Pair runs the first ingest of opts.Syndic (A) and of other (B) at the
// same time against one farm, opts.Rounds times, each round into fresh
// databases, and checks that both stored every item.
func Pair(ctx context.Context, opts Options, other string) (*PairReport, error) {
	opts = opts.withDefaults()
	if opts.Dir == "" || other == "" {
		return nil, errors.New("bench: Pair needs Options.Dir and a binary to compare")
	}
	rep := &PairReport{Opts: opts, Other: other, Machine: Machine(), Started: time.Now()}
	r := &Report{Opts: opts}
	if opts.Syndic == "" {
		r.progress("building syndic")
		bin, err := BuildSyndic(ctx, opts.Dir)
		if err != nil {
			return nil, err
		}
		rep.Opts.Syndic, r.Opts.Syndic, rep.Built = bin, bin, true
	}
	scale := fmt.Sprintf("%dx%d", opts.Sources, opts.Items)
	dir, err := r.scaleDir("pair-" + scale)
	if err != nil {
		return nil, err
	}
	r.progress("farm %s: rendering and starting", scale)
	farm, err := r.newFarm(opts.Sources, opts.Items)
	if err != nil {
		return nil, err
	}
	defer farm.Close()
	exp := expected{}
	exp.add(farm)
	bins := [2]string{r.Opts.Syndic, other}
	for round := range opts.Rounds {
		r.progress("%s: both first ingests at once%s", scale, roundNote(round, opts.Rounds))
		var res [2]PassResult
		var errs [2]error
		done := make(chan int)
		for i, bin := range bins {
			db := filepath.Join(dir, fmt.Sprintf("%c.db", 'a'+i))
			for _, f := range []string{db, db + "-wal", db + "-shm"} {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					return nil, fmt.Errorf("reset for round %d: %w", round+1, err)
				}
			}
			cfg := filepath.Join(dir, fmt.Sprintf("%c.toml", 'a'+i))
			if err := WriteSyndicConfig(farm, cfg, ConfigOptions{DBPath: db, Workers: opts.Workers}); err != nil {
				return nil, err
			}
			go func() {
				defer func() { done <- i }()
				st, _, err := runProc(ctx, nil, bin, "fetch", "-q", "-config", cfg)
				if err != nil {
					errs[i] = err
					return
				}
				check, err := checkSyndicDB(ctx, db, exp)
				if err != nil {
					errs[i] = err
					return
				}
				res[i] = PassResult{System: bin, Pass: PassFirst, Scale: scale, ProcStats: st, Items: check.Stored, Stored: check.Stored, DBBytes: dbBytes(db), Check: &check}
			}()
		}
		<-done
		<-done
		if err := errors.Join(errs[0], errs[1]); err != nil {
			return rep, err
		}
		for i, p := range res {
			if p.Check.Missing > 0 {
				return rep, fmt.Errorf("%s lost %d of %d items in round %d", bins[i], p.Check.Missing, p.Check.Expected, round+1)
			}
		}
		rep.Rounds = append(rep.Rounds, PairRound{A: res[0], B: res[1]})
	}
	return rep, nil
}

// Markdown writes the report.
func (r *PairReport) Markdown(w io.Writer) {
	o := r.Opts
	fmt.Fprintf(w, "## syndicbench -pair: %d sources x %d items, %d workers\n\n", o.Sources, o.Items, o.Workers)
	fmt.Fprintf(w, "Machine: %s. Run started %s.\n", r.Machine, r.Started.UTC().Format(time.RFC3339))
	fmt.Fprint(w, "Both builds ran each first ingest at the same time, from one farm, each into a fresh database of its\n"+
		"own, so that the machine's load weighs on both alike; compare the CPU ratio, not the absolute figures.\n\n")
	a := o.Syndic
	if r.Built {
		a = "syndic built from this module"
	}
	fmt.Fprintf(w, "- A: %s\n- B: %s\n\n", a, r.Other)
	fmt.Fprintln(w, "| round | A wall | A CPU | A peak RSS | B wall | B CPU | B peak RSS | CPU B/A |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i, p := range r.Rounds {
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %.3f |\n", i+1,
			secs(p.A.Wall), secs(p.A.CPU), mb(p.A.MaxRSSKB), secs(p.B.Wall), secs(p.B.CPU), mb(p.B.MaxRSSKB), p.Ratio())
	}
	fmt.Fprintf(w, "\nCPU B/A over all rounds: %.3f. Both stored every item in every round", r.Ratio())
	if n := len(r.Rounds); n > 0 {
		fmt.Fprintf(w, " (%d and %d joined another source's story in the last)", r.Rounds[n-1].A.Check.Duplicates, r.Rounds[n-1].B.Check.Duplicates)
	}
	fmt.Fprintln(w, ".")
}
