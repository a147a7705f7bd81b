package fetcher

import (
	"bufio"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://example.org/feed.xml", "https://example.org/feed.xml"},
		{"https://user:secret@example.org/feed.xml", "https://user:xxxxx@example.org/feed.xml"},
		{"https://user@example.org/feed.xml", "https://user@example.org/feed.xml"},
		{"https://user:@example.org/", "https://user:xxxxx@example.org/"},
		{"https://:secret@example.org/", "https://:xxxxx@example.org/"},
		{"https://us%40er:p%40ss@example.org/?q=1#f", "https://us%40er:xxxxx@example.org/?q=1#f"},
		{"https://user:sec ret@example.org/feed", "https://user:xxxxx@example.org/feed"},
		{"https://user:sec%zzret@example.org/feed", "https://user:xxxxx@example.org/feed"},
		{"https://user:a@b@example.org:99x/feed", "https://user:xxxxx@example.org:99x/feed"},
		{"not a url", "not a url"},
		{"", ""},
		{"%zz://user:pw@host/", "%zz://user:xxxxx@host/"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHost(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://Example.ORG/feed", "example.org"},
		{"https://example.org:443/feed", "example.org"},
		{"http://example.org:80/feed", "example.org"},
		{"http://example.org/feed", "example.org"},
		{"http://example.org.:8080/feed", "example.org:8080"},
		{"https://example.org:80/feed", "example.org:80"},
		{"https://user:pw@example.org/feed", "example.org"},
		{"http://127.0.0.1:1234/", "127.0.0.1:1234"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"http://[::1]/", "[::1]"},
		{"http://[::1/", ""},
	}
	for _, tt := range tests {
		if got := Host(tt.in); got != tt.want {
			t.Errorf("Host(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Class: "http_status", StatusCode: 503, URL: "https://example.org/feed.xml", Err: statusError(503, "", false)}
	if got, want := e.Error(), `get "https://example.org/feed.xml": status 503`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// FuzzRedactURL checks that a parsed password never survives and that
// nothing panics. Seeds: testdata/redact_urls.txt, one URL a line.
func FuzzRedactURL(f *testing.F) {
	file, err := os.Open("testdata/redact_urls.txt")
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
	f.Fuzz(func(t *testing.T, raw string) {
		out := RedactURL(raw)
		u, err := url.Parse(raw)
		if err != nil {
			// Textual redaction: the password between ':' and '@' of the
			// authority is gone.
			if i := strings.Index(raw, "//"); i >= 0 {
				rest := raw[i+2:]
				if j := strings.IndexAny(rest, "/?#"); j >= 0 {
					rest = rest[:j]
				}
				if at := strings.LastIndex(rest, "@"); at >= 0 {
					if c := strings.Index(rest[:at], ":"); c >= 0 {
						pw := rest[c+1 : at]
						if len(pw) > 5 && strings.Count(out, pw) >= strings.Count(raw, pw) {
							t.Errorf("RedactURL(%q) = %q still holds %q", raw, out, pw)
						}
					}
				}
			}
			return
		}
		pw, ok := u.User.Password()
		if !ok {
			if out != raw {
				t.Errorf("RedactURL(%q) = %q, want it unchanged (no password)", raw, out)
			}
			return
		}
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("RedactURL(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if got, _ := v.User.Password(); got != redactedPassword {
			t.Errorf("RedactURL(%q) = %q, password %q, want %q (was %q)", raw, out, got, redactedPassword, pw)
		}
		if v.User.Username() != u.User.Username() || v.Host != u.Host {
			t.Errorf("RedactURL(%q) = %q changed user or host", raw, out)
		}
	})
}
