package publish

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syndic-dev/syndic/internal/model"
)

// FuzzRender puts arbitrary strings into every item field a feed carries
// and expects well-formed XML, valid JSON, and the same id read back by
// gofeed in every format and mode.
func FuzzRender(f *testing.F) {
	// Seeds: each testdata/fuzz_seed_*.txt holds the six fields separated
	// by lines of "----".
	seeds, _ := filepath.Glob(filepath.Join("testdata", "fuzz_seed_*.txt"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		parts := strings.Split(string(b), "\n----\n")
		for len(parts) < 6 {
			parts = append(parts, "")
		}
		f.Add(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
	}
	f.Fuzz(func(t *testing.T, title, summary, content, author, category, link string) {
		it := item("alpha", "fuzz", title, 1)
		it.Summary, it.ContentHTML, it.Author, it.Link = summary, content, author, link
		it.Categories = []string{category, category + "2"}
		for _, mode := range []string{model.OutputModeHeadlines, model.OutputModeArticles} {
			out := testOutput("f", mode)
			out.Title = title
			p := newTestPublisher(t, newFakeStore(it), []model.Output{out}, testSources())
			for _, format := range formats {
				r := render(t, p, "f", format, 1)
				if format == FormatJSON {
					if !json.Valid(r.Body) {
						t.Fatalf("%s/%s: invalid JSON:\n%s", mode, format, r.Body)
					}
				} else if err := wellFormed(r.Body); err != nil {
					t.Fatalf("%s/%s: not well-formed: %v\n%s", mode, format, err, r.Body)
				}
				feed := parseBack(t, r.Body)
				if len(feed.Items) != 1 || feed.Items[0].GUID != itemURNPrefix+it.ID {
					t.Fatalf("%s/%s: gofeed read %d items, want 1 with id %q", mode, format, len(feed.Items), itemURNPrefix+it.ID)
				}
			}
		}
	})
}

// BenchmarkRender measures rendering a 50-entry Atom page in articles
// mode, cache bypassed.
func BenchmarkRender(b *testing.B) {
	var items []model.Item
	for i := range 50 {
		it := item("alpha", "bench"+itoa(i), "Benchmark item title number "+itoa(i), i+1)
		it.ContentHTML = strings.Repeat(`<p>Some <a href="/rel">linked</a> text with <img src="img.png"> an image.</p>`, 10)
		it.Categories = []string{"one", "two"}
		items = append(items, it)
	}
	p := newTestPublisher(b, newFakeStore(items...), []model.Output{testOutput("b", model.OutputModeArticles)}, testSources())
	for b.Loop() {
		p.Invalidate("alpha")
		render(b, p, "b", FormatAtom, 1)
	}
}
