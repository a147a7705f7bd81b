package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/feedfarm"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running
// command and the reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	return runCtx(t, context.Background(), args...)
}

func runCtx(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var out, errb syncBuffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := Run(ctx, args, env)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// startFarm serves n sources x m items on 127.0.0.1 and writes a config
// for it; it returns the farm and the config path.
func startFarm(t *testing.T, opts feedfarm.Options, extra string) (*feedfarm.Farm, string) {
	t.Helper()
	farm := feedfarm.New(opts)
	if _, err := farm.Start(); err != nil {
		t.Fatalf("start farm: %v", err)
	}
	t.Cleanup(func() { farm.Close() })
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := farm.WriteConfig(&buf, feedfarm.ConfigOptions{StoragePath: "syndic.db", Concurrency: 16, PerHost: 16, HostInterval: "0s"}); err != nil {
		t.Fatalf("write config: %v", err)
	}
	path := filepath.Join(dir, "syndic.toml")
	// extra may add keys to [fetch], which the farm's config already has.
	conf := buf.String()
	if i := strings.Index(extra, "[fetch]\n"); i >= 0 {
		conf = strings.Replace(conf, "[fetch]\n", extra[i:], 1)
		extra = extra[:i]
	}
	if err := os.WriteFile(path, []byte(extra+"\n"+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return farm, path
}

func openTestStore(t *testing.T, cfgPath string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(filepath.Dir(cfgPath), "syndic.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestFetchEndToEnd runs `syndic fetch` over a few hundred local sources,
// checks every published item is stored exactly once, and that a second
// pass is all 304s that add nothing.
func TestFetchEndToEnd(t *testing.T) {
	const n, m = 300, 20
	farm, cfg := startFarm(t, feedfarm.Options{Sources: n, Items: m, Seed: 7, DupShare: 0.1, Gzip: true}, "")

	r := run(t, "fetch", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("fetch exit %d\nstderr: %s", r.code, r.stderr)
	}
	if got := strings.Count(r.stdout, "\nok ") + strings.Count(r.stdout[:3], "ok "); got != n {
		t.Errorf("%d sources reported ok, want %d\n%s", got, n, r.stdout)
	}
	want := fmt.Sprintf("total: %d sources", n)
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, fmt.Sprintf("items: %d new", n*m)) {
		t.Errorf("total line missing %q / %d new:\n%s", want, n*m, lastLine(r.stdout))
	}

	st := openTestStore(t, cfg)
	items, err := st.Items(context.Background(), model.ItemQuery{IncludeHidden: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != n*m {
		t.Fatalf("stored %d items, want %d", len(items), n*m)
	}
	stored := map[string]map[string]int{} // source -> link -> count
	dups := 0
	for _, it := range items {
		if stored[it.SourceID] == nil {
			stored[it.SourceID] = map[string]int{}
		}
		stored[it.SourceID][it.Title]++
		if it.StoryID != it.ID {
			dups++
		}
	}
	for i := range n {
		for _, e := range farm.ExpectedItems(i) {
			if c := stored[feedfarm.SourceID(i)][e.Title]; c != 1 {
				t.Fatalf("source %s item %q stored %d times, want 1", feedfarm.SourceID(i), e.Title, c)
			}
		}
	}
	if dups == 0 {
		t.Errorf("no cross-source duplicates linked into stories; the farm publishes ~10%%")
	}

	r2 := run(t, "fetch", "-config", cfg)
	if r2.code != 0 {
		t.Fatalf("second fetch exit %d: %s", r2.code, r2.stderr)
	}
	if !strings.Contains(r2.stdout, fmt.Sprintf("0 ok, %d not modified", n)) || !strings.Contains(r2.stdout, "items: 0 new") {
		t.Errorf("second pass not all 304 with nothing new:\n%s", lastLine(r2.stdout))
	}
	if got := farm.Requests().NotModified; got != n {
		t.Errorf("farm answered %d 304s, want %d", got, n)
	}
	// The 304s' states are written while the pass goes on (store
	// Options.AsyncStateSaves); every one must be in the database.
	states, err := openTestStore(t, cfg).FetchStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if st := states[feedfarm.SourceID(i)]; st.Status != model.StatusNotModified {
			t.Fatalf("source %s: status %q after the all-304 pass, want %q", feedfarm.SourceID(i), st.Status, model.StatusNotModified)
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

// TestFetchErrorsRecorded checks that each failing source gets its error
// class recorded while the other sources of the same pass succeed.
func TestFetchErrorsRecorded(t *testing.T) {
	mux := http.NewServeMux()
	good := `<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title><link>http://example.org/</link>
<item><title>One fine story about things</title><link>http://example.org/1</link><guid>1</guid></item></channel></rss>`
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, good)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><link rel="alternate" type="application/rss+xml" href="/good"></head><body>hi</body></html>`)
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, good[:60])
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bytes.Repeat([]byte("x"), 64<<10))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/good", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	conf := fmt.Sprintf(`
[storage]
path = "syndic.db"
[fetch]
per_host = 8
host_interval = "0s"
timeout = "2s"
max_body = "32KB"
[[source]]
id = "good"
url = "%[1]s/good"
[[source]]
id = "status"
url = "%[1]s/500"
[[source]]
id = "html"
url = "%[1]s/html"
[[source]]
id = "broken"
url = "%[1]s/broken"
[[source]]
id = "big"
url = "%[1]s/big"
[[source]]
id = "moved"
url = "%[1]s/moved"
[[source]]
id = "slow"
url = "%[1]s/slow"
timeout = "300ms"
[[source]]
id = "refused"
url = "%[2]s/feed"
[[source]]
id = "nodns"
url = "http://feed.syndic-test.invalid/rss"
`, srv.URL, closedURL)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "fetch", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("fetch exit %d (a pass with failing sources still exits 0)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := openTestStore(t, cfg)
	want := map[string]string{
		"good": "", "moved": "", "status": model.ErrClassHTTP, "html": model.ErrClassNotAFeed,
		"broken": model.ErrClassParse, "big": model.ErrClassTooLarge, "slow": model.ErrClassTimeout,
		"refused": model.ErrClassConnect, "nodns": model.ErrClassDNS,
	}
	for id, class := range want {
		s, err := st.SourceState(context.Background(), id)
		if err != nil {
			t.Fatalf("state of %s: %v", id, err)
		}
		if s.ErrorClass != class {
			t.Errorf("source %s: error class %q (%s), want %q", id, s.ErrorClass, s.Error, class)
		}
		if class != "" && (s.Status != model.StatusError || s.Error == "" || s.LastFetch.IsZero() || s.ConsecutiveErrors != 1) {
			t.Errorf("source %s: state %+v, want an error recorded with time and message", id, s)
		}
		if class != "" && !s.NextFetch.After(s.LastFetch) {
			t.Errorf("source %s: no backoff recorded: next %v last %v", id, s.NextFetch, s.LastFetch)
		}
	}
	if s, _ := st.SourceState(context.Background(), "html"); len(s.Alternates) != 1 || s.Alternates[0] != srv.URL+"/good" {
		t.Errorf("html source alternates = %v, want [%s/good]", s.Alternates, srv.URL)
	}
	if s, _ := st.SourceState(context.Background(), "moved"); s.RedirectURL != srv.URL+"/good" || s.URL != srv.URL+"/moved" {
		t.Errorf("moved source: redirect %q url %q; want redirect recorded and configured URL kept", s.RedirectURL, s.URL)
	}
	for _, id := range []string{"good", "moved"} {
		if items, _ := st.Items(context.Background(), model.ItemQuery{SourceIDs: []string{id}}); len(items) != 1 {
			t.Errorf("source %s stored %d items, want 1", id, len(items))
		}
	}

	// sources -json shows the contract keys; failing sources say error.
	rs := run(t, "sources", "-json", "-config", cfg)
	if rs.code != 0 {
		t.Fatalf("sources exit %d: %s", rs.code, rs.stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(rs.stdout))
	seen := 0
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("sources -json line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"id", "url", "status", "error", "items", "last_fetch"} {
			if _, ok := row[k]; !ok {
				t.Errorf("sources -json row lacks %q: %s", k, sc.Text())
			}
		}
		wantStatus := "ok"
		if want[row["id"].(string)] != "" {
			wantStatus = "error"
		}
		if row["status"] != wantStatus {
			t.Errorf("source %v status %v, want %s", row["id"], row["status"], wantStatus)
		}
		seen++
	}
	if seen != len(want) {
		t.Errorf("sources -json printed %d rows, want %d", seen, len(want))
	}

	// A second pass defers the failing sources (backoff) unless forced.
	r2 := run(t, "fetch", "-config", cfg)
	if !strings.Contains(r2.stdout, "deferred") || !strings.Contains(r2.stdout, "backoff after 1 error until") {
		t.Errorf("second pass does not defer sources in backoff:\n%s", r2.stdout)
	}
	r3 := run(t, "fetch", "-config", cfg, "status")
	if !strings.Contains(r3.stdout, "error        status") {
		t.Errorf("a named source is fetched despite its backoff:\n%s", r3.stdout)
	}
}

func TestCheck(t *testing.T) {
	r := run(t, "check", "-config", "../../feeds.example.toml")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "OK ../../feeds.example.toml: ") {
		t.Fatalf("check of the example: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[fetch]\nconcurrency = 0\n\n[[source]]\nid = \"a\"\nurl = \"htp://x\"\nbogus = 1\n"), 0o644)
	r = run(t, "check", "-config", bad)
	if r.code != 1 {
		t.Fatalf("check of a bad file: exit %d, want 1", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) < 3 {
		t.Fatalf("want every error reported, got:\n%s", r.stderr)
	}
	pos := regexp.MustCompile(`^` + regexp.QuoteMeta(bad) + `:\d+:\d+: `)
	for _, l := range lines {
		if !pos.MatchString(l) {
			t.Errorf("error line lacks file:line:col: %q", l)
		}
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 3, Items: 2, Seed: 1}, "")
	r := run(t, "fetch", "farm-0001", "-config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "farm-0001") || strings.Contains(r.stdout, "farm-0002") {
		t.Fatalf("fetch SOURCE -config F: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "fetch", "nope", "-config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, `no source "nope"`) {
		t.Errorf("unknown source: exit %d stderr %q", r.code, r.stderr)
	}
	r = run(t, "fetch", "-h")
	if r.code != 0 || !strings.Contains(r.stderr, "crontab") {
		t.Errorf("fetch -h: exit %d, help %q", r.code, r.stderr)
	}
	r = run(t, "bogus")
	if r.code != 2 {
		t.Errorf("unknown command exit %d, want 2", r.code)
	}
}

func TestItemsAndCuration(t *testing.T) {
	_, cfg := startFarm(t, feedfarm.Options{Sources: 2, Items: 5, Seed: 3}, "")
	if r := run(t, "fetch", "-config", cfg); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := run(t, "items", "-config", cfg, "-limit", "0", "-json")
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("items -json line %q: %v", l, err)
		}
		for _, k := range []string{"id", "source", "title", "link", "published", "updated", "story"} {
			if _, ok := row[k]; !ok {
				t.Errorf("items -json lacks %q", k)
			}
		}
		rows = append(rows, row)
	}
	if len(rows) != 10 {
		t.Fatalf("items -limit 0 listed %d, want 10", len(rows))
	}
	for i := 1; i < len(rows); i++ {
		if rows[i-1]["published"].(string) < rows[i]["published"].(string) {
			t.Errorf("items not newest first at %d", i)
		}
	}
	if r := run(t, "items", "-config", cfg, "-source", "farm-0001", "-limit", "3", "-json"); strings.Count(r.stdout, "\n") != 3 || strings.Contains(r.stdout, `"farm-0000"`) {
		t.Errorf("items -source -limit 3:\n%s", r.stdout)
	}
	id := rows[0]["id"].(string)
	for _, action := range []string{"feature", "hide", "unhide", "unfeature"} {
		if r := run(t, action, id, "-config", cfg); r.code != 0 {
			t.Errorf("%s %s: exit %d %s", action, id, r.code, r.stderr)
		}
	}
	if r := run(t, "feature", "-config", cfg, "farm-0000:0000000000000000"); r.code != 1 || !strings.Contains(r.stderr, "no item") {
		t.Errorf("feature of an unknown id: exit %d %q", r.code, r.stderr)
	}
	if r := run(t, "render", "all", "-format", "rss", "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "<rss") {
		t.Errorf("render: exit %d %s", r.code, r.stderr)
	}
}

// TestFetchJSON: fetch -json prints one object per source and the total,
// all valid JSON with stable keys; -q keeps only failures and the total.
func TestFetchJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title><link>http://example.org/</link>
<item><title>One fine story about things</title><link>http://example.org/1</link><guid>1</guid></item></channel></rss>`)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// A 429 blocks its whole host: this one has a host of its own.
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer limited.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	conf := fmt.Sprintf("[storage]\npath = \"syndic.db\"\n[fetch]\nper_host = 8\nhost_interval = \"0s\"\n"+
		"[[source]]\nid = \"good\"\nurl = \"%[1]s/good\"\n[[source]]\nid = \"status\"\nurl = \"%[1]s/500\"\n"+
		"[[source]]\nid = \"limited\"\nurl = \"%[2]s/429\"\n", srv.URL, limited.URL)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	type line struct {
		Type, Source, Status, Error, Reason string
		ErrorClass                          string `json:"error_class"`
		New, OK, Errors, Deferred, Sources  int
		NextFetch                           *time.Time `json:"next_fetch"`
	}
	decode := func(out string) (sources map[string]line, total line) {
		t.Helper()
		sources = map[string]line{}
		for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var v line
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("not a JSON line: %q: %v", l, err)
			}
			switch v.Type {
			case "source":
				sources[v.Source] = v
			case "total":
				total = v
			default:
				t.Fatalf("line of type %q: %s", v.Type, l)
			}
		}
		return sources, total
	}

	r := run(t, "fetch", "-json", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("fetch -json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got, total := decode(r.stdout)
	if g := got["good"]; g.Status != "ok" || g.New != 1 || g.Error != "" {
		t.Errorf("good: %+v", g)
	}
	if s := got["status"]; s.Status != "error" || s.ErrorClass != "http_status" || !strings.Contains(s.Error, "status 500") {
		t.Errorf("status: %+v", s)
	}
	if l := got["limited"]; l.Status != "error" || l.ErrorClass == "" {
		t.Errorf("limited: %+v", l)
	}
	if total.Sources != 3 || total.OK != 1 || total.Errors != 2 || total.New != 1 {
		t.Errorf("total: %+v", total)
	}

	// Again, quietly: the failed sources now wait (backoff, Retry-After),
	// which is no failure, so only the total is printed.
	r = run(t, "fetch", "-json", "-q", "-config", cfg)
	got, total = decode(r.stdout)
	if r.code != 0 || len(got) != 0 || total.Sources != 3 || total.Deferred != 2 || total.OK != 1 {
		t.Errorf("fetch -json -q: exit %d, sources %+v, total %+v\n%s", r.code, got, total, r.stdout)
	}
	r = run(t, "fetch", "-json", "-config", cfg, "limited")
	got, _ = decode(r.stdout)
	if l := got["limited"]; l.Status != "error" {
		t.Errorf("a named source is fetched even while deferred: %+v", l)
	}
	r = run(t, "fetch", "-json", "-config", cfg)
	got, _ = decode(r.stdout)
	if l := got["limited"]; l.Status != "deferred" || l.Reason != "retry-after" || l.NextFetch == nil || time.Until(*l.NextFetch) < 30*time.Minute {
		t.Errorf("deferred source: %+v", l)
	}
}

// TestAdd: add finds the feed behind a URL or a web page, prints its
// [[source]] block or appends it with -write, and refuses what is already
// configured or no feed.
func TestAdd(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/feed.xml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Harbor Gazette</title><link>http://example.org/</link>
<item><title>One fine story about things</title><link>http://example.org/1</link><guid>1</guid></item></channel></rss>`)
	})
	mux.HandleFunc("/blog/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><link rel="alternate" type="application/rss+xml" href="/broken.xml">`+
			`<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body>hi</body></html>`)
	})
	mux.HandleFunc("/broken.xml", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><body>no feed here</body></html>`)
	})
	mux.HandleFunc("/old.xml", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/feed.xml", http.StatusMovedPermanently)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	const orig = "# my feeds\n[fetch]\nhost_interval = \"0s\"\n[[source]]\nid = \"other\"\nurl = \"https://other.example/feed\"\n"
	if err := os.WriteFile(cfg, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}

	want := "# added with syndic add: Harbor Gazette\n[[source]]\nid    = \"harbor-gazette\"\nurl   = \"" + srv.URL +
		"/feed.xml\"\ntitle = \"Harbor Gazette\"\ntags  = [\"news\", \"local\"]\n"
	for _, u := range []string{"/feed.xml", "/blog/", "/old.xml"} {
		r := run(t, "add", "-config", cfg, "-tags", "news, local", srv.URL+u)
		if r.code != 0 || r.stdout != want {
			t.Errorf("add %s: exit %d\n%s\nwant\n%s\n%s", u, r.code, r.stdout, want, r.stderr)
		}
	}
	if r := run(t, "add", "-config", cfg, srv.URL+"/plain"); r.code != 1 || !strings.Contains(r.stderr, "advertises no feed") {
		t.Errorf("add of a page without feeds: exit %d\n%s", r.code, r.stderr)
	}
	// Without a scheme, https is tried (this server speaks only http).
	host := strings.TrimPrefix(srv.URL, "http://")
	if r := run(t, "add", "-config", cfg, host+"/feed.xml"); r.code != 1 || !strings.Contains(r.stderr, `"https://`+host+`/feed.xml"`) {
		t.Errorf("add without a scheme: exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, "add", "-config", cfg, srv.URL+"/broken.xml"); r.code != 1 || !strings.Contains(r.stderr, "status 410") {
		t.Errorf("add of a failing URL: exit %d\n%s", r.code, r.stderr)
	}

	r := run(t, "add", "-config", cfg, "-write", "-title", "The Gazette", srv.URL+"/blog/")
	if r.code != 0 || !strings.Contains(r.stdout, `added source "the-gazette"`) {
		t.Fatalf("add -write: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(cfg)
	if !strings.HasPrefix(string(b), orig) || !strings.Contains(string(b), `url   = "`+srv.URL+`/feed.xml"`) {
		t.Errorf("config after add -write:\n%s", b)
	}
	if r := run(t, "check", "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "2 sources") {
		t.Errorf("check after add -write: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "add", "-config", cfg, srv.URL+"/feed.xml"); r.code != 1 || !strings.Contains(r.stderr, `already configured as source "the-gazette"`) {
		t.Errorf("add of a configured feed: exit %d\n%s", r.code, r.stderr)
	}
}
