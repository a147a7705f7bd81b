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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/syndic-dev/syndic/internal/feedfarm"
	"github.com/syndic-dev/syndic/internal/model"
	"github.com/syndic-dev/syndic/internal/store"
)

// TestServeUnderLoad reads the outputs with 16 clients while `serve`
// ingests a fresh farm at full speed, curates items and reloads the
// config meanwhile. No reader may see an error and "database is locked"
// must never reach the log.
func TestServeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a farm while reading")
	}
	const n = 60
	farm, cfg := startFarm(t, feedfarm.Options{Sources: n, Items: 20, Seed: 21, DupShare: 0.1}, serveHeader)
	d := startServe(t, cfg)

	var stop atomic.Bool
	var requests, bad atomic.Int64
	var badMu sync.Mutex
	var badSample []string
	var wg sync.WaitGroup
	client := &http.Client{}
	for i := range 16 {
		path := "/feeds/all.atom"
		if i%2 == 1 {
			path = "/feeds/all.json"
		}
		wg.Go(func() {
			etag := ""
			for !stop.Load() {
				req, _ := http.NewRequest("GET", "http://"+d.addr+path, nil)
				if etag != "" && i%4 < 2 {
					req.Header.Set("If-None-Match", etag)
				}
				resp, err := client.Do(req)
				requests.Add(1)
				if err != nil {
					bad.Add(1)
					badMu.Lock()
					badSample = append(badSample, err.Error())
					badMu.Unlock()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 && resp.StatusCode != 304 {
					bad.Add(1)
					badMu.Lock()
					badSample = append(badSample, fmt.Sprintf("%s %d %.200s", path, resp.StatusCode, body))
					badMu.Unlock()
				}
				etag = resp.Header.Get("ETag")
			}
		})
	}

	// Curation and reloads while the pass runs.
	var curations atomic.Int64
	wg.Go(func() {
		var ids []string
		for !stop.Load() && len(ids) == 0 {
			r := runCtx(t, context.Background(), "items", "-config", cfg, "-limit", "5", "-json")
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var row struct{ ID string }
				if json.Unmarshal([]byte(l), &row) == nil && row.ID != "" {
					ids = append(ids, row.ID)
				}
			}
		}
		for i := 0; !stop.Load(); i++ {
			action := []string{"feature", "hide", "unhide", "unfeature"}[i%4]
			if r := runCtx(t, context.Background(), action, ids[i%len(ids)], "-config", cfg); r.code != 0 {
				bad.Add(1)
				badMu.Lock()
				badSample = append(badSample, fmt.Sprintf("%s: exit %d %s", action, r.code, r.stderr))
				badMu.Unlock()
			}
			curations.Add(1)
			if i%8 == 0 {
				select {
				case d.hup <- syscall.SIGHUP:
				default:
				}
			}
		}
	})

	eventually(t, "every source fetched", func() bool { return farm.Requests().OK >= n })
	st, err := store.Open(context.Background(), filepath.Join(filepath.Dir(cfg), "syndic.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eventually(t, "the pass stored every item", func() bool {
		c, err := st.ItemCount(context.Background())
		return err == nil && c == n*20
	})
	// The reload is asynchronous; a fast pass can end before it is done.
	// Readers keep reading until it is.
	eventually(t, "a config reload under load", func() bool {
		return strings.Contains(d.stderr.String(), "config reloaded")
	})
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads, %d curation commands during ingestion of %d sources", requests.Load(), curations.Load(), n)
	if bad.Load() > 0 {
		t.Errorf("%d failed requests or commands, e.g. %q", bad.Load(), badSample[:min(len(badSample), 5)])
	}
	logs := d.stderr.String()
	for _, s := range []string{"database is locked", "SQLITE_BUSY", "(5)", "(517)"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains %q", s)
		}
	}
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("error logged under load: %s", l)
		}
	}
}

// TestSecretsNeverLeak runs fetch, the listing commands and serve with a
// source header, URL passwords and secret query parameters, failing and
// succeeding, and greps every output for the secrets.
func TestSecretsNeverLeak(t *testing.T) {
	const token, password, apiKey = "SECRET-TOKEN-123", "pa55w0rd-XYZ", "QUERY-KEY-456"
	feed := `<?xml version="1.0"?><rss version="2.0"><channel><title>Private</title><link>http://example.org/</link>
<item><title>Private story p1</title><link>http://example.org/p1</link><guid>p1</guid><description>text</description></item></channel></rss>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, basic := r.BasicAuth()
		switch {
		case strings.HasPrefix(r.URL.Path, "/fail"):
			// Echo what was sent, as a careless server would.
			w.Header().Set("X-Echo", r.Header.Get("Authorization"))
			http.Error(w, "denied for "+r.Header.Get("Authorization"), http.StatusForbidden)
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "http://localhost:1/elsewhere?"+r.Header.Get("Authorization"), http.StatusFound)
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "/q2?format=rss&api_key="+r.URL.Query().Get("token"), http.StatusMovedPermanently)
		case r.Header.Get("Authorization") == "Bearer "+token, basic && user == "user" && pass == password,
			r.URL.Query().Get("api_key") == apiKey:
			w.Header().Set("Content-Type", "application/rss+xml")
			fmt.Fprint(w, strings.ReplaceAll(feed, "p1", strings.TrimPrefix(r.URL.Path, "/")))
		default:
			http.Error(w, "who are you", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	conf := strings.Replace(serveHeader, "[server]\n", "[server]\npublish_opml = true\n", 1) + fmt.Sprintf(`host_interval = "0s"
per_host = 8
timeout = "2s"
[storage]
path = "syndic.db"
[[source]]
id = "header-ok"
url = "%[1]s/h1"
headers = { Authorization = "Bearer %[3]s" }
[[source]]
id = "header-fail"
url = "%[1]s/fail/h"
headers = { Authorization = "Bearer %[3]s" }
[[source]]
id = "header-redirect"
url = "%[1]s/redirect"
headers = { Authorization = "Bearer %[3]s" }
[[source]]
id = "cred-ok"
url = "http://user:%[4]s@%[2]s/c1"
[[source]]
id = "cred-fail"
url = "http://user:%[4]s@%[2]s/fail/c"
[[source]]
id = "cred-refused"
url = "http://user:%[4]s@%[5]s/feed"
[[source]]
id = "query-ok"
url = "%[1]s/q1?format=rss&api_key=%[6]s"
[[source]]
id = "query-fail"
url = "%[1]s/fail/q?Private-Token=%[6]s"
[[source]]
id = "query-moved"
url = "%[1]s/moved?token=%[6]s"
[[source]]
id = "query-refused"
url = "http://%[5]s/feed?access_token=%[6]s"
`, srv.URL, host, token, password, closedHost, apiKey)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var outputs []struct{ name, text string }
	add := func(name, text string) { outputs = append(outputs, struct{ name, text string }{name, text}) }

	if r := run(t, "check", "-config", cfg); true {
		add("check", r.stdout+r.stderr)
	}
	// A URL that does not parse is reported with its password hidden.
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(fmt.Sprintf("[[source]]\nid = \"bad\"\nurl = \"http://user:%s@%s/%%zz\"\n", password, host)), 0o644)
	if r := run(t, "check", "-config", bad); r.code != 1 || !strings.Contains(r.stderr, "source[1].url") {
		t.Errorf("check of an unparsable URL: exit %d %s", r.code, r.stderr)
	} else {
		add("check of an unparsable URL", r.stdout+r.stderr)
	}
	r := run(t, "fetch", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("fetch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	add("fetch", r.stdout+r.stderr)
	if !strings.Contains(r.stdout, "4 ok") {
		t.Errorf("the sources with credentials did not all succeed:\n%s", r.stdout)
	}
	add("fetch again", func() string { r := run(t, "fetch", "-force", "-config", cfg); return r.stdout + r.stderr }())
	for _, args := range [][]string{{"sources"}, {"sources", "-json"}, {"items", "-json", "-limit", "0"}, {"items"}, {"render", "all"}, {"preview", "all"}} {
		r := run(t, append(args, "-config", cfg)...)
		add(strings.Join(args, " "), r.stdout+r.stderr)
	}

	d := startServe(t, cfg)
	eventually(t, "published items", func() bool {
		_, body := get(t, "http://"+d.addr+"/feeds/all.json")
		return strings.Contains(body, "Private story q1")
	})
	for _, p := range []string{"/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/", "/readyz", "/nope", "/sources.opml"} {
		resp, body := get(t, "http://"+d.addr+p)
		var hdr strings.Builder
		resp.Header.Write(&hdr)
		add("GET "+p, hdr.String()+body)
		switch p {
		case "/sources.opml":
			// Published: the source without URL credentials; left out: the
			// ones whose URL is a secret.
			if !strings.Contains(body, `xmlUrl="`+srv.URL+`/h1"`) || strings.Contains(body, "/c1") || strings.Contains(body, "/q1") {
				t.Errorf("/sources.opml lists the wrong sources:\n%s", body)
			}
		case "/feeds/all.json":
			// An entry's source link loses the secret, keeps the rest.
			if !strings.Contains(body, `"source_url": "`+srv.URL+`/q1?format=rss"`) {
				t.Errorf("/feeds/all.json: no source_url without the secret parameter:\n%s", body)
			}
		}
	}
	d.stop(t)
	add("serve log", d.stderr.String())

	for _, o := range outputs {
		if testing.Verbose() && (o.name == "fetch" || o.name == "sources") {
			t.Logf("%s:\n%s", o.name, o.text)
		}
		for _, secret := range []string{token, password, apiKey} {
			if strings.Contains(o.text, secret) {
				t.Errorf("%s leaks %q:\n%s", o.name, secret, excerpt(o.text, secret))
			}
		}
	}
	// The database holds the configured URLs (config, like the TOML file)
	// but never a header value.
	for _, f := range []string{"syndic.db", "syndic.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s holds the header secret", f)
		}
	}
	st := openTestStore(t, cfg)
	states, _ := st.SourceStates(context.Background())
	for _, s := range states {
		if strings.Contains(s.Error, token) || strings.Contains(s.Error, password) || strings.Contains(s.Error, apiKey) || strings.Contains(s.RedirectURL, password) {
			t.Errorf("source %s records a secret: %q", s.SourceID, s.Error)
		}
	}
}

func excerpt(text, secret string) string {
	i := strings.Index(text, secret)
	lo, hi := max(0, i-200), min(len(text), i+len(secret)+100)
	return text[lo:hi]
}

// TestDenyPrivateNetworks: with fetch.deny_private_networks a loopback
// source is refused at connect time and the refusal recorded.
func TestDenyPrivateNetworks(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "syndic.toml")
	conf := fmt.Sprintf(`[storage]
path = "syndic.db"
[fetch]
deny_private_networks = true
[[source]]
id = "loopback"
url = "%s/feed"
[[source]]
id = "localhost"
url = "http://localhost:%s/feed"
`, srv.URL, srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	os.WriteFile(cfg, []byte(conf), 0o644)
	r := run(t, "fetch", "-config", cfg)
	if r.code != 0 {
		t.Fatalf("fetch: exit %d %s", r.code, r.stderr)
	}
	st := openTestStore(t, cfg)
	for _, id := range []string{"loopback", "localhost"} {
		s, err := st.SourceState(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != model.StatusError || s.ErrorClass != model.ErrClassDenied || !strings.Contains(s.Error, "loopback") {
			t.Errorf("source %s: %s/%s %q, want denied (loopback)", id, s.Status, s.ErrorClass, s.Error)
		}
	}
	if !strings.Contains(r.stdout, "denied") {
		t.Errorf("fetch output does not say denied:\n%s", r.stdout)
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback server got %d requests", hits.Load())
	}
}
