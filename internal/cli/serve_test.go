package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/feedfarm"
	"github.com/syndic-dev/syndic/internal/model"
)

// daemonRun is a `syndic serve` running in the test.
type daemonRun struct {
	addr   string
	stderr *syncBuffer
	hup    chan os.Signal
	cancel context.CancelFunc
	done   chan int
}

func startServe(t *testing.T, cfg string, args ...string) *daemonRun {
	t.Helper()
	return startServeEnv(t, func(string) string { return "" }, cfg, args...)
}

// startServeEnv is startServe with the environment getenv gives.
func startServeEnv(t *testing.T, getenv func(string) string, cfg string, args ...string) *daemonRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonRun{stderr: &syncBuffer{}, hup: make(chan os.Signal, 1), cancel: cancel, done: make(chan int, 1)}
	addr := make(chan string, 1)
	env := &Env{Stdout: io.Discard, Stderr: d.stderr, Getenv: getenv, Signals: d.hup,
		Serving: func(a string) { addr <- a }}
	go func() { d.done <- Run(ctx, append([]string{"serve", "-config", cfg}, args...), env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop")
		}
	})
	if !contains(args, "-no-http") {
		select {
		case d.addr = <-addr:
		case code := <-d.done:
			t.Fatalf("serve exited with %d before listening:\n%s", code, d.stderr)
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not start:\n%s", d.stderr)
		}
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stop cancels the serve context (what SIGTERM does) and returns the exit
// status and how long the shutdown took.
func (d *daemonRun) stop(t *testing.T) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	d.cancel()
	select {
	case code := <-d.done:
		d.done <- code // for the cleanup
		return code, time.Since(start)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s:\n%s", d.stderr)
	}
	return 0, 0
}

// eventually polls cond until it holds; it waits on the system under test,
// never on the passage of time itself.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const serveHeader = `
[server]
listen = "127.0.0.1:0"
base_url = "http://syndic.test/"
shutdown_timeout = "2s"
[fetch]
startup_spread = "0s"
`

func TestServeFetchesAndPublishes(t *testing.T) {
	const n = 20
	farm, cfg := startFarm(t, feedfarm.Options{Sources: n, Items: 5, Seed: 11}, serveHeader)
	d := startServe(t, cfg)

	if resp, body := get(t, "http://"+d.addr+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, "http://"+d.addr+"/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	// Stale (never fetched) sources are due at once with startup_spread 0s.
	var feed struct {
		Items []struct{ ID string } `json:"items"`
	}
	eventually(t, "all items published", func() bool {
		resp, body := get(t, "http://"+d.addr+"/feeds/all.json")
		if resp.StatusCode != 200 {
			return false
		}
		json.Unmarshal([]byte(body), &feed)
		return len(feed.Items) == 50 && farm.Requests().OK >= n && strings.Count(d.stderr.String(), "msg=fetched") >= n
	})
	resp, _ := get(t, "http://"+d.addr+"/feeds/all.atom")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("atom: %d etag %q type %q", resp.StatusCode, etag, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(t, "http://"+d.addr+"/feeds/all.atom", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	// One info line per fetch with the stable keys.
	logs := d.stderr.String()
	for _, key := range []string{"msg=fetched", "source=farm-0000", "status=ok", "new=5", "updated=0", "duration_ms="} {
		if !strings.Contains(logs, key) {
			t.Errorf("fetch log lacks %q", key)
		}
	}
	// The metrics scrape has the named series after a fetch.
	_, scrape := get(t, "http://"+d.addr+"/metrics")
	for _, series := range []string{
		`syndic_fetches_total{error_class="",result="ok",source="farm-0000"} 1`,
		`syndic_items_total{kind="new",source="farm-0000"} 5`,
		`syndic_fetch_duration_seconds_count`,
		`syndic_fetch_bytes_total{source="farm-0000"}`,
		`syndic_scheduler_lag_seconds_count`,
		`syndic_output_requests_total{format="atom",output="all",status="304"} 1`,
		`syndic_output_cache_total{format="atom",output="all",result="hit"}`,
		`syndic_render_duration_seconds_count{format="json"}`,
		`syndic_database_size_bytes`,
		`syndic_story_index_items`,
		`syndic_story_index_bytes`,
		`syndic_deferrals_total`,
		`syndic_backoffs_total`,
	} {
		if !strings.Contains(scrape, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
	code, _ := d.stop(t)
	if code != 0 {
		t.Errorf("serve exit %d after shutdown, want 0", code)
	}
	for _, step := range []string{"shutting down", "scheduler stopped", "http server stopped", "database closed"} {
		if !strings.Contains(d.stderr.String(), step) {
			t.Errorf("shutdown log lacks %q", step)
		}
	}
}

func TestServeReload(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 2, Items: 3, Seed: 5}, serveHeader)
	d := startServe(t, cfg)
	eventually(t, "first fetch", func() bool {
		_, body := get(t, "http://"+d.addr+"/feeds/all.json")
		return strings.Count(body, `"id": "urn:`) == 6
	})
	if resp, body := get(t, "http://"+d.addr+"/feeds/one.json"); resp.StatusCode != 404 || !strings.Contains(body, "all") {
		t.Fatalf("unknown output: %d %q (want 404 listing the outputs)", resp.StatusCode, body)
	}
	orig, _ := os.ReadFile(cfg)

	// A valid change is applied without a restart.
	valid := string(orig) + "\n[[output]]\nid = \"one\"\nsources = [\"farm-0001\"]\n"
	if err := os.WriteFile(cfg, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	d.hup <- syscall.SIGHUP
	eventually(t, "output one after reload", func() bool {
		resp, body := get(t, "http://"+d.addr+"/feeds/one.json")
		return resp.StatusCode == 200 && strings.Count(body, `"id": "urn:`) == 3
	})
	if !strings.Contains(d.stderr.String(), "config reloaded") {
		t.Errorf("no reload log line")
	}

	// An invalid one is logged with every error; the running config stays.
	if err := os.WriteFile(cfg, []byte(valid+"\n[fetch2]\nx = 1\n[[source]]\nid = \"bad\"\nurl = \"htp://x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.hup <- syscall.SIGHUP
	eventually(t, "reload rejected log", func() bool { return strings.Contains(d.stderr.String(), "reload rejected") })
	logs := d.stderr.String()
	if !strings.Contains(logs, "fetch2") || !strings.Contains(logs, "htp://x") {
		t.Errorf("rejected reload does not name every error:\n%s", logs)
	}
	if resp, _ := get(t, "http://"+d.addr+"/feeds/one.json"); resp.StatusCode != 200 {
		t.Errorf("after an invalid reload output one = %d, want the running config kept", resp.StatusCode)
	}
	// Saving the file is a reload too (debounced file watch).
	if err := os.WriteFile(cfg, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "file-change reload removes output one", func() bool {
		resp, _ := get(t, "http://"+d.addr+"/feeds/one.json")
		return resp.StatusCode == 404
	})
}

// TestServeProcs: serve doubles GOMAXPROCS while it both fetches and
// serves HTTP, once however many serves run in the process, and restores
// it when the last stops; -no-fetch, -no-http and an operator's GOMAXPROCS
// leave it alone.
func TestServeProcs(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 2, Items: 2, Seed: 4}, serveHeader)
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)

	d1 := startServe(t, cfg)
	if got := runtime.GOMAXPROCS(0); got != 2*before {
		t.Errorf("serve runs GOMAXPROCS %d, want %d", got, 2*before)
	}
	cfg2 := filepath.Join(filepath.Dir(cfg), "second.toml")
	os.WriteFile(cfg2, []byte(strings.Replace(mustRead(t, cfg), `path = "syndic.db"`, `path = "second.db"`, 1)), 0o644)
	d2 := startServe(t, cfg2)
	if got := runtime.GOMAXPROCS(0); got != 2*before {
		t.Errorf("a second serve made GOMAXPROCS %d, want %d", got, 2*before)
	}
	d1.stop(t)
	if got := runtime.GOMAXPROCS(0); got != 2*before {
		t.Errorf("GOMAXPROCS %d while the second serve runs, want %d", got, 2*before)
	}
	d2.stop(t)
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS %d after serve stopped, want %d", got, before)
	}

	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
	}{
		{"-no-fetch", func(string) string { return "" }, []string{"-no-fetch"}},
		{"-no-http", func(string) string { return "" }, []string{"-no-http"}},
		{"GOMAXPROCS set", func(k string) string {
			if k == "GOMAXPROCS" {
				return "3"
			}
			return ""
		}, nil},
	} {
		d := startServeEnv(t, tc.getenv, cfg, tc.args...)
		if tc.name == "-no-http" {
			eventually(t, "-no-http running", func() bool { return strings.Contains(d.stderr.String(), "scheduler") })
		}
		if got := runtime.GOMAXPROCS(0); got != before {
			t.Errorf("%s: GOMAXPROCS %d, want %d", tc.name, got, before)
		}
		d.stop(t)
	}
}

func TestServeNoFetchAndNoHTTP(t *testing.T) {
	farm, cfg := startFarm(t, feedfarm.Options{Sources: 3, Items: 2, Seed: 9}, serveHeader)
	if r := run(t, "fetch", "-config", cfg); r.code != 0 {
		t.Fatal(r.stderr)
	}
	before := farm.Requests().Total

	// -no-fetch: a publishing replica; the farm sees no request.
	d := startServe(t, cfg, "-no-fetch")
	resp, body := get(t, "http://"+d.addr+"/feeds/all.json")
	if resp.StatusCode != 200 || strings.Count(body, `"id": "urn:`) != 6 {
		t.Errorf("-no-fetch serves %d with %d items", resp.StatusCode, strings.Count(body, `"id": "urn:`))
	}
	if code, _ := d.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	if got := farm.Requests().Total; got != before {
		t.Errorf("-no-fetch made %d requests to sources", got-before)
	}

	// -no-http: only the scheduler; stale sources are fetched, nothing listens.
	// A fresh database makes every source stale, so they are due at once.
	os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), `path = "syndic.db"`, `path = "second.db"`, 1)), 0o644)
	d2 := startServe(t, cfg, "-no-http")
	eventually(t, "-no-http fetches", func() bool { return farm.Requests().Total >= before+3 })
	if strings.Contains(d2.stderr.String(), "msg=serving") {
		t.Errorf("-no-http started an HTTP server")
	}
	if code, _ := d2.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	if r := run(t, "serve", "-no-http", "-no-fetch", "-config", cfg); r.code != 2 {
		t.Errorf("-no-http -no-fetch: exit %d, want a usage error", r.code)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeShutdownWithFetchInFlight: SIGTERM while a source hangs lets it
// run until server.shutdown_timeout, then cancels it; the cancelled fetch
// stores nothing, and serve exits 0 within the timeout.
func TestServeShutdownWithFetchInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.WriteHeader(200)
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>partial item that must not be stored</title><guid>1</guid></item>`)
		w.(http.Flusher).Flush()
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	os.WriteFile(cfg, []byte(strings.Replace(serveHeader, `"2s"`, `"500ms"`, 1)+fmt.Sprintf(`timeout = "1m"
[storage]
path = "syndic.db"
[[source]]
id = "hang"
url = "%s/feed"
`, srv.URL)), 0o644)
	d := startServe(t, cfg, "-no-http")
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatalf("fetch never started:\n%s", d.stderr)
	}
	code, took := d.stop(t)
	if code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if took > 10*time.Second {
		t.Errorf("shutdown took %v with shutdown_timeout 500ms", took)
	}
	if !strings.Contains(d.stderr.String(), "fetches cancelled at shutdown timeout") {
		t.Errorf("no log of the cancelled fetch:\n%s", d.stderr)
	}
	st := openTestStore(t, cfg)
	items, _ := st.Items(context.Background(), model.ItemQuery{IncludeHidden: true})
	if len(items) != 0 {
		t.Errorf("cancelled fetch stored %d items", len(items))
	}
	if s, err := st.SourceState(context.Background(), "hang"); err == nil && !s.LastFetch.IsZero() {
		t.Errorf("cancelled fetch recorded state %+v", s)
	}
}

// TestServeSeesCurationFromAnotherProcess: `syndic feature` writes to the
// database; a running serve reflects it in a curated output without any
// signal.
func TestServeSeesCurationFromAnotherProcess(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 2, Items: 3, Seed: 21}, serveHeader)
	os.WriteFile(cfg, []byte(mustRead(t, cfg)+"\n[[output]]\nid = \"picks\"\ncurated = true\n"), 0o644)
	if r := run(t, "fetch", "-config", cfg); r.code != 0 {
		t.Fatal(r.stderr)
	}
	d := startServe(t, cfg, "-no-fetch")
	_, body := get(t, "http://"+d.addr+"/feeds/picks.json")
	if strings.Contains(body, `"id": "urn:`) {
		t.Fatalf("curated output has items before any feature:\n%s", body)
	}
	r := run(t, "items", "-config", cfg, "-limit", "1", "-json")
	var row struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &row); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "feature", row.ID, "-config", cfg); r.code != 0 {
		t.Fatal(r.stderr)
	}
	eventually(t, "featured item in the curated output", func() bool {
		_, body := get(t, "http://"+d.addr+"/feeds/picks.json")
		return strings.Contains(body, `"id": "urn:syndic:item:`+row.ID+`"`)
	})
}

// TestIDsStableAcrossRebuild: the same feeds ingested into a fresh database
// publish the same ids.
func TestIDsStableAcrossRebuild(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 4, Items: 5, Seed: 33}, "")
	ids := func() []string {
		if r := run(t, "fetch", "-config", cfg); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := run(t, "render", "all", "-format", "json", "-config", cfg)
		var feed struct{ Items []struct{ ID string } }
		if err := json.Unmarshal([]byte(r.stdout), &feed); err != nil {
			t.Fatalf("render json: %v", err)
		}
		var out []string
		for _, it := range feed.Items {
			out = append(out, it.ID)
		}
		return out
	}
	first := ids()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(filepath.Dir(cfg), "syndic.db"+suffix))
	}
	second := ids()
	if len(first) != 20 || strings.Join(first, ",") != strings.Join(second, ",") {
		t.Errorf("ids changed across a rebuild:\n%v\n%v", first, second)
	}
}

func TestServeAdminAPIAndOPML(t *testing.T) {
	farm, cfg := startFarm(t, feedfarm.Options{Sources: 3, Items: 4, Seed: 41}, serveHeader)
	tokenFile := filepath.Join(filepath.Dir(cfg), "token")
	os.WriteFile(tokenFile, []byte("s3cret-admin-token\n"), 0o600)
	conf := strings.Replace(mustRead(t, cfg), "[server]\n", "[server]\nadmin_token_file = \""+tokenFile+"\"\npublish_opml = true\n", 1)
	os.WriteFile(cfg, []byte(conf), 0o644)
	d := startServe(t, cfg)
	base := "http://" + d.addr
	eventually(t, "first pass", func() bool { return farm.Requests().OK >= 3 })

	post := func(path, token string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get(t, base+"/api/sources"); resp.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/api/sources", "Authorization", "Bearer wrong"); resp.StatusCode != 401 {
		t.Errorf("wrong token: %d, want 401", resp.StatusCode)
	}
	resp, body := get(t, base+"/api/sources", "Authorization", "Bearer s3cret-admin-token")
	if resp.StatusCode != 200 || !strings.Contains(body, `"farm-0002"`) {
		t.Fatalf("/api/sources: %d %s", resp.StatusCode, body)
	}
	eventually(t, "items of farm-0001 stored", func() bool {
		_, body := get(t, base+"/api/items?limit=1&source=farm-0001", "Authorization", "Bearer s3cret-admin-token")
		return strings.Contains(body, `"id":"farm-0001:`)
	})
	_, body = get(t, base+"/api/items?limit=1&source=farm-0001", "Authorization", "Bearer s3cret-admin-token")
	var items struct {
		Items []struct{ ID string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &items); err != nil || len(items.Items) != 1 {
		t.Fatalf("/api/items: %v %s", err, body)
	}
	if resp, body := post("/api/items/"+items.Items[0].ID+"/hide", "s3cret-admin-token"); resp.StatusCode != 200 {
		t.Errorf("hide: %d %s", resp.StatusCode, body)
	}
	eventually(t, "hidden item gone from the output", func() bool {
		_, body := get(t, base+"/feeds/all.json")
		return !strings.Contains(body, items.Items[0].ID)
	})
	before := farm.SourceRequests(1)
	if resp, body := post("/api/sources/farm-0001/refresh", "s3cret-admin-token"); resp.StatusCode != 202 {
		t.Errorf("refresh: %d %s", resp.StatusCode, body)
	}
	eventually(t, "manual refresh reaches the source", func() bool { return farm.SourceRequests(1) > before })
	if resp, body := post("/api/reload", "s3cret-admin-token"); resp.StatusCode != 200 {
		t.Errorf("reload: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, base+"/sources.opml")
	if resp.StatusCode != 200 || !strings.Contains(body, `xmlUrl="`+farm.URL(2)+`"`) {
		t.Errorf("/sources.opml: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(d.stderr.String(), "s3cret-admin-token") {
		t.Errorf("the admin token appears in the log")
	}
}

func TestOPMLImportExport(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 2, Items: 1, Seed: 1}, "")
	r := run(t, "opml", "export", "-config", cfg)
	if r.code != 0 || strings.Count(r.stdout, "<outline") != 2 {
		t.Fatalf("opml export: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	exported := filepath.Join(t.TempDir(), "own.opml")
	os.WriteFile(exported, []byte(r.stdout), 0o644)
	// Our own export re-imported adds nothing: every feed is configured.
	r = run(t, "opml", "import", exported, "-config", cfg)
	if r.code != 0 || strings.Contains(r.stdout, "[[source]]") || strings.Count(r.stderr, "already configured") != 2 {
		t.Errorf("re-import of own export: %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	// Another reader's nested export: folders become tags; -write appends.
	nested := filepath.Join(t.TempDir(), "reader.opml")
	os.WriteFile(nested, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Reader export</title></head><body>
<outline text="Tech"><outline text="Go Lang">
  <outline type="rss" text="The Go Blog" xmlUrl="https://go.dev/blog/feed.atom" htmlUrl="https://go.dev/blog"/>
</outline></outline>
<outline text="News" title="News">
  <outline type="rss" text="BBC &quot;World&quot;" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
</outline>
</body></opml>`), 0o644)
	before := mustRead(t, cfg)
	r = run(t, "opml", "import", "-write", nested, "-config", cfg)
	if r.code != 0 {
		t.Fatalf("import -write: %d %s", r.code, r.stderr)
	}
	after := mustRead(t, cfg)
	if !strings.HasPrefix(after, before) {
		t.Errorf("import -write did not keep the existing config content")
	}
	if r := run(t, "check", "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "4 sources") {
		t.Errorf("config after import: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{`"tech"`, `"go-lang"`, `"news"`, `https://go.dev/blog/feed.atom`} {
		if !strings.Contains(after, want) {
			t.Errorf("imported blocks lack %s:\n%s", want, after[len(before):])
		}
	}
}

// TestServeWebSub: with server.websub_hubs, the outputs name the hub and
// serve pings it with every feed URL of an output that ingestion changed.
func TestServeWebSub(t *testing.T) {
	var mu sync.Mutex
	pings := map[string]int{}
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil || r.PostForm.Get("hub.mode") != "publish" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		pings[r.PostForm.Get("hub.url")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hub.Close()
	header := strings.Replace(serveHeader, "[server]\n",
		"[server]\nwebsub_hubs = [\""+hub.URL+"/\"]\nwebsub_ping_delay = \"0s\"\n", 1)
	_, cfg := startFarm(t, feedfarm.Options{Sources: 3, Items: 2, Seed: 5}, header)
	d := startServe(t, cfg)

	topics := []string{"http://syndic.test/feeds/all.rss", "http://syndic.test/feeds/all.atom", "http://syndic.test/feeds/all.json"}
	eventually(t, "pings of every feed URL after ingestion", func() bool {
		_, body := get(t, "http://"+d.addr+"/feeds/all.json")
		if strings.Count(body, `"id": "urn:syndic:item:`) < 6 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		for _, u := range topics {
			if pings[u] == 0 {
				return false
			}
		}
		return true
	})
	resp, body := get(t, "http://"+d.addr+"/feeds/all.atom")
	if links := resp.Header.Values("Link"); !slices.Contains(links, "<"+hub.URL+`/>; rel="hub"`) ||
		!slices.Contains(links, `<http://syndic.test/feeds/all.atom>; rel="self"`) {
		t.Errorf("Link headers %q lack the hub or self", links)
	}
	if !strings.Contains(body, `<link href="`+hub.URL+`/" rel="hub">`) {
		t.Errorf("the Atom feed does not name the hub:\n%s", body)
	}
	_, metrics := get(t, "http://"+d.addr+"/metrics")
	if !strings.Contains(metrics, `syndic_websub_pings_total{output="all",result="ok"}`) {
		t.Errorf("no websub ping metric:\n%s", metrics)
	}
	d.stop(t)
	if strings.Contains(d.stderr.String(), "websub ping failed") {
		t.Errorf("failed pings in the log:\n%s", d.stderr.String())
	}
}

// TestPingCommand: syndic ping announces every feed URL of the named (or
// every) output to every hub, reports each ping, and fails when one does.
func TestPingCommand(t *testing.T) {
	var mu sync.Mutex
	var pings []string
	failing := false
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.ParseForm() != nil || r.PostForm.Get("hub.mode") != "publish" || failing {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		pings = append(pings, r.PostForm.Get("hub.url"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hub.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	conf := "[server]\nbase_url = \"https://feeds.example.org/\"\nwebsub_hubs = [\"" + hub.URL + "/\"]\n" +
		"[[source]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n" +
		"[[output]]\nid = \"news\"\n[[output]]\nid = \"world\"\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, "ping", "-config", cfg, "world")
	want := []string{"https://feeds.example.org/feeds/world.rss", "https://feeds.example.org/feeds/world.atom", "https://feeds.example.org/feeds/world.json"}
	if r.code != 0 || strings.Count(r.stdout, "ok ") != 3 || !slices.Equal(pings, want) {
		t.Fatalf("ping world: exit %d, pings %q\n%s%s", r.code, pings, r.stdout, r.stderr)
	}
	pings = nil
	if r := run(t, "ping", "-config", cfg); r.code != 0 || len(pings) != 6 {
		t.Errorf("ping of every output: exit %d, %d pings, want 6\n%s%s", r.code, len(pings), r.stdout, r.stderr)
	}
	if r := run(t, "ping", "-config", cfg, "nope"); r.code != 2 || !strings.Contains(r.stderr, `unknown output "nope" (known: news, world)`) {
		t.Errorf("unknown output: exit %d\n%s", r.code, r.stderr)
	}
	mu.Lock()
	failing = true
	mu.Unlock()
	if r := run(t, "ping", "-config", cfg, "news"); r.code != 1 || strings.Count(r.stdout, "error ") != 3 || !strings.Contains(r.stderr, "3 pings failed") {
		t.Errorf("failing hub: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Without hubs there is nothing to do, and the error says why.
	os.WriteFile(cfg, []byte("[[source]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n"), 0o644)
	if r := run(t, "ping", "-config", cfg); r.code != 1 || !strings.Contains(r.stderr, "server.websub_hubs is empty") {
		t.Errorf("no hubs: exit %d\n%s", r.code, r.stderr)
	}
}
