package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/syndic-dev/syndic/internal/feedfarm"
)

// FarmChild is a feed farm running in a child process (ChildEnv "farm"),
// for a caller that runs syndic in its own process: the farm's rendered
// documents (over a gigabyte at 10,000x50) then stay out of syndic's
// heap, whose size decides how often the garbage collector runs. A
// profile taken beside an in-process farm showed almost no collection at
// all and many more page faults than the real binary has.
type FarmChild struct {
	srv  *server
	base string
}

// StartFarmChild starts the farm of opts (Sources, Items, Seed, Gzip,
// Churn, Latency) in a child of the executable self, which must hand
// ChildEnv over to ChildMain, and has it write a syndic configuration for
// itself to cfgPath (database dbPath, workers fetches at a time).
func StartFarmChild(ctx context.Context, self string, opts Options, cfgPath, dbPath string, workers int) (*FarmChild, error) {
	args := []string{
		"-n", fmt.Sprint(opts.Sources),
		"-m", fmt.Sprint(opts.Items),
		"-seed", fmt.Sprint(opts.Seed),
		"-churn", fmt.Sprint(opts.Churn),
		"-latency", opts.Latency.String(),
		"-config", cfgPath,
		"-db", dbPath,
		"-workers", fmt.Sprint(workers),
	}
	if opts.Gzip {
		args = append(args, "-gzip")
	}
	srv, err := startServer(ctx, []string{ChildEnv + "=farm"}, true, childAddr, nil, self, args...)
	if err != nil {
		return nil, fmt.Errorf("start feed farm child: %w", err)
	}
	return &FarmChild{srv: srv, base: "http://" + srv.addr}, nil
}

// Advance moves the farm to its next generation (feedfarm.Farm.Advance).
func (c *FarmChild) Advance(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/_farm/advance", nil)
	if err != nil {
		return fmt.Errorf("advance feed farm: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("advance feed farm: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("advance feed farm: %s", resp.Status)
	}
	return nil
}

// Stop ends the child and waits for it.
func (c *FarmChild) Stop() error {
	_, err := c.srv.stop()
	return err
}

// farmChild runs a feed farm until stdin closes or ctx ends: it renders
// every document, listens, writes a syndic configuration for itself and
// prints its address. POST /_farm/advance moves it on and renders the new
// generation before it answers.
func farmChild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("farm", flag.ContinueOnError)
	var fo feedfarm.Options
	fs.IntVar(&fo.Sources, "n", 500, "sources")
	fs.IntVar(&fo.Items, "m", 50, "items in every feed")
	fs.Int64Var(&fo.Seed, "seed", 1, "seed")
	fs.IntVar(&fo.Churn, "churn", 5, "items each generation adds")
	fs.BoolVar(&fo.Gzip, "gzip", false, "gzip responses")
	fs.DurationVar(&fo.Latency, "latency", 0, "delay before every feed response")
	cfg := fs.String("config", "", "write a syndic configuration for the farm to this file")
	db := fs.String("db", "", "the configuration's database")
	workers := fs.Int("workers", 16, "the configuration's fetch concurrency")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfg == "" {
		return errors.New("-config is required")
	}
	farm := feedfarm.New(fo)
	farm.Prerender()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", farm.Handler())
	// As the harness does between its passes: the next generation is
	// rendered before anyone fetches it.
	mux.HandleFunc("POST /_farm/advance", func(w http.ResponseWriter, r *http.Request) {
		farm.Advance()
		farm.Prerender()
		fmt.Fprintf(w, "{\"generation\":%d}\n", farm.Generation())
	})
	base := "http://" + ln.Addr().String()
	if err := WriteSyndicConfig(farm, *cfg, ConfigOptions{DBPath: *db, Workers: max(*workers, 1), FarmURL: base}); err != nil {
		ln.Close()
		return err
	}
	return serveChild(ctx, ln, mux, stdout)
}
