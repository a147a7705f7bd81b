package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/feedfarm"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// syndicBinary builds the real program once per test process.
func syndicBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the syndic binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "syndic-bin-")
		if buildErr != nil {
			return
		}
		// Readable by all: the read-only test runs it as another user.
		os.Chmod(buildDir, 0o755)
		binPath = filepath.Join(buildDir, "syndic")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// farmConfig starts a farm and writes its config to dir/syndic.toml.
func farmConfig(t *testing.T, dir string, opts feedfarm.Options, storagePath string) (*feedfarm.Farm, string) {
	t.Helper()
	farm := feedfarm.New(opts)
	if _, err := farm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { farm.Close() })
	var buf bytes.Buffer
	err := farm.WriteConfig(&buf, feedfarm.ConfigOptions{
		StoragePath: storagePath, Concurrency: 16, PerHost: 32, HostInterval: "0s", Schedule: "@every 1m",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(buf.String(), "[fetch]\n", "[fetch]\nstartup_spread = \"0s\"\n", 1)
	path := filepath.Join(dir, "syndic.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return farm, path
}

type key struct{ source, title string }

// snapshot lists the stored items with the real program, which opens the
// database the way the next run would (recovering the WAL of a killed
// process), and returns how often each (source, title) is stored. The
// program is built without the race detector, so this stays fast where
// the instrumented SQLite of the test process is not.
func snapshot(t *testing.T, bin, cfg string) map[key]int {
	t.Helper()
	out, err := exec.Command(bin, "items", "-limit", "0", "-json", "-config", cfg).Output()
	if err != nil {
		t.Fatalf("list items after crash: %v", err)
	}
	got := map[key]int{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var row struct{ Source, Title string }
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("items -json: %v", err)
		}
		got[key{row.Source, row.Title}]++
	}
	return got
}

// checkIntegrity runs SQLite's integrity check (and the FTS index's).
func checkIntegrity(t *testing.T, dbPath string) {
	t.Helper()
	st, err := store.Open(context.Background(), dbPath, store.Options{})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	defer st.Close()
	if res, err := st.IntegrityCheck(context.Background()); err != nil || res != "ok" {
		t.Fatalf("integrity check: %q, %v", res, err)
	}
}

// TestCrashSafety SIGKILLs `syndic serve` at random points of ingestion,
// restarts it, and checks after a final pass that the database is intact,
// every item is stored exactly once, nothing stored before a crash was
// lost, and no source is left stuck.
func TestCrashSafety(t *testing.T) {
	bin := syndicBinary(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SYNDIC_CRASH_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (rerun with SYNDIC_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	const sources, items, runs = 300, 20, 5
	dir := t.TempDir()
	farm, cfg := farmConfig(t, dir, feedfarm.Options{Sources: sources, Items: items, Churn: 2, Seed: int64(seed % 1000)}, "syndic.db")
	dbPath := filepath.Join(dir, "syndic.db")

	union := map[key]bool{} // every item any generation published
	addGeneration := func() {
		for i := range sources {
			for _, e := range farm.ExpectedItems(i) {
				union[key{feedfarm.SourceID(i), e.Title}] = true
			}
		}
	}
	addGeneration()

	prev := map[key]int{}
	for run := range runs {
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("serve-%d.log", run)))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", "-no-http", "-config", cfg)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// The kill point is the test's input, drawn from the seed.
		delay := time.Duration(50+rng.IntN(750)) * time.Millisecond
		select {
		case err := <-exited:
			logf.Close()
			t.Fatalf("run %d: serve exited on its own: %v\n%s", run, err, mustRead(t, logf.Name()))
		case <-time.After(delay):
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		logf.Close()
		before := farm.Requests().Total

		got := snapshot(t, bin, cfg)
		n := 0
		for k, c := range got {
			n += c
			if c != 1 {
				t.Errorf("run %d: %s %q stored %d times", run, k.source, k.title, c)
			}
			if !union[k] {
				t.Errorf("run %d: stored %s %q that no generation published", run, k.source, k.title)
			}
		}
		for k := range prev {
			if got[k] == 0 {
				t.Errorf("run %d: %s %q was stored before the crash and is lost", run, k.source, k.title)
			}
		}
		t.Logf("run %d: killed after %v (%d requests served so far), %d items stored", run, delay, before, n)
		prev = got
		farm.Advance()
		addGeneration()
	}

	// The final pass runs to completion.
	out, err := exec.Command(bin, "fetch", "-force", "-q", "-config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("final fetch: %v\n%s", err, out)
	}
	checkIntegrity(t, dbPath)
	got := snapshot(t, bin, cfg)
	for k, c := range got {
		if c != 1 {
			t.Errorf("final: %s %q stored %d times", k.source, k.title, c)
		}
		if !union[k] {
			t.Errorf("final: stored %s %q that no generation published", k.source, k.title)
		}
	}
	for k := range prev {
		if got[k] == 0 {
			t.Errorf("final: %s %q lost", k.source, k.title)
		}
	}
	missing := 0
	for i := range sources {
		for _, e := range farm.ExpectedItems(i) {
			if got[key{feedfarm.SourceID(i), e.Title}] != 1 {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Errorf("final: %d items the farm publishes are not stored exactly once", missing)
	}

	st, err := store.Open(context.Background(), dbPath, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	states, err := st.SourceStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != sources {
		t.Errorf("%d source states, want %d", len(states), sources)
	}
	for _, s := range states {
		if (s.Status != model.StatusOK && s.Status != model.StatusNotModified) || s.ConsecutiveErrors != 0 || s.ErrorClass != "" {
			t.Errorf("source %s after the final pass: status %q errors %d class %q %q", s.SourceID, s.Status, s.ConsecutiveErrors, s.ErrorClass, s.Error)
		}
		if s.NextFetchReason == model.DeferBackoff || s.NextFetchReason == model.DeferRetryAfter {
			t.Errorf("source %s stuck: next fetch %v (%s)", s.SourceID, s.NextFetch, s.NextFetchReason)
		}
	}
	t.Logf("final: %d items stored, union of %d generations has %d", len(got), runs+1, len(union))
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}

// asUnprivileged makes cmd run as nobody when the test runs as root, for
// whom file permissions do not apply.
func asUnprivileged(cmd *exec.Cmd) {
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
}

// TestReadOnlyDatabase: a database file or directory syndic cannot write
// yields exit status 1 with a message naming the path, and leaves the
// database as it was.
func TestReadOnlyDatabase(t *testing.T) {
	bin := syndicBinary(t)
	dir := t.TempDir()
	// Every directory down to dir must be searchable by the other user.
	for d := dir; d != filepath.Dir(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()) && d != os.TempDir() {
			os.Chmod(d, 0o755)
		}
	}
	farm, cfg := farmConfig(t, dir, feedfarm.Options{Sources: 5, Items: 3, Seed: 1}, "syndic.db")
	dbPath := filepath.Join(dir, "syndic.db")
	if out, err := exec.Command(bin, "fetch", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("first fetch: %v\n%s", err, out)
	}
	before := snapshot(t, bin, cfg)
	farm.Advance()

	// Read-only file in a read-only directory (no -wal or -shm can be made).
	for _, f := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		os.Chmod(f, 0o444)
	}
	os.Chmod(dir, 0o555)
	cmd := exec.Command(bin, "fetch", "-config", cfg)
	asUnprivileged(cmd)
	out, err := cmd.CombinedOutput()
	os.Chmod(dir, 0o755)
	os.Chmod(dbPath, 0o644)
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("fetch on a read-only database: exit %d (%v), want 1\n%s", code, err, out)
	}
	if !strings.Contains(string(out), dbPath) {
		t.Errorf("error does not name the database %s:\n%s", dbPath, out)
	}
	t.Logf("read-only database: %s", strings.TrimSpace(string(out)))
	checkIntegrity(t, dbPath)
	after := snapshot(t, bin, cfg)
	if len(after) != len(before) {
		t.Errorf("read-only run changed the database: %d items, had %d", len(after), len(before))
	}

	// A new database in a directory that cannot be written.
	roDir := filepath.Join(dir, "ro")
	os.Mkdir(roDir, 0o555)
	newDB := filepath.Join(roDir, "new.db")
	conf := strings.Replace(mustRead(t, cfg), `path = "syndic.db"`, fmt.Sprintf("path = %q", newDB), 1)
	cfg2 := filepath.Join(dir, "new.toml")
	os.WriteFile(cfg2, []byte(conf), 0o644)
	cmd = exec.Command(bin, "fetch", "-config", cfg2)
	asUnprivileged(cmd)
	out, _ = cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), newDB) {
		t.Errorf("fetch with a new database in a read-only directory: exit %d, want 1 naming %s:\n%s", code, newDB, out)
	}
	t.Logf("read-only directory: %s", strings.TrimSpace(string(out)))
}

// TestFullDisk fills a small tmpfs: the sources that no longer fit fail
// with a storage error that says so, the pass still ends, and the
// database passes its integrity check afterwards.
func TestFullDisk(t *testing.T) {
	bin := syndicBinary(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); full disk not simulated", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	dbPath := filepath.Join(mnt, "syndic.db")
	_, cfg := farmConfig(t, t.TempDir(), feedfarm.Options{Sources: 60, Items: 20, Seed: 3, ContentBytes: [2]int{4000, 6000}}, dbPath)
	out, err := exec.Command(bin, "fetch", "-config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("fetch on a full disk: %v (the pass must still end with status 0)\n%s", err, out)
	}
	if !strings.Contains(string(out), "storage") || !strings.Contains(string(out), "database or disk is full") {
		t.Fatalf("no clear storage error on a full disk:\n%s", out)
	}
	// Closing the database indexes the stored items for search, which the
	// full disk may refuse too: that is said, not dropped.
	if strings.Contains(string(out), "close database") && !strings.Contains(string(out), "left work for the next run") {
		t.Errorf("a failure to close the database is not reported as such:\n%s", out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "disk is full") {
			t.Logf("full disk: %s", l)
			break
		}
	}
	checkIntegrity(t, dbPath)
	got := snapshot(t, bin, cfg)
	n := 0
	for k, c := range got {
		n += c
		if c != 1 {
			t.Errorf("%s %q stored %d times", k.source, k.title, c)
		}
	}
	t.Logf("full disk: %d items fit; integrity ok", n)
	if i := strings.Index(string(out), "left work for the next run"); i >= 0 {
		t.Logf("full disk, at close: %s", strings.TrimSpace(string(out)[max(0, strings.LastIndex(string(out[:i]), "\n")):]))
	}
}
