package dedup

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// checkSketchPromise fails t when SameStory joins a and b by their titles
// (canonical URLs aside) while MaySameStory turns their sketches down.
func checkSketchPromise(t *testing.T, a, b Doc) {
	t.Helper()
	a.CanonicalURL, b.CanonicalURL = "", ""
	if SameStory(a, b) && !MaySameStory(TitleSketch(a.Title), TitleSketch(b.Title)) {
		t.Fatalf("SameStory joins %q and %q, MaySameStory(%x, %x) turns them down",
			a.Title, b.Title, TitleSketch(a.Title), TitleSketch(b.Title))
	}
}

func TestMaySameStoryKeepsJoinedPairs(t *testing.T) {
	for _, tt := range sameStoryPairs {
		checkSketchPromise(t, tt.a, tt.b)
		checkSketchPromise(t, tt.b, tt.a)
	}
	// One-word edits, titles of every length with repeated words, and
	// pairs as far apart as Jaccard's 0.8 allows.
	vocab := []string{"council", "vote", "the", "plan", "city", "new", "rail", "tax", "in", "after", "port", "storm"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		n := 1 + r.IntN(70)
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[r.IntN(len(vocab))]
			if r.IntN(3) == 0 {
				w[i] += "x" + string(rune('a'+r.IntN(26)))
			}
		}
		a := Doc{Title: strings.Join(w, " "), Text: climateText}
		for op := range 3 {
			e := editTitle(w, op, r.IntN(n+1), "zzz")
			checkSketchPromise(t, a, Doc{Title: strings.Join(e, " "), Text: climateText})
		}
		// Swap a few words for new ones: a Jaccard index near 0.8.
		e := append([]string(nil), w...)
		for range 1 + r.IntN(3) {
			e[r.IntN(n)] = "fresh" + string(rune('a'+r.IntN(26)))
		}
		checkSketchPromise(t, a, Doc{Title: strings.Join(e, " "), Text: climateText})
		checkSketchPromise(t, a, a)
	}
}

// TestMaySameStoryTurnsDownFormulaicHeadlines checks that the sketch does
// its job: headlines that share a block key and tell different stories
// are turned down without reading them.
func TestMaySameStoryTurnsDownFormulaicHeadlines(t *testing.T) {
	pairs := []struct{ a, b string }{
		{"What we know about the new rules for travel to the US", "What we know about the new rules for school meals in the UK"},
		{"Council members approve new transit plan in the city center after 3-hour meeting", "Port workers question costly bike lanes in the city center after 3-hour meeting"},
		{"Earthquake hits Japan", "Earthquake hits Chile"},
	}
	for _, p := range pairs {
		if SameStory(Doc{Title: p.a}, Doc{Title: p.b}) {
			t.Fatalf("SameStory(%q, %q) = true", p.a, p.b)
		}
		if MaySameStory(TitleSketch(p.a), TitleSketch(p.b)) {
			t.Errorf("MaySameStory(%q, %q) = true", p.a, p.b)
		}
	}
}

func TestTitleSketch(t *testing.T) {
	for _, title := range []string{"", "   ", "—", "BREAKING:", "One", "BREAKING: Senate passes sweeping climate bill", strings.Repeat("word ", 80)} {
		s := TitleSketch(title)
		n := len(words(stripTitlePrefix(title)))
		if n == 0 {
			if s != 0 {
				t.Errorf("TitleSketch(%q) = %x, want 0 for a title without words", title, s)
			}
			continue
		}
		if got := int(uint64(s) >> sketchWordBits); got != min(n, sketchMaxWords) {
			t.Errorf("TitleSketch(%q) counts %d words, want %d", title, got, min(n, sketchMaxWords))
		}
		if s&sketchWordMask == 0 {
			t.Errorf("TitleSketch(%q) = %x sets no word bit", title, s)
		}
	}
	// Stable across releases: sketches are stored (see sketch.go).
	if got, want := TitleSketch("Senate passes sweeping climate bill"), int64(0x1600000804000404); got != want {
		t.Errorf("TitleSketch changed: %#x, was %#x", got, want)
	}
	if !MaySameStory(0, TitleSketch("Anything at all here")) || !MaySameStory(TitleSketch("x"), 0) {
		t.Error("a zero sketch must always match")
	}
}

func FuzzMaySameStory(f *testing.F) {
	for _, p := range sameStoryPairs {
		f.Add(p.a.Title, p.b.Title, p.a.Text, p.b.Text)
	}
	f.Fuzz(func(t *testing.T, titleA, titleB, textA, textB string) {
		checkSketchPromise(t, Doc{Title: titleA, Text: textA}, Doc{Title: titleB, Text: textB})
		checkSketchPromise(t, Doc{Title: titleA, Text: textA}, Doc{Title: titleA + " " + titleB, Text: textB})
	})
}
