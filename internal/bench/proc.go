package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ChildEnv is the environment variable that makes the harness's own
// executable (cmd/syndicbench, or a test binary) run a child mode instead:
// "raw" for a RawPass, "ref" for the reference HTTP server, "farm" for a
// feed farm (StartFarmChild). Its main must hand over to ChildMain when it
// is set.
const ChildEnv = "SYNDICBENCH_CHILD"

// ProcStats are what the operating system says a finished child cost.
type ProcStats struct {
	Wall     time.Duration
	CPU      time.Duration // user + system
	MaxRSSKB int64         // VmHWM, sampled; see hwmWatch
}

// hwmWatch samples a running child's peak resident set (VmHWM in
// /proc/PID/status) every few milliseconds until stop is called, and
// returns the highest value read. Calls after the first return the
// first one's result.
//
// rusage's ru_maxrss cannot be used: Go starts children with
// clone(CLONE_VM|CLONE_VFORK), and on exec Linux folds the high-water
// mark of the shared (parent's) memory into the child's maxrss, so every
// child would report at least the harness's own peak, farm included.
// VmHWM belongs to the child's own address space after exec. Sampling
// can miss growth in the last few milliseconds of a run; peaks of
// interest last longer.
func hwmWatch(pid int) (stop func() int64) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak atomic.Int64
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				if kb > peak.Load() {
					peak.Store(kb)
				}
				return
			}
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return sync.OnceValue(func() int64 {
		close(done)
		<-finished
		return peak.Load()
	})
}

// runProc runs a child to completion and measures it. stdout is returned;
// stderr is kept for the error message.
func runProc(ctx context.Context, env []string, name string, args ...string) (ProcStats, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return ProcStats{}, nil, fmt.Errorf("run %s: %w", name, err)
	}
	hwm := hwmWatch(cmd.Process.Pid)
	err := cmd.Wait()
	wall := time.Since(start)
	peak := hwm()
	if err != nil {
		return ProcStats{}, stdout.Bytes(), fmt.Errorf("run %s %s: %w\n%s", name, strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return procStats(cmd.ProcessState, wall, peak), stdout.Bytes(), nil
}

func procStats(ps *os.ProcessState, wall time.Duration, peakKB int64) ProcStats {
	return ProcStats{Wall: wall, CPU: ps.UserTime() + ps.SystemTime(), MaxRSSKB: peakKB}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// ChildMain runs a child mode (see ChildEnv) with its arguments and
// returns the exit status.
func ChildMain(ctx context.Context, mode string, args []string, stdout, stderr io.Writer) int {
	var err error
	switch mode {
	case "raw":
		err = rawChild(ctx, args, stdout)
	case "ref":
		err = refChild(ctx, args, stdout)
	case "farm":
		err = farmChild(ctx, args, stdout)
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintf(stderr, "syndicbench %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// rawChild runs one RawPass over the URLs listed in a file and prints its
// RawResult as JSON.
func rawChild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("raw", flag.ContinueOnError)
	urls := fs.String("urls", "", "file with one feed URL per line")
	var opts RawOptions
	fs.IntVar(&opts.Workers, "workers", 16, "concurrent fetches")
	fs.StringVar(&opts.DBPath, "db", "", "SQLite file to store items in")
	fs.StringVar(&opts.StatePath, "state", "", "JSON file of validators")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*urls)
	if err != nil {
		return fmt.Errorf("read urls: %w", err)
	}
	opts.URLs = strings.Fields(string(b))
	res, err := RawPass(ctx, opts)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// refChild serves one document from memory, as a plain net/http server
// would, with its ETag and 304s; it prints its address and serves until
// stdin closes or ctx ends.
func refChild(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ref", flag.ContinueOnError)
	file := fs.String("file", "", "the body to serve")
	ctype := fs.String("type", "application/atom+xml; charset=utf-8", "Content-Type")
	etag := fs.String("etag", `"ref"`, "ETag")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serveChild(ctx, ln, RefHandler(body, *ctype, *etag), stdout)
}

// serveChild prints a child server's address on stdout, for startServer,
// and serves h on ln until stdin closes or ctx ends.
func serveChild(ctx context.Context, ln net.Listener, h http.Handler, stdout io.Writer) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The parent closes our stdin to stop us, even if it dies.
		io.Copy(io.Discard, os.Stdin) //nolint:errcheck // any end means stop
		cancel()
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// RefHandler serves body from memory whatever the path, with an ETag and
// 304 answers to a matching If-None-Match: the least an HTTP server can
// do to publish a feed, which syndic's publishing is compared with.
func RefHandler(body []byte, contentType, etag string) http.Handler {
	length := fmt.Sprint(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{contentType}
		h["Etag"] = []string{etag}
		h["Cache-Control"] = []string{"public, max-age=300"}
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h["Content-Length"] = []string{length}
		w.Write(body) //nolint:errcheck // a client that left is not ours to report
	})
}

// server is a long-running child (syndic serve, the reference server):
// started, asked for its address, and stopped by SIGTERM.
type server struct {
	cmd   *exec.Cmd
	start time.Time
	addr  string
	done  chan error
	stdin io.WriteCloser
	log   bytes.Buffer // the first lines, for error messages

	hwm      func() int64
	stopOnce sync.Once
	stats    ProcStats
	stopErr  error
}

// startServer starts a child and waits until addrOf finds its address in
// a line of the stream it watches (stdout when watchStdout, else stderr).
// Every later line goes to onLine, when set, from one goroutine.
func startServer(ctx context.Context, env []string, watchStdout bool, addrOf func(line string) string, onLine func(string), name string, args ...string) (*server, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	s := &server{cmd: cmd, done: make(chan error, 1)}
	var r io.ReadCloser
	var err error
	if watchStdout {
		r, err = cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
	} else {
		r, err = cmd.StderrPipe()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.hwm = hwmWatch(cmd.Process.Pid)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if !found {
				if s.log.Len() < 8<<10 {
					s.log.WriteString(line + "\n")
				}
				if a := addrOf(line); a != "" {
					found = true
					addr <- a
				}
				continue
			}
			if onLine != nil {
				onLine(line)
			}
		}
		io.Copy(io.Discard, r) //nolint:errcheck // a line too long; keep the pipe drained
		s.done <- cmd.Wait()
	}()
	select {
	case s.addr = <-addr:
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", name, err, s.log.String())
	case <-time.After(2 * time.Minute):
		s.kill()
		return nil, fmt.Errorf("%s did not listen within 2m:\n%s", name, s.log.String())
	case <-ctx.Done():
		s.kill()
		return nil, ctx.Err()
	}
}

func (s *server) kill() {
	s.hwm()
	s.cmd.Process.Kill() //nolint:errcheck // best effort on the way out
	<-s.done
}

// stop asks the child to stop (SIGTERM and closed stdin) and waits; it
// returns the child's resource usage over its whole life. Calls after the
// first return the first one's result.
func (s *server) stop() (ProcStats, error) {
	s.stopOnce.Do(func() {
		s.stdin.Close()
		// The peak of the work measured, not of the shutdown.
		peak := s.hwm()
		s.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited already
		select {
		case <-s.done:
			s.stats = procStats(s.cmd.ProcessState, time.Since(s.start), peak)
		case <-time.After(time.Minute):
			s.kill()
			s.stopErr = errors.New("server did not stop within 1m of SIGTERM")
		}
	})
	return s.stats, s.stopErr
}

// syndicAddr finds the address in syndic serve's "serving" log line.
func syndicAddr(line string) string {
	if !strings.Contains(line, "msg=serving") {
		return ""
	}
	for f := range strings.FieldsSeq(line) {
		if a, ok := strings.CutPrefix(f, "addr="); ok {
			return a
		}
	}
	return ""
}

// childAddr reads the address a child server printed (serveChild).
func childAddr(line string) string {
	a, _ := strings.CutPrefix(line, "listening ")
	return a
}
