package dedup

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The tests in this file compare the tuned functions with the reference
// copies in reference_test.go: stored content hashes, story keys and
// canonical URLs must not change for any input.

// equivalenceInputs are strings that exercise the corners of the
// normalization: labels, apostrophes, marks, digits, non-ASCII letters and
// spaces, control characters, invalid UTF-8, URLs in text.
func equivalenceInputs(tb testing.TB) []string {
	tb.Helper()
	in := []string{
		"", " ", "a", "A", "'", "’s", "don't", "DON’T stop", "ʼokina ‘quote’",
		"BREAKING: Senate passes bill", "breaking : x", "LIVE: UPDATE: Senate passes bill",
		"Breaking news – Senate passes sweeping climate bill after marathon session",
		"Live updates", "BREAKING:", "BREAKING: ...", "Breaking Bad star dies",
		"UPDATE -", "update—x", "Video | Watch this", "just in · x", "news alert • y",
		"Größte Überschwemmung seit 1990", "Москва: новости дня", "ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ",
		"İstanbul KIRMIZI ǅemal", "ﬁnance ﬂow", "x\u0301y e\u0308", "٣٤٥ ¹²³ ½ Ⅻ",
		"Dow falls 2.5% in 2024", "a\u00a0b\u2003c\u3000d\u0085e", "tab\tnew\nline\r\nvt\vff\f",
		"ctrl\x00\x01\x7f\u0080\u009f chars", "\ufeffbom \ufffe\uffff", "\xff\xfe bad \xc3 utf8 \xed\xa0\x80",
		"\xe2\x80", "emoji 👍🏽 family 👨‍👩‍👧", "中文标题 日本語のタイトル 한국어 제목",
		"see https://Example.com/x?utm_source=y - then, more", "https://example.com/",
		"-- https://example.com/a?id=1 --", "(https://example.com/a).", "HTTP://EXAMPLE.COM/Path?fbclid=1&b=2#frag",
		"http://", "https://[::1]:443/a", "https://example.com/%2Fx/../y", "xhttps://example.com/ http://a",
		"one two three four five", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone twentytwo",
		"the the the the the the", "a a b b a a", "word " + strings.Repeat("x", 300),
		strings.Repeat("ab ", 40), climateText, climateTextOther, quakeText, recipeText,
		// Lower case longer than the rune (2 bytes to 3): appendNormalized
		// must make room again after each.
		strings.Repeat("ȺȾ", 50), "x " + strings.Repeat("Ⱥ-Ⱦ ", 40) + strings.Repeat("y", 20),
	}
	for _, p := range sameStoryPairs {
		in = append(in, p.a.Title, p.a.Text, p.b.Title, p.b.Text)
	}
	in = append(in, urlSeeds(tb)...)
	return in
}

func checkSameAsReference(t *testing.T, title, text, rawURL string) {
	t.Helper()
	if got, want := NormalizeTitle(title), refNormalizeTitle(title); got != want {
		t.Fatalf("NormalizeTitle(%q) = %q, reference %q", title, got, want)
	}
	if got, want := words(title), refWords(title); !slices.Equal(got, want) {
		t.Fatalf("words(%q) = %q, reference %q", title, got, want)
	}
	if got, want := stripTitlePrefix(title), refStripTitlePrefix(title); got != want {
		t.Fatalf("stripTitlePrefix(%q) = %q, reference %q", title, got, want)
	}
	if got, want := string(normalizeText(text)), string(refNormalizeText(text)); got != want {
		t.Fatalf("normalizeText(%q) = %q, reference %q", text, got, want)
	}
	if got, want := ContentHash(title, text), refContentHash(title, text); got != want {
		t.Fatalf("ContentHash(%q, %q) = %q, reference %q", title, text, got, want)
	}
	cu := CanonicalURL(rawURL)
	want := refStoryKeys(title, text, cu)
	if got := StoryKeys(title, text, cu); !slices.Equal(got, want) {
		t.Fatalf("StoryKeys(%q, %q, %q) = %q, reference %q", title, text, cu, got, want)
	}
	for _, d := range []Doc{{Title: text, Text: title}, {Title: title, Text: title, CanonicalURL: cu}, {Title: rawURL, Text: text}} {
		a := Doc{Title: title, Text: text, CanonicalURL: cu}
		if got, want := SameStory(a, d), refSameStory(a, d); got != want {
			t.Fatalf("SameStory(%+v, %+v) = %v, reference %v", a, d, got, want)
		}
	}
	hash, keys, sketch := Fingerprint(title, text, cu)
	if hash != refContentHash(title, text) || !slices.Equal(keys, want) {
		t.Fatalf("Fingerprint(%q, %q, %q) = %q, %q; reference %q, %q", title, text, cu, hash, keys, refContentHash(title, text), want)
	}
	if s := TitleSketch(title); sketch != s {
		t.Fatalf("Fingerprint(%q) sketch %x, TitleSketch %x", title, sketch, s)
	}
}

func TestMatchesReference(t *testing.T) {
	in := equivalenceInputs(t)
	for _, a := range in {
		for _, b := range in {
			checkSameAsReference(t, a, b, b)
		}
	}
}

func FuzzMatchesReference(f *testing.F) {
	in := equivalenceInputs(f)
	for i, s := range in {
		f.Add(s, in[(i+7)%len(in)], in[(i+13)%len(in)])
	}
	f.Fuzz(checkSameAsReference)
}

// TestNonASCIIFolding checks the assumption behind the ASCII shortcuts of
// stripTitlePrefix (strings.EqualFold) and hasPrefixFold (strings.ToLower):
// the only non-ASCII runes that fold or lower-case to ASCII letters are the
// Kelvin sign (k), the long s (s) and the dotted capital I (i).
func TestNonASCIIFolding(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf && !strings.ContainsRune("kKsS", f) {
				t.Errorf("%U folds to %q", r, f)
			}
		}
		if l := unicode.ToLower(r); l < utf8.RuneSelf && l != 'k' && l != 'i' {
			t.Errorf("%U lower-cases to %q", r, l)
		}
	}
	for _, p := range titlePrefixes {
		if strings.ContainsAny(p[:1], "ks") {
			t.Errorf("title label %q starts with a letter that a non-ASCII rune folds to", p)
		}
	}
}
