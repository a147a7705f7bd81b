// Package cli holds syndic's subcommands and all wiring between packages.
// It is the only package that reads the configuration as a whole, prints to
// the terminal and chooses exit statuses.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// version is set at build time with
// -ldflags "-X github.com/syndic-dev/syndic/internal/cli.version=v1.2.3".
var version = ""

// Version reports the program's version: the linker-set one, else the
// module version from the build info, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Env is the process environment as the commands see it.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Signals, when set, delivers SIGHUP (reload) to `serve`. Tests use
	// it to trigger reloads without real signals.
	Signals <-chan os.Signal
	// Serving, when set, is called with the HTTP server's address once it
	// listens (tests listen on port 0).
	Serving func(addr string)
}

// usageError is a mistake on the command line: exit status 2 and a hint.
type usageError struct {
	msg     string
	printed bool // the flag package already told the user
}

func (e *usageError) Error() string { return e.msg }

// errSilent is returned when the command already printed what went wrong.
var errSilent = errors.New("")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

func commands() []command {
	return []command{
		{"check", "validate the configuration and print a summary", runCheck},
		{"fetch", "fetch sources once and exit (for system cron)", runFetch},
		{"serve", "run the scheduler and the HTTP server", runServe},
		{"sources", "list sources with their fetch status", runSources},
		{"items", "list stored items, newest first", runItems},
		{"feature", "feature an item (curated outputs show featured items)", runCurate("feature")},
		{"unfeature", "remove an item's feature", runCurate("unfeature")},
		{"hide", "hide an item from every output", runCurate("hide")},
		{"unhide", "show a hidden item again", runCurate("unhide")},
		{"render", "print an output exactly as the server serves it", runRender},
		{"ping", "tell the WebSub hubs that outputs changed (after render)", runPing},
		{"preview", "show which recent items an output keeps or drops, and why", runPreview},
		{"prune", "apply retention now", runPrune},
		{"backup", "write a consistent copy of the database", runBackup},
		{"add", "add a source by its feed or web page URL", runAdd},
		{"opml", "export sources as OPML, or import another reader's OPML", runOPML},
		{"version", "print the version", runVersion},
	}
}

// Run executes the command line args (without the program name) and
// returns the exit status: 0 success, 1 failure, 2 usage error.
func Run(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			return Run(ctx, []string{args[1], "-h"}, env)
		}
		printUsage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "-version" || args[0] == "--version" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue) && ue.printed:
			return 2
		case errors.As(err, &ue):
			fmt.Fprintf(env.Stderr, "syndic %s: %s\nRun 'syndic %s -h' for usage.\n", c.name, ue.msg, c.name)
			return 2
		case errors.Is(err, errSilent):
			return 1
		default:
			fmt.Fprintf(env.Stderr, "syndic %s: %s\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "syndic: unknown command %q\n\n", args[0])
	printUsage(env.Stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, `syndic aggregates RSS, Atom and JSON feeds and republishes curated outputs.

Usage:
  syndic COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Every command takes -config FILE (default $SYNDIC_CONFIG, else syndic.toml)
and -h for its own help. Flags may come before or after arguments.

Examples:
  syndic check -config feeds.toml
  syndic fetch -config feeds.toml            # one pass over all enabled sources
  syndic serve -config feeds.toml            # scheduler + feeds on server.listen
  syndic items -source bbc-world -limit 20
  syndic feature bbc-world:1f2e3d4c5b6a7988
`)
}

// flagSet returns a FlagSet for a command with the shared -config flag.
type flagSet struct {
	*flag.FlagSet
	config *string
}

func newFlags(env *Env, name, usage, help string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	def := env.Getenv("SYNDIC_CONFIG")
	if def == "" {
		def = "syndic.toml"
	}
	f := &flagSet{FlagSet: fs}
	f.config = fs.String("config", def, "configuration `file` ($SYNDIC_CONFIG)")
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: syndic %s %s\n\n%s\n\nFlags:\n", name, usage, strings.TrimSpace(help))
		fs.PrintDefaults()
	}
	return f
}

// parse parses flags that may stand before, between or after positional
// arguments, and returns the positional arguments.
func (f *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error(), printed: true}
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
