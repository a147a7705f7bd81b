package credential

import (
	"bufio"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
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

		// Secret query parameters: the value is masked, the rest kept as
		// written (order, encoding, fragment).
		{"https://example.org/feed?token=abc123", "https://example.org/feed?token=xxxxx"},
		{"https://example.org/feed?format=rss&api_key=k3y&lang=en", "https://example.org/feed?format=rss&api_key=xxxxx&lang=en"},
		{"https://example.org/feed?Private-Token=t0k&x=1#top", "https://example.org/feed?Private-Token=xxxxx&x=1#top"},
		{"https://example.org/feed?X-Amz-Signature=beef&X-Amz-Credential=AKIA%2F1&X-Amz-Date=20261201",
			"https://example.org/feed?X-Amz-Signature=xxxxx&X-Amz-Credential=xxxxx&X-Amz-Date=20261201"},
		{"https://example.org/i/?a=rss&user=alice&token=s3&hash=f00", "https://example.org/i/?a=rss&user=alice&token=xxxxx&hash=xxxxx"},
		{"https://user:pw@example.org/feed?key=k&keyword=news", "https://user:xxxxx@example.org/feed?key=xxxxx&keyword=news"},
		{"https://example.org/feed?%74oken=encoded", "https://example.org/feed?%74oken=xxxxx"},
		{"https://example.org/feed?token=", "https://example.org/feed?token="},
		{"https://example.org/feed?token", "https://example.org/feed?token"},
		{"https://example.org/feed?sort_key=date&monkey=1&q=a+b", "https://example.org/feed?sort_key=xxxxx&monkey=1&q=a+b"},
		{"https://example.org/feed?q=token%3Dx", "https://example.org/feed?q=token%3Dx"},
		{"https://example.org/%zz?token=bad-escape", "https://example.org/%zz?token=xxxxx"},
		{"https://u:p@example.org/%zz?access_token=t", "https://u:xxxxx@example.org/%zz?access_token=xxxxx"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Redact(tt.want); got != tt.want {
			t.Errorf("Redact(%q) = %q, want it unchanged (already redacted)", tt.want, got)
		}
		if got, want := HasSecret(tt.in), tt.in != tt.want; got != want {
			t.Errorf("HasSecret(%q) = %v, want %v", tt.in, got, want)
		}
	}
}

func TestPublic(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://example.org/feed.xml", "https://example.org/feed.xml"},
		{"https://user:secret@example.org/feed.xml", "https://example.org/feed.xml"},
		{"https://user@example.org/feed.xml", "https://example.org/feed.xml"},
		{"https://example.org/feed?token=abc", "https://example.org/feed"},
		{"https://example.org/feed?format=rss&api_key=k&lang=en#x", "https://example.org/feed?format=rss&lang=en#x"},
		{"https://example.org/i/?a=rss&user=alice&token=s&hash=f", "https://example.org/i/?a=rss&user=alice"},
		{"https://example.org/feed?q=a+b&tag=%C3%A9t%C3%A9", "https://example.org/feed?q=a+b&tag=%C3%A9t%C3%A9"},
		{"https://example.org/feed?", "https://example.org/feed?"},
		{"https://example.org/%zz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Public(tt.in); got != tt.want {
			t.Errorf("Public(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecretParam(t *testing.T) {
	for _, name := range []string{
		"key", "KEY", "apikey", "api_key", "api-key", "apiKey", "app_key", "token", "access_token",
		"Private-Token", "feed_token", "auth", "password", "passwd", "pass", "pwd", "secret",
		"client_secret", "sig", "signature", "X-Amz-Signature", "X-Amz-Credential",
		"X-Amz-Security-Token", "session", "sessionid", "sid", "hash", "jwt", "access_key",
		"license.key", "user_password",
	} {
		if !SecretParam(name) {
			t.Errorf("SecretParam(%q) = false, want true", name)
		}
	}
	for _, name := range []string{
		"", "q", "format", "lang", "user", "keyword", "monkey", "keys", "page", "tag", "author",
		"X-Amz-Date", "X-Amz-Expires", "category", "sort", "id", "site",
	} {
		if SecretParam(name) {
			t.Errorf("SecretParam(%q) = true, want false", name)
		}
	}
}

func seeds(f *testing.F) {
	file, err := os.Open("testdata/urls.txt")
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
}

// rawParams splits a raw query into name and value pairs as written.
func rawParams(q string) [][2]string {
	if q == "" {
		return nil
	}
	var out [][2]string
	for p := range strings.SplitSeq(q, "&") {
		name, value, _ := strings.Cut(p, "=")
		out = append(out, [2]string{name, value})
	}
	return out
}

// FuzzRedact checks that no parsed password and no value of a secret
// parameter survives, that a URL without secrets comes back unchanged, and
// that nothing panics. Seeds: testdata/urls.txt, one URL a line.
func FuzzRedact(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, raw string) {
		out := Redact(raw)
		if again := Redact(out); again != out {
			t.Errorf("Redact(%q) = %q, but Redact of that = %q", raw, out, again)
		}
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
							t.Errorf("Redact(%q) = %q still holds %q", raw, out, pw)
						}
					}
				}
			}
			return
		}
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("Redact(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if v.Host != u.Host || v.User.Username() != u.User.Username() || v.Path != u.Path {
			t.Errorf("Redact(%q) = %q changed user, host or path", raw, out)
		}
		if _, ok := u.User.Password(); ok {
			if got, _ := v.User.Password(); got != Mask {
				t.Errorf("Redact(%q) = %q, password %q, want %q", raw, out, got, Mask)
			}
		}
		in, red := rawParams(u.RawQuery), rawParams(v.RawQuery)
		if len(in) != len(red) {
			t.Fatalf("Redact(%q) = %q: %d query parameters, want %d", raw, out, len(red), len(in))
		}
		secret := false
		for i, p := range in {
			want := p
			if p[1] != "" && SecretParam(paramName(p[0]+"=")) {
				want[1] = Mask
				secret = secret || p[1] != Mask
			}
			if red[i] != want {
				t.Errorf("Redact(%q) = %q: parameter %d is %q, want %q", raw, out, i, red[i], want)
			}
		}
		if _, ok := u.User.Password(); !ok && !secret && out != raw {
			t.Errorf("Redact(%q) = %q, want it unchanged (no secret)", raw, out)
		}
	})
}

// FuzzPublic checks that a published URL parses, has no userinfo and no
// secret parameter, and keeps every other parameter in order.
func FuzzPublic(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, raw string) {
		out := Public(raw)
		u, err := url.Parse(raw)
		if err != nil {
			if out != "" {
				t.Errorf("Public(%q) = %q, want \"\" for a URL that does not parse", raw, out)
			}
			return
		}
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("Public(%q) = %q, which does not parse: %v", raw, out, err)
		}
		if v.User != nil {
			t.Errorf("Public(%q) = %q keeps userinfo", raw, out)
		}
		// Empty parameters ("a=1&&b=2") may go with the secret ones.
		var want, got [][2]string
		for _, p := range rawParams(u.RawQuery) {
			if p != [2]string{} && !SecretParam(paramName(p[0]+"=")) {
				want = append(want, p)
			}
		}
		for _, p := range rawParams(v.RawQuery) {
			if p != [2]string{} {
				got = append(got, p)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Public(%q) = %q: parameters %q, want %q", raw, out, got, want)
		}
	})
}
