// Package dedup owns syndic's notion of "the same thing": canonical URLs,
// content hashes that ignore cosmetic changes, the index keys used to find
// candidate duplicates across sources, and the check that confirms one.
// Everything here is a pure function of its arguments.
//
// Finding a story is done in two steps. StoryKeys gives an item a small set
// of keys; the store looks up earlier items (from other sources, within the
// dedup window) sharing any key, and SameStory confirms each candidate.
//
// SameStory joins two items when:
//
//   - both have the same non-empty canonical URL; or
//   - both normalized titles (NormalizeTitle) have at least 5 words, differ
//     by at most one word inserted, deleted or replaced, or share at least
//     80% of their words (Jaccard), and, when both texts are non-empty, the
//     texts are related: at least 10% of the content words (stop words
//     removed) of the first 60 words of the shorter text also appear in the
//     other (overlap coefficient); or
//   - the normalized titles are shorter than 5 words, equal, and both texts
//     are non-empty and near-identical: a Jaccard index of at least 0.8
//     over the content words of their first 60 words. A short title
//     ("Live updates", "Morning briefing", "Earthquake hits Japan") says
//     too little to join stories on its own.
//
// The thresholds err towards keeping stories apart: a missed join shows a
// story twice, a wrong join hides one.
package dedup

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tuning of SameStory; see the package comment.
const (
	minLongTitleWords = 5   // titles this long may differ by one word
	titleJaccardMin   = 0.8 // word-set similarity that also counts as the same headline
	textWords         = 60  // leading words of a text compared
	textRelatedMin    = 0.1 // overlap coefficient: texts are about the same thing
	textNearSameMin   = 0.8 // Jaccard: texts are practically the same
	maxKeyWords       = 20  // words of a title that get deletion keys (bounds the key count)
)

// Doc is what SameStory compares: an item's title, plain text and
// canonical URL.
type Doc struct {
	Title        string
	Text         string
	CanonicalURL string
}

// titlePrefixes are labels that newsrooms put in front of a headline and
// later remove or change; they say nothing about the story. They are only
// stripped when followed by a separator, so "Live updates" or "Breaking
// Bad star dies" keep their first word.
var titlePrefixes = []string{
	"breaking news", "breaking", "update", "updated", "live updates", "live",
	"exclusive", "watch", "video", "just in", "developing", "news alert",
}

// NormalizeTitle returns title in the form headlines are compared in: a
// leading label such as "BREAKING:", "UPDATE -" or "Breaking news –"
// removed, lower case, punctuation removed (apostrophes join the word:
// "Biden's" is "bidens"), whitespace collapsed.
func NormalizeTitle(title string) string {
	return strings.Join(words(stripTitlePrefix(title)), " ")
}

// stripTitlePrefix removes leading labels such as "BREAKING:" (repeatedly,
// as in "LIVE: UPDATE: ..."), unless nothing would be left.
func stripTitlePrefix(title string) string {
	for {
		t := strings.TrimSpace(title)
		stripped := false
		for _, p := range titlePrefixes {
			if len(t) < len(p) || !strings.EqualFold(t[:len(p)], p) {
				continue
			}
			rest := strings.TrimLeft(t[len(p):], " \t")
			sep, size := firstRune(rest)
			if !isPrefixSeparator(sep) {
				continue
			}
			rest = strings.TrimSpace(rest[size:])
			if len(words(rest)) == 0 {
				continue
			}
			title, stripped = rest, true
			break
		}
		if !stripped {
			return t
		}
	}
}

func firstRune(s string) (rune, int) {
	for _, r := range s {
		return r, len(string(r))
	}
	return 0, 0
}

func isPrefixSeparator(r rune) bool {
	switch r {
	case ':', '-', '–', '—', '|', '·', '•':
		return true
	}
	return false
}

// words splits s into lower-case words of letters, digits and combining
// marks. Apostrophes are dropped inside a word; every other character
// separates words.
func words(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’' || r == 'ʼ' || r == '‘':
			// "don't" and "don’t" are the same word.
		default:
			flush()
		}
	}
	flush()
	return out
}

// appendNormalized appends the words of s to dst as words splits them,
// separated by single spaces, without building the word list.
func appendNormalized(dst []byte, s string) []byte {
	space := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			if space {
				dst = append(dst, ' ')
				space = false
			}
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		case r == '\'' || r == '’' || r == 'ʼ' || r == '‘':
		default:
			space = len(dst) > 0
		}
	}
	return dst
}

// normalizeText is the text form that ContentHash covers: URLs inside the
// text canonicalized (so a tracking parameter does not count as a change),
// then words as NormalizeTitle makes them.
func normalizeText(text string) []byte {
	out := make([]byte, 0, len(text))
	if !strings.Contains(text, "://") {
		return appendNormalized(out, text)
	}
	for _, f := range strings.Fields(text) {
		lf := strings.ToLower(f)
		if strings.HasPrefix(lf, "http://") || strings.HasPrefix(lf, "https://") {
			if c := CanonicalURL(strings.TrimRight(f, ".,;:!?)]}>\"'")); c != "" {
				f = c
			}
		}
		n := len(out)
		if n > 0 {
			out = append(out, ' ')
		}
		if out = appendNormalized(out, f); len(out) == n+1 {
			out = out[:n] // the field had no words
		}
	}
	return out
}

// ContentHash fingerprints an item's content: a hex SHA-256 (first 16
// bytes) of its normalized title and normalized text. Case, whitespace,
// punctuation, a "BREAKING:" label and tracking parameters in URLs do not
// change it; a changed word does. Dates are not part of it, so a bumped
// date alone is not a content update.
func ContentHash(title, text string) string {
	h := sha256.New()
	h.Write([]byte(NormalizeTitle(title)))
	h.Write([]byte{0})
	h.Write(normalizeText(text))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// shortHash keeps index keys small; collisions only cost a SameStory call.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// StoryKeys returns the index keys under which an item is filed for
// cross-source candidate lookup; two items that may be the same story
// share at least one key. The keys are:
//
//   - "u:" + canonicalURL, when there is one;
//   - "t:" + a hash of the normalized title;
//   - for titles of at least 5 words, "d:" + a hash of the title's first 20
//     words, and "d:" + a hash of those words with each single word
//     removed in turn. Two headlines with one word replaced, inserted or
//     removed share one of these deletion keys.
//
// There are at most 23 keys, without duplicates. text is accepted so the
// key scheme can grow without changing callers; it is not used today.
func StoryKeys(title, text, canonicalURL string) []string {
	_ = text
	keys := make([]string, 0, 4)
	seen := make(map[string]bool)
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if canonicalURL != "" {
		add("u:" + canonicalURL)
	}
	w := words(stripTitlePrefix(title))
	if len(w) == 0 {
		return keys
	}
	add("t:" + shortHash(strings.Join(w, " ")))
	if len(w) < minLongTitleWords {
		return keys
	}
	if len(w) > maxKeyWords {
		w = w[:maxKeyWords]
	}
	add("d:" + shortHash(strings.Join(w, " ")))
	rest := make([]string, 0, len(w)-1)
	for i := range w {
		rest = append(rest[:0], w[:i]...)
		rest = append(rest, w[i+1:]...)
		add("d:" + shortHash(strings.Join(rest, " ")))
	}
	return keys
}

// SameStory reports whether a and b tell the same story; see the package
// comment for the rule.
func SameStory(a, b Doc) bool {
	if a.CanonicalURL != "" && a.CanonicalURL == b.CanonicalURL {
		return true
	}
	ta, tb := words(stripTitlePrefix(a.Title)), words(stripTitlePrefix(b.Title))
	if len(ta) == 0 || len(tb) == 0 {
		return false
	}
	xa, xb := contentWords(a.Text), contentWords(b.Text)
	if len(ta) >= minLongTitleWords && len(tb) >= minLongTitleWords {
		if wordEditDistanceAtMostOne(ta, tb) || jaccard(set(ta), set(tb)) >= titleJaccardMin {
			if len(xa) == 0 || len(xb) == 0 {
				return true
			}
			return overlap(xa, xb) >= textRelatedMin
		}
		return false
	}
	if strings.Join(ta, " ") != strings.Join(tb, " ") {
		return false
	}
	if len(xa) == 0 || len(xb) == 0 {
		return false
	}
	return jaccard(xa, xb) >= textNearSameMin
}

// stopWords carry no subject; leaving them out keeps two unrelated English
// texts from looking related through "the" and "of".
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true,
	"be": true, "been": true, "but": true, "by": true, "for": true,
	"from": true, "had": true, "has": true, "have": true, "he": true,
	"her": true, "his": true, "in": true, "is": true, "it": true,
	"its": true, "not": true, "of": true, "on": true, "or": true,
	"said": true, "she": true, "that": true, "the": true, "their": true,
	"they": true, "this": true, "to": true, "was": true, "we": true,
	"were": true, "which": true, "will": true, "with": true, "would": true,
}

// contentWords is the set of non-stop words among the first textWords
// words of text.
func contentWords(text string) map[string]bool {
	w := words(text)
	if len(w) > textWords {
		w = w[:textWords]
	}
	s := make(map[string]bool, len(w))
	for _, x := range w {
		if !stopWords[x] {
			s[x] = true
		}
	}
	return s
}

func set(w []string) map[string]bool {
	s := make(map[string]bool, len(w))
	for _, x := range w {
		s[x] = true
	}
	return s
}

func intersection(a, b map[string]bool) int {
	if len(a) > len(b) {
		a, b = b, a
	}
	n := 0
	for x := range a {
		if b[x] {
			n++
		}
	}
	return n
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	n := intersection(a, b)
	return float64(n) / float64(len(a)+len(b)-n)
}

// overlap is the overlap coefficient: shared words over the smaller set, so
// a short summary is not penalized against a long article.
func overlap(a, b map[string]bool) float64 {
	m := min(len(a), len(b))
	if m == 0 {
		return 0
	}
	return float64(intersection(a, b)) / float64(m)
}

// wordEditDistanceAtMostOne reports whether a becomes b by replacing,
// inserting or deleting at most one word.
func wordEditDistanceAtMostOne(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		diff := 0
		for i := range a {
			if a[i] != b[i] {
				diff++
				if diff > 1 {
					return false
				}
			}
		}
		return true
	case 1:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		for ; i < len(a); i++ {
			if a[i] != b[i+1] {
				return false
			}
		}
		return true
	}
	return false
}
