package dedup

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeTitle(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"only punctuation", "?!…", ""},
		{"lower case", "Senate Passes Bill", "senate passes bill"},
		{"whitespace collapsed", "  Senate\tpasses \n bill  ", "senate passes bill"},
		{"punctuation removed", "Senate passes bill: what's next?", "senate passes bill whats next"},
		{"curly apostrophe", "ISIS’s atrocities", "isiss atrocities"},
		{"quotes and dashes", "“We remain united” — ministers", "we remain united ministers"},
		{"breaking colon", "BREAKING: Senate passes bill", "senate passes bill"},
		{"breaking lower", "breaking : Senate passes bill", "senate passes bill"},
		{"update", "UPDATE: Senate passes bill", "senate passes bill"},
		{"updated", "Updated - Senate passes bill", "senate passes bill"},
		{"live", "LIVE: Senate debates bill", "senate debates bill"},
		{"exclusive", "EXCLUSIVE: Senate passes bill", "senate passes bill"},
		{"watch", "WATCH: Senate passes bill", "senate passes bill"},
		{"breaking news dash", "Breaking news - Senate passes bill", "senate passes bill"},
		{"breaking news en dash", "Breaking News – Senate passes bill", "senate passes bill"},
		{"stacked labels", "LIVE: UPDATE: Senate passes bill", "senate passes bill"},
		{"label without separator kept", "Breaking Bad star dies", "breaking bad star dies"},
		{"live updates kept", "Live updates", "live updates"},
		{"label alone kept", "BREAKING:", "breaking"},
		{"label then punctuation only", "BREAKING: ...", "breaking"},
		{"unicode", "Größte Überschwemmung seit 1990", "größte überschwemmung seit 1990"},
		{"cyrillic", "Москва: новости дня", "москва новости дня"},
		{"digits", "Dow falls 2.5% in 2024", "dow falls 2 5 in 2024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeTitle(tt.in); got != tt.want {
				t.Errorf("NormalizeTitle(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

const (
	climateText = "The Senate on Sunday passed a sweeping climate and energy bill after an overnight session, " +
		"sending the $370 billion package to the House. Democrats voted unanimously for the measure, " +
		"which invests in clean energy and lowers prescription drug prices."
	climateTextOther = "After a marathon vote-a-rama, senators approved the Democrats' climate, health care and tax " +
		"package 51-50, with Vice President Kamala Harris breaking the tie. The House is expected to pass " +
		"the bill on Friday, clean energy advocates said."
	quakeText = "A magnitude 7.1 earthquake struck off the coast of northern Japan on Wednesday, " +
		"the Japan Meteorological Agency said, triggering a tsunami advisory."
	recipeText = "Preheat the oven to 200C. Toss the squash with olive oil, salt and chilli flakes, " +
		"then roast for 35 minutes until golden and serve with yoghurt."
)

func TestContentHash(t *testing.T) {
	base := ContentHash("Senate passes sweeping climate bill", "See https://example.com/story?id=4 for more.\nDetails follow.")
	if len(base) != 32 {
		t.Fatalf("ContentHash length = %d, want 32", len(base))
	}
	same := []struct {
		name, title, text string
	}{
		{"case", "SENATE PASSES SWEEPING CLIMATE BILL", "see https://example.com/story?id=4 for more.\nDETAILS FOLLOW."},
		{"whitespace", "  Senate   passes sweeping\nclimate bill ", "See  https://example.com/story?id=4 for more. Details\tfollow."},
		{"punctuation", "Senate passes sweeping climate bill!", "See https://example.com/story?id=4 for more... Details follow!"},
		{"breaking label", "BREAKING: Senate passes sweeping climate bill", "See https://example.com/story?id=4 for more.\nDetails follow."},
		{"tracking params", "Senate passes sweeping climate bill", "See https://example.com/story?id=4&utm_source=rss&fbclid=x for more.\nDetails follow."},
		{"url fragment", "Senate passes sweeping climate bill", "See https://EXAMPLE.com/story?id=4#top for more.\nDetails follow."},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			if got := ContentHash(tt.title, tt.text); got != base {
				t.Errorf("ContentHash(%q, %q) = %s, want %s (unchanged)", tt.title, tt.text, got, base)
			}
		})
	}
	differ := []struct {
		name, title, text string
	}{
		{"title word", "Senate passes modest climate bill", "See https://example.com/story?id=4 for more.\nDetails follow."},
		{"text word", "Senate passes sweeping climate bill", "See https://example.com/story?id=4 for more.\nDetails differ."},
		{"real url param", "Senate passes sweeping climate bill", "See https://example.com/story?id=5 for more.\nDetails follow."},
		{"text moved into title", "Senate passes sweeping climate bill See", "https://example.com/story?id=4 for more.\nDetails follow."},
	}
	for _, tt := range differ {
		t.Run("differ/"+tt.name, func(t *testing.T) {
			if got := ContentHash(tt.title, tt.text); got == base {
				t.Errorf("ContentHash(%q, %q) = %s, want a different hash", tt.title, tt.text, got)
			}
		})
	}
}

// sameStoryPairs hold both sides of the near-duplicate line.
var sameStoryPairs = []struct {
	name string
	a, b Doc
	want bool
}{
	{
		name: "same headline, case and punctuation",
		a:    Doc{Title: "Senate passes sweeping climate bill after marathon session", Text: climateText},
		b:    Doc{Title: "SENATE PASSES SWEEPING CLIMATE BILL, AFTER MARATHON SESSION!", Text: climateTextOther},
		want: true,
	},
	{
		name: "breaking prefix",
		a:    Doc{Title: "BREAKING: Senate passes sweeping climate bill after marathon session", Text: climateText},
		b:    Doc{Title: "Senate passes sweeping climate bill after marathon session", Text: climateText},
		want: true,
	},
	{
		name: "one word changed",
		a:    Doc{Title: "Senate passes sweeping climate bill after marathon session", Text: climateText},
		b:    Doc{Title: "Senate passes sweeping climate bill after long session", Text: climateTextOther},
		want: true,
	},
	{
		name: "one word inserted",
		a:    Doc{Title: "Senate passes sweeping climate bill after marathon session"},
		b:    Doc{Title: "Senate passes sweeping climate bill after marathon weekend session"},
		want: true,
	},
	{
		name: "one word changed, no texts",
		a:    Doc{Title: "Senate passes sweeping climate bill after marathon session"},
		b:    Doc{Title: "Senate passes sweeping climate bill after long session", Text: climateText},
		want: true,
	},
	{
		name: "same url, tracking params differ",
		a:    Doc{Title: "Climate bill", CanonicalURL: CanonicalURL("https://news.example/climate?utm_source=rss")},
		b:    Doc{Title: "Something else entirely", CanonicalURL: CanonicalURL("https://NEWS.example/climate?fbclid=123#x")},
		want: true,
	},
	{
		name: "short generic title, near-identical text",
		a:    Doc{Title: "Live updates", Text: climateText},
		b:    Doc{Title: "LIVE UPDATES", Text: climateText + " More soon."},
		want: true,
	},
	{
		name: "short title, key word differs",
		a:    Doc{Title: "Earthquake hits Japan", Text: quakeText},
		b:    Doc{Title: "Earthquake hits Chile", Text: quakeText},
		want: false,
	},
	{
		name: "two words changed",
		a:    Doc{Title: "Apple unveils new iPhone at September event"},
		b:    Doc{Title: "Apple unveils new iPad at October event"},
		want: false,
	},
	{
		name: "many common words, different subjects",
		a:    Doc{Title: "What we know about the new rules for travel to the US", Text: quakeText},
		b:    Doc{Title: "What we know about the new rules for school meals in the UK", Text: recipeText},
		want: false,
	},
	{
		name: "one word changed, unrelated texts",
		a:    Doc{Title: "Five things to know before the weekend starts", Text: quakeText},
		b:    Doc{Title: "Five things to cook before the weekend starts", Text: recipeText},
		want: false,
	},
	{
		name: "generic short title, different texts",
		a:    Doc{Title: "Live updates", Text: quakeText},
		b:    Doc{Title: "Live updates", Text: climateText},
		want: false,
	},
	{
		name: "generic short title, one text missing",
		a:    Doc{Title: "Morning briefing", Text: quakeText},
		b:    Doc{Title: "Morning briefing"},
		want: false,
	},
	{
		name: "same short title, reworded texts",
		a:    Doc{Title: "Earthquake hits Japan", Text: quakeText},
		b:    Doc{Title: "Earthquake hits Japan", Text: "Strong quake shakes northern Japan; tsunami advisory issued for the coast."},
		want: false,
	},
	{
		name: "empty titles",
		a:    Doc{Text: climateText},
		b:    Doc{Text: climateText},
		want: false,
	},
	{
		name: "different urls, different titles",
		a:    Doc{Title: "Senate passes sweeping climate bill after marathon session", CanonicalURL: "https://a.example/1"},
		b:    Doc{Title: "House delays vote on farm subsidies until next month", CanonicalURL: "https://a.example/2"},
		want: false,
	},
}

func TestSameStory(t *testing.T) {
	for _, tt := range sameStoryPairs {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameStory(tt.a, tt.b); got != tt.want {
				t.Errorf("SameStory(%q, %q) = %v, want %v", tt.a.Title, tt.b.Title, got, tt.want)
			}
			if got := SameStory(tt.b, tt.a); got != tt.want {
				t.Errorf("SameStory(%q, %q) (swapped) = %v, want %v", tt.b.Title, tt.a.Title, got, tt.want)
			}
		})
	}
}

func sharesKey(a, b []string) bool {
	for _, k := range a {
		if slices.Contains(b, k) {
			return true
		}
	}
	return false
}

// TestStoryKeys checks that every pair SameStory joins is found by a shared
// key, and that the title keys of pairs kept apart do not collide where the
// key scheme can tell them apart.
func TestStoryKeys(t *testing.T) {
	for _, tt := range sameStoryPairs {
		t.Run(tt.name, func(t *testing.T) {
			ka := StoryKeys(tt.a.Title, tt.a.Text, tt.a.CanonicalURL)
			kb := StoryKeys(tt.b.Title, tt.b.Text, tt.b.CanonicalURL)
			if tt.want && !sharesKey(ka, kb) {
				t.Errorf("StoryKeys share no key for joined pair:\n%q\n%q", ka, kb)
			}
		})
	}
	apart := []struct{ a, b string }{
		{"Earthquake hits Japan", "Earthquake hits Chile"},
		{"Apple unveils new iPhone at September event", "Apple unveils new iPad at October event"},
		{"Council approves new rail plan after long debate in city hall", "Police investigate break-in at downtown museum over the weekend"},
	}
	for _, p := range apart {
		if ka, kb := StoryKeys(p.a, "", ""), StoryKeys(p.b, "", ""); sharesKey(ka, kb) {
			t.Errorf("StoryKeys(%q) and StoryKeys(%q) share a key", p.a, p.b)
		}
	}
	// A block key is two thirds of a title, so formulaic headlines share
	// one and become candidates; SameStory keeps them apart.
	a, b := "What we know about the new rules for travel to the US", "What we know about the new rules for school meals in the UK"
	if !sharesKey(StoryKeys(a, "", ""), StoryKeys(b, "", "")) {
		t.Errorf("StoryKeys(%q) and StoryKeys(%q) share no key; the block keys changed", a, b)
	}
	if SameStory(Doc{Title: a}, Doc{Title: b}) {
		t.Errorf("SameStory(%q, %q) = true", a, b)
	}
}

// maxStoryKeys bounds len(StoryKeys): a URL key, 9 deletion keys and 3
// block keys of an 8-word title.
const maxStoryKeys = 13

// editTitle applies one word edit to w: op 0 replaces word i, 1 inserts
// before word i (i may be len(w)), 2 deletes word i.
func editTitle(w []string, op, i int, word string) []string {
	out := slices.Clone(w)
	switch op {
	case 0:
		out[i%len(out)] = word
	case 1:
		out = slices.Insert(out, i%(len(out)+1), word)
	default:
		out = slices.Delete(out, i%len(out), i%len(out)+1)
	}
	return out
}

// TestStoryKeysFindOneWordEdits checks the promise the key scheme is
// built on, for every edit of many titles: two titles of at least 5 words
// that differ by one word replaced, inserted or removed share a key. A
// small vocabulary makes repeated words, and so coinciding keys, common.
func TestStoryKeysFindOneWordEdits(t *testing.T) {
	vocab := []string{"council", "vote", "the", "plan", "city", "new", "rail", "tax", "in", "after"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		n := minLongTitleWords + r.IntN(36)
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[r.IntN(len(vocab))]
		}
		a := strings.Join(w, " ")
		ka := StoryKeys(a, "", "")
		for op := range 3 {
			for i := range n + 1 {
				e := editTitle(w, op, i, "zzz"+strconv.Itoa(i))
				if len(e) < minLongTitleWords {
					continue
				}
				b := strings.Join(e, " ")
				if !sharesKey(ka, StoryKeys(b, "", "")) {
					t.Fatalf("no shared key for one-word edit (op %d at %d):\n%q\n%q", op, i, a, b)
				}
			}
		}
	}
}

func FuzzStoryKeysFindOneWordEdits(f *testing.F) {
	f.Add("Council approves new rail plan after long debate in city hall", 0, 3, "rejects")
	f.Add("one two three four five six seven eight", 1, 8, "nine")
	f.Add("one two three four five six seven eight nine", 2, 0, "")
	f.Fuzz(func(t *testing.T, title string, op, i int, word string) {
		w := words(stripTitlePrefix(title))
		word = NormalizeTitle(word)
		if len(w) < minLongTitleWords || i < 0 || op < 0 || op > 2 || (op != 2 && (word == "" || strings.Contains(word, " "))) {
			return
		}
		e := editTitle(w, op, i, word)
		if len(e) < minLongTitleWords {
			return
		}
		a, b := strings.Join(w, " "), strings.Join(e, " ")
		if !wordEditDistanceAtMostOne(w, words(b)) {
			return // the edit made a title prefix or split a word
		}
		if !sharesKey(StoryKeys(a, "", ""), StoryKeys(b, "", "")) {
			t.Fatalf("no shared key for one-word edit:\n%q\n%q", a, b)
		}
	})
}

func TestStoryKeysShape(t *testing.T) {
	long := strings.Repeat("word ", 30) + "end"
	tests := []struct {
		name, title, url string
		want             int
	}{
		{"nothing", "", "", 0},
		{"url only", "", "https://example.com/a", 1},
		{"short title", "Earthquake hits Japan", "", 1},
		{"short title and url", "Earthquake hits Japan", "https://example.com/a", 2},
		{"five words", "one two three four five", "", 1 + 5},
		{"seven words", "one two three four five six seven", "", 1 + 7},
		{"eight words: deletion and block keys", "one two three four five six seven eight", "", 1 + 8 + 3},
		{"nine words: block keys only", "one two three four five six seven eight nine", "", 3},
		{"eleven words: two block families", "a b c d e f g h i j k", "", 3 + 3},
		{"twelve words: one block family", "a b c d e f g h i j k l", "https://example.com/a", 1 + 3},
		{"long title bounded", "a b c d e f g h i j k l m n o p q r s t u v w x y z", "https://example.com/a", 1 + 3 + 3},
		{"repeated words deduplicated", long, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := StoryKeys(tt.title, "", tt.url)
			if got := len(keys); got != tt.want {
				t.Errorf("len(StoryKeys(%q)) = %d, want %d: %q", tt.title, got, tt.want, keys)
			}
			if len(keys) > maxStoryKeys {
				t.Errorf("StoryKeys gave %d keys, more than %d", len(keys), maxStoryKeys)
			}
		})
	}
}

func FuzzStoryKeys(f *testing.F) {
	for _, p := range sameStoryPairs {
		f.Add(p.a.Title, p.a.Text, p.b.Title)
	}
	for _, s := range urlSeeds(f) {
		f.Add("BREAKING: "+s, s, s)
	}
	f.Fuzz(func(t *testing.T, title, text, rawURL string) {
		cu := CanonicalURL(rawURL)
		keys := StoryKeys(title, text, cu)
		if again := StoryKeys(title, text, cu); !slices.Equal(keys, again) {
			t.Fatalf("StoryKeys not deterministic: %q vs %q", keys, again)
		}
		if len(keys) > maxStoryKeys {
			t.Fatalf("StoryKeys gave %d keys", len(keys))
		}
		h := ContentHash(title, text)
		if h != ContentHash(title, text) || len(h) != 32 {
			t.Fatalf("ContentHash not deterministic or wrong length: %q", h)
		}
		if n := NormalizeTitle(title); !utf8.ValidString(n) || NormalizeTitle(n) != n {
			t.Fatalf("NormalizeTitle(%q) = %q: invalid or not idempotent", title, n)
		}
		d := Doc{Title: title, Text: text, CanonicalURL: cu}
		if NormalizeTitle(title) != "" && text != "" && !SameStory(d, d) && len(strings.Fields(NormalizeTitle(title))) >= minLongTitleWords {
			t.Fatalf("SameStory(d, d) = false for %q", title)
		}
	})
}

func BenchmarkContentHash(b *testing.B) {
	title := "BREAKING: Senate passes sweeping climate bill after marathon session"
	text := strings.Repeat(climateText+" ", 4)
	for b.Loop() {
		ContentHash(title, text)
	}
}

func BenchmarkStoryKeys(b *testing.B) {
	title := "BREAKING: Senate passes sweeping climate bill after marathon session"
	cu := CanonicalURL("https://news.example/2024/05/senate-passes-climate-bill?utm_source=rss")
	for b.Loop() {
		StoryKeys(title, "", cu)
	}
}

func BenchmarkNormalizeTitle(b *testing.B) {
	for b.Loop() {
		NormalizeTitle("BREAKING: Senate passes sweeping climate bill after marathon session")
	}
}

func TestNormalizeTextURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a - b", "a b"},
		{"see https://Example.com/x?utm_source=y - then, more", "see https example com x then more"},
		{"https://example.com/", "https example com"},
		{"-- https://example.com/a?id=1 --", "https example com a id 1"},
	}
	for _, tt := range tests {
		if got := string(normalizeText(tt.in)); got != tt.want {
			t.Errorf("normalizeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkFingerprint(b *testing.B) {
	title := "BREAKING: Senate passes sweeping climate bill after marathon session"
	text := strings.Repeat(climateText+" ", 4)
	cu := CanonicalURL("https://news.example/2024/05/senate-passes-climate-bill?utm_source=rss")
	for b.Loop() {
		Fingerprint(title, text, cu)
	}
}

// TestWordRunEnd compares the eight-bytes-at-a-time run search with the
// bytewise loop, and appendLower with strings.ToLower, on random texts of
// the bytes that decide a run's end.
func TestWordRunEnd(t *testing.T) {
	alphabet := []byte("aZ09 '.,-\n\t\x00\x1f\x7f\x80\xc3\xff@[`{/:\xa0\xe1\xb0") // the last three: space, a and 0 with the high bit
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		b := make([]byte, 1+rng.IntN(40))
		for j := range b {
			// Mostly letters and spaces, as in prose.
			switch r := rng.IntN(10); {
			case r < 4:
				b[j] = 'a' + byte(rng.IntN(26))
			case r < 5:
				b[j] = 'A' + byte(rng.IntN(26))
			case r < 7:
				b[j] = ' '
			default:
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		b[0] = 'x' // wordRunEnd's caller has seen a letter
		s := string(b)
		got, want := wordRunEnd(s, 1), wordRunEndBytewise(s, 1)
		if got != want {
			t.Fatalf("wordRunEnd(%q, 1) = %d, bytewise %d", s, got, want)
		}
		run := s[:got]
		buf := make([]byte, len(run))
		if n := appendLower(buf, 0, run); string(buf[:n]) != strings.ToLower(run) {
			t.Fatalf("appendLower(%q) = %q", run, buf[:n])
		}
	}
}

// BenchmarkNormalizeText measures the normalization of article text, the
// bulk of ContentHash's work.
func BenchmarkNormalizeText(b *testing.B) {
	text := strings.Repeat(climateText+" ", 4)
	buf := make([]byte, 0, len(text))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		buf = appendNormalizedText(buf[:0], text)
	}
}
