package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/syndic-dev/syndic/internal/model"
)

// TestNoSecrets drives every endpoint, success and failure, and checks
// that neither a response nor the log holds the admin token, a source
// header value, a password from a URL or a secret query parameter.
func TestNoSecrets(t *testing.T) {
	const (
		headerValue = "Bearer header-secret-value"
		password    = "url-pass-9"
		queryKey    = "url-query-key-7"
	)
	secretURL := "https://bob:" + password + "@beta.example/feed?format=rss&api_key=" + queryKey
	// What the configuration holds; SourceConfig has no place for the
	// headers, so the wiring cannot pass them on.
	type configSource struct {
		SourceConfig
		Headers map[string]string
	}
	config := []configSource{{
		SourceConfig: SourceConfig{ID: "beta", URL: secretURL, Enabled: true, Schedule: "@every 1h"},
		Headers:      map[string]string{"Authorization": headerValue},
	}}
	items := pagedItems(6)
	fs := newFakeStore(items...)
	fs.states = []model.SourceState{
		{SourceID: "beta", URL: secretURL, Status: model.StatusError, Error: "get " + secretURL + ": status 401",
			RedirectURL: secretURL, Alternates: []string{secretURL}},
		{SourceID: "old", URL: secretURL + "/old", SiteURL: secretURL},
	}
	h, _, logs := newTestAPI(t, Deps{
		Store: fs,
		Sources: func() []SourceConfig {
			var out []SourceConfig
			for _, c := range config {
				out = append(out, c.SourceConfig)
			}
			return out
		},
		OutputSources: func(string) ([]string, bool) { return []string{"alpha"}, true },
		Refresh: func(ctx context.Context, id string) error {
			return fmt.Errorf("fetch %s: boom", secretURL)
		},
		Reload: func(context.Context) error {
			return errors.Join(fmt.Errorf("source[1].url: %q is taken", secretURL))
		},
		Invalidate: func(...string) {},
	})
	reqs := []request{
		{path: "/api/sources"},
		{path: "/api/items?output=all&limit=2"},
		{method: http.MethodPost, path: "/api/items/" + items[0].ID + "/feature"},
		{method: http.MethodPost, path: "/api/items/" + items[0].ID + "/hide"},
		{method: http.MethodPost, path: "/api/sources/beta/refresh"},
		{method: http.MethodPost, path: "/api/reload"},
		{path: "/api/nope"},
		{method: http.MethodPut, path: "/api/reload"},
	}
	var bodies strings.Builder
	for i, req := range reqs {
		// The wrong token holds the right one: a log of presented tokens
		// would show it. Each request has its own address so that the
		// failures never slow the next request down.
		for j, token := range []string{testToken, "wrong-" + testToken, ""} {
			req.token = token
			req.remote = fmt.Sprintf("192.0.2.%d:1", i*3+j)
			w := serve(t, h, req)
			if token == testToken && (w.Code == http.StatusUnauthorized || w.Code == http.StatusTooManyRequests) {
				t.Errorf("%s %s: status %d with the right token", req.method, req.path, w.Code)
			}
			bodies.WriteString(w.Body.String())
			for name, vals := range w.Header() {
				bodies.WriteString(name + ": " + strings.Join(vals, ",") + "\n")
			}
		}
	}
	// A store failure whose message carries a URL.
	fs.err = fmt.Errorf("read items of %s: disk full", secretURL)
	bodies.WriteString(serve(t, h, request{path: "/api/items", token: testToken}).Body.String())

	for name, text := range map[string]string{"responses": bodies.String(), "log": logs.String()} {
		for _, secret := range []string{testToken, headerValue, "header-secret-value", password, queryKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%s reveal %q:\n%s", name, secret, text)
			}
		}
	}
	if !strings.Contains(logs.String(), "disk full") || !strings.Contains(logs.String(), "bob:xxxxx@") {
		t.Errorf("log lacks the redacted store error:\n%s", logs.String())
	}
}

// TestSourceConfigHasNoHeaders guards the type the wiring fills: a field
// able to carry headers would put them one JSON encoding away from a
// response.
func TestSourceConfigHasNoHeaders(t *testing.T) {
	typ := reflect.TypeFor[SourceConfig]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() == reflect.Map || strings.Contains(strings.ToLower(f.Name), "header") {
			t.Errorf("SourceConfig.%s (%s) could carry headers", f.Name, f.Type)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	file, err := os.Open("testdata/cursors.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			f.Add(line)
		}
	}
	if err := sc.Err(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			return
		}
		if !itemIDPattern.MatchString(c.ID) {
			t.Fatalf("decodeCursor(%q) accepted id %q", s, c.ID)
		}
		// What decodes must encode back to an equivalent cursor.
		again, err := decodeCursor(encodeCursor(model.Item{ID: c.ID, Published: c.Published}))
		if err != nil || again.ID != c.ID || !again.Published.Equal(c.Published) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}
