package dedup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCanonicalURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"relative", "/news/1", ""},
		{"no host", "http:///path", ""},
		{"opaque", "http:example.com", ""},
		{"ftp", "ftp://example.com/file", ""},
		{"mailto", "mailto:a@example.com", ""},
		{"javascript", "javascript:alert(1)", ""},
		{"unparsable", "http://exa mple.com/%zz", ""},
		{"bad port", "http://example.com:port/", ""},
		{"already canonical", "https://example.com/a/b?x=1", "https://example.com/a/b?x=1"},
		{"surrounding space", "  https://example.com/a  ", "https://example.com/a"},
		{"scheme case", "HTTPS://example.com/a", "https://example.com/a"},
		{"host case", "https://WWW.Example.COM/Path", "https://www.example.com/Path"},
		{"path case kept", "https://example.com/News/Story", "https://example.com/News/Story"},
		{"http default port", "http://example.com:80/a", "http://example.com/a"},
		{"https default port", "https://example.com:443/a", "https://example.com/a"},
		{"http port 443 kept", "http://example.com:443/a", "http://example.com:443/a"},
		{"other port kept", "https://example.com:8443/a", "https://example.com:8443/a"},
		{"ipv6 default port", "http://[::1]:80/a", "http://[::1]/a"},
		{"ipv6 port kept", "http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"},
		{"fragment dropped", "https://example.com/a#comments", "https://example.com/a"},
		{"empty fragment dropped", "https://example.com/a#", "https://example.com/a"},
		{"user info dropped", "https://user:secret@example.com/a", "https://example.com/a"},
		{"empty path", "https://example.com", "https://example.com/"},
		{"empty path with query", "https://example.com?p=1", "https://example.com/?p=1"},
		{"trailing slash kept", "https://example.com/a/", "https://example.com/a/"},
		{"no trailing slash kept", "https://example.com/a", "https://example.com/a"},
		{"dot segment", "https://example.com/a/./b", "https://example.com/a/b"},
		{"dot dot segment", "https://example.com/a/b/../c", "https://example.com/a/c"},
		{"dot dot above root", "https://example.com/../../a", "https://example.com/a"},
		{"trailing dot dot", "https://example.com/a/b/..", "https://example.com/a/"},
		{"utm params", "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://example.com/a"},
		{"utm case", "https://example.com/a?UTM_Source=rss", "https://example.com/a"},
		{"utm any suffix", "https://example.com/a?utm_whatever=1&id=7", "https://example.com/a?id=7"},
		{"click ids", "https://example.com/a?fbclid=1&gclid=2&dclid=3&msclkid=4&yclid=5&igshid=6", "https://example.com/a"},
		{"newsletter ids", "https://example.com/a?mc_cid=1&mc_eid=2&_ga=3&_hsenc=4", "https://example.com/a"},
		{"publisher ids", "https://example.com/a?ref_src=twsrc&cmpid=rss&ncid=x&at_medium=RSS&at_campaign=KARANGA", "https://example.com/a"},
		{"other params kept in order", "https://example.com/a?z=1&utm_source=x&a=2&id=3", "https://example.com/a?z=1&a=2&id=3"},
		{"other params spelling kept", "https://example.com/s?q=a+b&x=%2F", "https://example.com/s?q=a+b&x=%2F"},
		{"empty pairs dropped", "https://example.com/a?&a=1&&b=2&", "https://example.com/a?a=1&b=2"},
		{"only tracking leaves no question mark", "https://example.com/a?utm_source=x", "https://example.com/a"},
		{"bare question mark", "https://example.com/a?", "https://example.com/a"},
		{"encoded tracking key", "https://example.com/a?utm%5Fsource=x&b=1", "https://example.com/a?b=1"},
		{"look-alike param kept", "https://example.com/a?ref=home&source=rss", "https://example.com/a?ref=home&source=rss"},
		{"percent-encoded unreserved", "https://example.com/%7Euser/a%2Db", "https://example.com/~user/a-b"},
		{"lower-case escapes", "https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"},
		{"unicode path encoded", "https://example.com/café", "https://example.com/caf%C3%A9"},
		{"space in path", "https://example.com/a%20b", "https://example.com/a%20b"},
		{"encoded slash kept", "https://example.com/a%2Fb/c", "https://example.com/a%2Fb/c"},
		{"idn host lowered", "https://BÜCHER.example/a", "https://b%C3%BCcher.example/a"},
		{"punycode host", "https://XN--BCHER-KVA.example/", "https://xn--bcher-kva.example/"},
		{"backslash rejected", "http://example.com\\@evil.com/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CanonicalURL(tt.in)
			if got != tt.want {
				t.Errorf("CanonicalURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := CanonicalURL(got); again != got {
				t.Errorf("CanonicalURL(%q) = %q, not idempotent (first %q)", got, again, got)
			}
		})
	}
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range urlSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c := CanonicalURL(raw)
		if again := CanonicalURL(c); again != c {
			t.Fatalf("CanonicalURL not idempotent: %q -> %q -> %q", raw, c, again)
		}
		if c != "" && !strings.HasPrefix(c, "http://") && !strings.HasPrefix(c, "https://") {
			t.Fatalf("CanonicalURL(%q) = %q, not http(s)", raw, c)
		}
	})
}

// urlSeeds reads testdata/urls.txt: one URL a line, # for comments.
func urlSeeds(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "urls.txt"))
	if err != nil {
		tb.Fatalf("read seeds: %v", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func BenchmarkCanonicalURL(b *testing.B) {
	const in = "HTTPS://WWW.Example.com:443/news/world/../2024/05/senate-passes-climate-bill/?utm_source=rss&utm_medium=feed&id=42&fbclid=abc#comments"
	for b.Loop() {
		CanonicalURL(in)
	}
}
