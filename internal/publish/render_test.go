package publish

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* files")

// TestGolden renders the fixture in every format and mode, compares with
// the golden files, validates against the specs, and parses each feed back
// with gofeed with ids, titles, links and dates intact.
func TestGolden(t *testing.T) {
	for _, mode := range []string{model.OutputModeHeadlines, model.OutputModeArticles} {
		for _, format := range formats {
			t.Run(mode+"/"+format, func(t *testing.T) {
				st := newFakeStore(fixtureItems()...)
				p := newTestPublisher(t, st, []model.Output{testOutput(mode, mode)}, testSources())
				r := render(t, p, mode, format, 1)

				checkGolden(t, format, filepath.Join("testdata", mode+".golden."+format), r.Body)

				checkFormat(t, format, r.Body)
				t.Run("schema", func(t *testing.T) { validateSchema(t, format, r.Body) })

				// Three stories: beta's copy of alpha's story is folded in.
				wantItems := []model.Item{fixtureItems()[0], fixtureItems()[3], fixtureItems()[2]}
				f := parseBack(t, r.Body)
				if got, want := len(f.Items), len(wantItems); got != want {
					t.Fatalf("gofeed read %d items, want %d", got, want)
				}
				for i, it := range f.Items {
					w := wantItems[i]
					if got, want := it.GUID, "urn:syndic:item:"+w.ID; got != want {
						t.Errorf("item %d id = %q, want %q", i, got, want)
					}
					if got, want := it.Title, w.Title; got != want {
						t.Errorf("item %d title = %q, want %q", i, got, want)
					}
					if got, want := it.Link, w.Link; got != want {
						t.Errorf("item %d link = %q, want %q", i, got, want)
					}
					if it.PublishedParsed == nil || !it.PublishedParsed.Equal(w.Published) {
						t.Errorf("item %d published = %v, want %v", i, it.PublishedParsed, w.Published)
					}
				}
				if got, want := f.Title, "Test "+mode; got != want {
					t.Errorf("feed title = %q, want %q", got, want)
				}
			})
		}
	}
}

func TestRenderedMetadata(t *testing.T) {
	st := newFakeStore(fixtureItems()...)
	p := newTestPublisher(t, st, []model.Output{testOutput("h", model.OutputModeHeadlines)}, testSources())
	r := render(t, p, "h", FormatAtom, 1)
	if got, want := r.ContentType, "application/atom+xml; charset=utf-8"; got != want {
		t.Errorf("ContentType = %q, want %q", got, want)
	}
	if r.Entries != 3 || r.Pages != 1 {
		t.Errorf("Entries, Pages = %d, %d, want 3, 1", r.Entries, r.Pages)
	}
	// The newest Changed among the entries (alpha's story), not beta's
	// newer but folded duplicate.
	if got, want := r.LastModified, testNow.Add(-2*time.Hour+time.Minute); !got.Equal(want) {
		t.Errorf("LastModified = %v, want %v", got, want)
	}
	if len(r.ETag) != 34 || r.ETag[0] != '"' || r.ETag[33] != '"' {
		t.Errorf("ETag %s is not a quoted 32-hex-digit tag", r.ETag)
	}
	if r.GzipETag != strings.TrimSuffix(r.ETag, `"`)+`-gz"` {
		t.Errorf("GzipETag %s does not match ETag %s", r.GzipETag, r.ETag)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, r.Body) {
		t.Errorf("Gzip does not decompress to Body (err %v)", err)
	}
}

func TestRenderErrors(t *testing.T) {
	p := newTestPublisher(t, newFakeStore(), []model.Output{testOutput("a", model.OutputModeHeadlines), testOutput("b", model.OutputModeArticles)}, testSources())
	ctx := context.Background()
	_, err := p.Render(ctx, "nope", FormatRSS, 1)
	var uerr *UnknownOutputError
	if !errors.Is(err, ErrUnknownOutput) || !errors.As(err, &uerr) {
		t.Fatalf("Render(unknown) error = %v, want ErrUnknownOutput", err)
	}
	if !slices.Equal(uerr.Known, []string{"a", "b"}) {
		t.Errorf("Known = %v, want [a b]", uerr.Known)
	}
	if _, err := p.Render(ctx, "a", "html", 1); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Render(html) error = %v, want ErrUnknownFormat", err)
	}
	for _, page := range []int{0, 2} {
		if _, err := p.Render(ctx, "a", FormatRSS, page); !errors.Is(err, ErrNoSuchPage) {
			t.Errorf("Render(page %d) error = %v, want ErrNoSuchPage", page, err)
		}
	}
	// An empty output still has its one empty page, valid in every format.
	for _, f := range formats {
		r := render(t, p, "a", f, 1)
		if r.Entries != 0 || r.Pages != 1 {
			t.Errorf("%s: Entries, Pages = %d, %d, want 0, 1", f, r.Entries, r.Pages)
		}
		if !r.LastModified.Equal(testNow) {
			t.Errorf("%s: empty output LastModified = %v, want now", f, r.LastModified)
		}
		checkFormat(t, f, r.Body)
	}
}

// TestPagingWalk follows rel=next (next_url in JSON) from page 1 and sees
// every entry exactly once, with RFC 5005 links on every page.
func TestPagingWalk(t *testing.T) {
	var items []model.Item
	for i := range 23 {
		items = append(items, item("alpha", "k"+string(rune('a'+i)), "Item "+string(rune('A'+i)), i+1))
	}
	st := newFakeStore(items...)
	out := testOutput("paged", model.OutputModeHeadlines)
	out.Limit = 5
	p := newTestPublisher(t, st, []model.Output{out}, testSources())

	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			var ids []string
			next := outputURL(testBase, "paged", format, 1)
			for pages := 0; next != ""; pages++ {
				if pages > 10 {
					t.Fatal("rel=next never ends")
				}
				page := 1
				if _, q, ok := strings.Cut(next, "?page="); ok {
					page = atoi(t, q)
				}
				r := render(t, p, "paged", format, page)
				if r.Pages != 5 {
					t.Errorf("Pages = %d, want 5", r.Pages)
				}
				checkFormat(t, format, r.Body)
				var links map[string]string
				links, ids = pageLinks(t, format, r.Body, ids)
				if got, want := links["self"], outputURL(testBase, "paged", format, page); got != want {
					t.Errorf("page %d self = %q, want %q", page, got, want)
				}
				if format != FormatJSON {
					if links["first"] != outputURL(testBase, "paged", format, 1) || links["last"] != outputURL(testBase, "paged", format, 5) {
						t.Errorf("page %d first/last = %q/%q", page, links["first"], links["last"])
					}
					if wantPrev := page > 1; (links["prev"] != "") != wantPrev {
						t.Errorf("page %d prev = %q", page, links["prev"])
					}
				}
				next = links["next"]
			}
			if len(ids) != len(items) {
				t.Fatalf("walked %d entries, want %d", len(ids), len(items))
			}
			seen := map[string]bool{}
			for i, id := range ids {
				if seen[id] {
					t.Errorf("entry %s seen twice", id)
				}
				seen[id] = true
				// Newest first.
				if want := "urn:syndic:item:" + items[i].ID; id != want {
					t.Errorf("entry %d = %s, want %s", i, id, want)
				}
			}
			if _, err := p.Render(context.Background(), "paged", format, 6); !errors.Is(err, ErrNoSuchPage) {
				t.Errorf("page 6 error = %v, want ErrNoSuchPage", err)
			}
		})
	}
	t.Run("atom schema", func(t *testing.T) { validateAtomSchema(t, render(t, p, "paged", FormatAtom, 3).Body) })
}

// pageLinks returns a page's links by relation and appends its entry ids.
func pageLinks(t *testing.T, format string, body []byte, ids []string) (map[string]string, []string) {
	t.Helper()
	links := map[string]string{}
	switch format {
	case FormatAtom:
		f := checkAtom(t, body)
		for _, l := range f.Links {
			links[l.Rel] = l.Href
		}
		for _, e := range f.Entries {
			ids = append(ids, e.ID)
		}
	case FormatRSS:
		f := checkRSS(t, body)
		for _, l := range f.Channel.AtomLinks {
			links[l.Rel] = l.Href
		}
		for _, it := range f.Channel.Items {
			ids = append(ids, it.GUID.ID)
		}
	case FormatJSON:
		f := checkJSON(t, body)
		links["self"], _ = f["feed_url"].(string)
		links["next"], _ = f["next_url"].(string)
		for _, it := range f["items"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
	}
	return links, ids
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad page number %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestOddCharacters puts control characters, noncharacters, bidi marks,
// emoji and invalid UTF-8 into every field and expects well-formed XML and
// valid JSON that still round-trip through gofeed.
func TestOddCharacters(t *testing.T) {
	const odd = "a\x00b\x01c\x1f\x7f\u0085 \uFFFE\uFFFF \u200F\u202Eright-to-left\u202C 😀 \xed\xa0\x80lone \xff\xfe end"
	it := item("alpha", "odd", "Title "+odd, 1)
	it.Summary = "Summary " + odd
	it.ContentHTML = "<p>Content " + odd + "&#1;&#xFFFE;</p>"
	it.Author = "Author " + odd
	it.Categories = []string{"cat " + odd, odd}
	it.Link = "https://alpha.example/odd?x=" + odd
	src := testSources()
	src[0].Title = "Alpha " + odd
	for _, mode := range []string{model.OutputModeHeadlines, model.OutputModeArticles} {
		out := testOutput("odd", mode)
		out.Title = "Out " + odd
		out.Description = "Desc " + odd
		p := newTestPublisher(t, newFakeStore(it), []model.Output{out}, src)
		for _, format := range formats {
			t.Run(mode+"/"+format, func(t *testing.T) {
				r := render(t, p, "odd", format, 1)
				for _, bad := range []string{"\x00", "\x01", "\x1f", "\uFFFE", "\uFFFF", "\xed\xa0\x80", "&#1;", "&#x1;"} {
					if bytes.Contains(r.Body, []byte(bad)) {
						t.Errorf("output contains forbidden %q", bad)
					}
				}
				if format != FormatJSON && !bytes.Contains(r.Body, []byte("😀")) {
					t.Error("emoji lost")
				}
				checkFormat(t, format, r.Body)
				f := parseBack(t, r.Body)
				if len(f.Items) != 1 || f.Items[0].GUID != "urn:syndic:item:"+it.ID {
					t.Errorf("gofeed items = %+v", f.Items)
				}
				if format == FormatAtom {
					t.Run("schema", func(t *testing.T) { validateAtomSchema(t, r.Body) })
				}
			})
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"keeps tab newline cr", "a\tb\nc\rd", "a\tb\nc\rd"},
		{"drops C0", "a\x00b\x08c\x1fd", "abcd"},
		{"drops DEL and C1", "a\x7fb\u0085c", "abc"},
		{"drops noncharacters FFFE FFFF", "a\uFFFEb\uFFFFc", "abc"},
		{"keeps bidi marks and emoji", "\u200F\u202Ex😀", "\u200F\u202Ex😀"},
		{"replaces lone surrogate bytes", "a\xed\xa0\x80b", "a\uFFFDb"},
		{"replaces invalid bytes", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanText(tt.in); got != tt.want {
				t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTruncateText(t *testing.T) {
	long := strings.Repeat("word ", 100)
	got := truncateText(long, 300)
	if n := len([]rune(got)); n > 300 {
		t.Errorf("truncated to %d runes, want <= 300", n)
	}
	if !strings.HasSuffix(got, "word…") {
		t.Errorf("truncated text %q does not end at a word with an ellipsis", got[len(got)-20:])
	}
	if got := truncateText("short", 300); got != "short" {
		t.Errorf("short text changed to %q", got)
	}
}

// TestSanitize covers the hazards the sanitizer must remove and the markup
// it must keep.
func TestSanitize(t *testing.T) {
	p := New(newFakeStore(), Options{BaseURL: testBase})
	const base = "https://site.example/news/story.html"
	tests := []struct {
		name        string
		in          string
		contains    []string
		notContains []string
	}{
		{"script", `<p>hi</p><script>alert(1)</script>`, []string{"<p>hi</p>"}, []string{"script", "alert"}},
		{"event handler", `<img src="https://x.example/a.png" onerror="alert(1)">`, []string{`src="https://x.example/a.png"`}, []string{"onerror", "alert"}},
		{"javascript href", `<a href="javascript:alert(1)">x</a>`, []string{"x"}, []string{"javascript", "href"}},
		{"data image", `<img src="data:image/png;base64,AAAA">`, nil, []string{"data:"}},
		{"style attribute and element", `<p style="color:red">t</p><style>p{}</style>`, []string{"<p>t</p>"}, []string{"style", "color"}},
		{"form", `<form action="/x"><input name="q"><button>go</button></form>`, nil, []string{"<form", "<input", "<button"}},
		{"iframe", `<iframe src="https://evil.example/"></iframe>ok`, []string{"ok"}, []string{"iframe", "evil"}},
		{"relative img made absolute", `<img src="/img/a.png" alt="a">`, []string{`src="https://site.example/img/a.png"`}, nil},
		{"relative link made absolute", `<a href="other.html">o</a>`, []string{`href="https://site.example/news/other.html"`, `rel="nofollow"`}, nil},
		{"keeps structure", `<h2>H</h2><ul><li>a</li></ul><blockquote>q</blockquote><pre><code>c</code></pre><table><tr><td>t</td></tr></table><figure><img src="https://x.example/i.png"><figcaption>f</figcaption></figure>`,
			[]string{"<h2>", "<ul>", "<li>", "<blockquote>", "<pre>", "<code>", "<table>", "<td>", "<figure>", "<figcaption>"}, nil},
		{"numeric control reference", `<p>a&#1;b</p>`, []string{"<p>ab</p>"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.sanitizeHTML(tt.in, base)
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("sanitizeHTML(%q) = %q, want it to contain %q", tt.in, got, s)
				}
			}
			for _, s := range tt.notContains {
				if strings.Contains(got, s) {
					t.Errorf("sanitizeHTML(%q) = %q, want no %q", tt.in, got, s)
				}
			}
		})
	}
	t.Run("relative without base dropped", func(t *testing.T) {
		if got := p.sanitizeHTML(`<img src="/a.png">`, ""); strings.Contains(got, "a.png") {
			t.Errorf("relative URL kept without a base: %q", got)
		}
	})
}

// checkGolden compares a rendered feed with its golden file, which
// -update rewrites first.
func checkGolden(t *testing.T, format, golden string, body []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("%s differs from golden %s:\n%s", format, golden, body)
	}
}
