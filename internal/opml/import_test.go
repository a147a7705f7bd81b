package opml

import (
	"reflect"
	"strings"
	"testing"

	"github.com/syndic-dev/syndic/config"
)

const minimalConfig = `# a minimal valid config
[[source]]
id  = "bbc-world"
url = "https://feeds.bbci.co.uk/news/world/rss.xml"

[[source]]
id  = "go-blog"
url = "https://go.dev/blog/feed.atom"
`

func mustConfig(t testing.TB, doc string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(doc), "feeds.toml")
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	return c
}

// checkBlocksParse appends blocks to minimalConfig and parses the result.
func checkBlocksParse(t testing.TB, blocks string) *config.Config {
	t.Helper()
	doc := string(appendBlocks([]byte(minimalConfig), blocks))
	c, err := config.Parse([]byte(doc), "feeds.toml")
	if err != nil {
		t.Fatalf("config with the blocks appended does not parse: %v\n%s", err, doc)
	}
	return c
}

func TestImportSkipsConfiguredAndDuplicates(t *testing.T) {
	existing := mustConfig(t, minimalConfig)
	feeds := []Feed{
		{URL: "HTTPS://Feeds.BBCI.co.uk/news/world/rss.xml", Title: "BBC upper-case host"},
		{URL: "https://feeds.bbci.co.uk/news/world/rss.xml/", Title: "BBC trailing slash"},
		{URL: "https://feeds.bbci.co.uk:443/news/world/rss.xml#top", Title: "BBC port and fragment"},
		{URL: "https://go.dev/blog/feed.atom", Title: "Go exact"},
		{URL: "https://new.example/feed", Title: "New"},
		{URL: "https://NEW.example/feed/", Title: "New again"},
		{URL: "ftp://files.example/feed", Title: "FTP"},
		{URL: "feed://old.example/rss", Title: "feed scheme"},
		{URL: "/relative/feed.xml", Title: "Relative"},
		{URL: "", Title: "Empty"},
		{URL: "https://new.example/feed?page=2", Title: "Query differs"},
	}
	res := Import(existing, feeds)

	wantSkips := []struct{ title, reason string }{
		{"BBC upper-case host", `already configured as source "bbc-world"`},
		{"BBC trailing slash", `already configured as source "bbc-world"`},
		{"BBC port and fragment", `already configured as source "bbc-world"`},
		{"Go exact", `already configured as source "go-blog"`},
		{"New again", "duplicate in the OPML file"},
		{"FTP", "not an http(s) URL"},
		{"feed scheme", "not an http(s) URL"},
		{"Relative", "not an http(s) URL"},
		{"Empty", "not an http(s) URL"},
	}
	if len(res.Skipped) != len(wantSkips) {
		t.Fatalf("skipped %d feeds, want %d: %q", len(res.Skipped), len(wantSkips), res.Skipped)
	}
	for i, w := range wantSkips {
		if got := res.Skipped[i]; got.Feed.Title != w.title || got.Reason != w.reason {
			t.Errorf("Skipped[%d] = %q: %q, want %q: %q", i, got.Feed.Title, got.Reason, w.title, w.reason)
		}
	}
	var added []string
	for _, f := range res.Added {
		added = append(added, f.Title)
	}
	if want := []string{"New", "Query differs"}; !reflect.DeepEqual(added, want) {
		t.Errorf("Added = %q, want %q", added, want)
	}
	c := checkBlocksParse(t, res.Blocks)
	if got, want := len(c.Sources), 4; got != want {
		t.Errorf("config has %d sources after import, want %d", got, want)
	}
}

func TestImportIDs(t *testing.T) {
	existing := mustConfig(t, minimalConfig)
	feeds := []Feed{
		{URL: "https://a.example/feed", Title: "Go Blog"},                         // clashes with configured go-blog
		{URL: "https://b.example/feed", Title: "Go Blog"},                         // and with the one before
		{URL: "https://c.example/feed", Title: "go blog!"},                        // same slug, third time
		{URL: "https://www.Example.org/news/feed.xml"},                            // no title: host and path
		{URL: "https://d.example/", Title: "日本語のブログ"},                             // no ASCII in the title
		{URL: "https://e.example/feed", Title: strings.Repeat("Long Title ", 10)}, // cut at 48
		{URL: "https://f.example/", Title: "---"},                                 // nothing left anywhere but the host
		{URL: "https://g.example/x", Title: "BBC World"},                          // bbc-world is taken
	}
	res := Import(existing, feeds)
	c := checkBlocksParse(t, res.Blocks)
	var got []string
	for _, s := range c.Sources[2:] {
		got = append(got, s.ID)
	}
	want := []string{
		"go-blog-2",
		"go-blog-3",
		"go-blog-4",
		"example-org-news-feed-xml",
		"d-example",
		"long-title-long-title-long-title-long-title-long",
		"f-example",
		"bbc-world-2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ids = %q\nwant  %q", got, want)
	}
	for _, id := range got {
		if len(id) > 48+3 {
			t.Errorf("id %q is longer than 48 plus a suffix", id)
		}
	}
}

func TestImportWithoutConfigAndEmpty(t *testing.T) {
	res := Import(nil, nil)
	if res.Blocks != "" || len(res.Added) != 0 || len(res.Skipped) != 0 {
		t.Errorf("Import(nil, nil) = %+v, want nothing", res)
	}
	res = Import(nil, []Feed{{URL: "https://x.example/feed"}})
	want := "# imported from OPML: https://x.example/feed\n[[source]]\nid    = \"x-example-feed\"\nurl   = \"https://x.example/feed\"\n"
	if res.Blocks != want {
		t.Errorf("Blocks =\n%s\nwant\n%s", res.Blocks, want)
	}
}

func TestImportEscaping(t *testing.T) {
	feeds := []Feed{
		{URL: "https://q.example/feed", Title: `Rock & Roll's "Blog" \ back\slash`},
		{URL: "https://u.example/feed", Title: "Le Monde – À la une 日本語 🚀"},
		{URL: "https://c.example/feed", Title: "Tab\there\nnew line\r\x00nul\x7fdel \u0085next"},
		{URL: "https://t.example/feed", Title: `''' """ ${x} # not a comment`},
		{URL: "https://x.example/feed?a=\"b\"&c=\\", Title: "odd url"},
		{URL: "https://bad.example/feed", Title: "bad utf-8 \xff\xfe here"},
		{URL: "https://tags.example/feed", Title: "Tags", Tags: []string{"Tech", "tech", "Über Cool", "日本", "a_b"}},
	}
	res := Import(nil, feeds)
	c := checkBlocksParse(t, res.Blocks)
	if got, want := len(c.Sources), 2+len(feeds); got != want {
		t.Fatalf("%d sources, want %d:\n%s", got, want, res.Blocks)
	}
	for i, f := range feeds {
		s := c.Sources[2+i]
		if want := strings.TrimSpace(f.URL); s.URL != want {
			t.Errorf("source %d url = %q, want %q", i, s.URL, want)
		}
		if want := cleanText(f.Title); s.Title != want {
			t.Errorf("source %d title = %q, want %q", i, s.Title, want)
		}
		if s.Title != res.Added[i].Title {
			t.Errorf("source %d title = %q, Added says %q", i, s.Title, res.Added[i].Title)
		}
	}
	if got, want := c.Sources[len(c.Sources)-1].Tags, []string{"tech", "uber-cool", "a_b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags = %q, want %q", got, want)
	}
	// Every block is introduced by its comment, one line each.
	if got, want := strings.Count(res.Blocks, "# imported from OPML: "), len(feeds); got != want {
		t.Errorf("%d comments, want %d", got, want)
	}
	for line := range strings.SplitSeq(res.Blocks, "\n") {
		if strings.HasPrefix(line, "#") && strings.ContainsAny(line, "\r\x00\x7f") {
			t.Errorf("comment holds a control character: %q", line)
		}
	}
}

func TestTOMLString(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `""`},
		{`plain`, `"plain"`},
		{`a "quote"`, `"a \"quote\""`},
		{`back\slash`, `"back\\slash"`},
		{"tab\tnl\ncr\rbs\bff\f", `"tab\tnl\ncr\rbs\bff\f"`},
		{"nul\x00esc\x1bdel\x7f", `"nul\u0000esc\u001Bdel\u007F"`},
		{"日本 – ü 🚀", `"日本 – ü 🚀"`},
		{"bad \xff", "\"bad \uFFFD\""},
	}
	for _, tt := range tests {
		if got := tomlString(tt.in); got != tt.want {
			t.Errorf("tomlString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzTOMLString checks that any string quoted by tomlString reads back
// as itself (each invalid byte as U+FFFD) through the config loader.
func FuzzTOMLString(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, "\x00\x7f\n", "日本", `''' """`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := minimalConfig + "\n[[source]]\nid = \"z\"\nurl = \"https://z.example/\"\ntitle = " + tomlString(s) + "\n"
		c, err := config.Parse([]byte(doc), "fuzz.toml")
		if err != nil {
			t.Fatalf("title %q: %v", s, err)
		}
		if got, want := c.Sources[2].Title, string([]rune(s)); got != want {
			t.Errorf("title %q read back as %q, want %q", s, got, want)
		}
	})
}
