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
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/syndic-dev/syndic/internal/swar"
)

// Tuning of SameStory; see the package comment.
const (
	minLongTitleWords = 5   // titles this long may differ by one word
	titleJaccardMin   = 0.8 // word-set similarity that also counts as the same headline
	textWords         = 60  // leading words of a text compared
	textRelatedMin    = 0.1 // overlap coefficient: texts are about the same thing
	textNearSameMin   = 0.8 // Jaccard: texts are practically the same
	blockKeyWords     = 8   // titles this long get block keys; up to this long, deletion keys
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
	buf := bufPool.Get().(*[]byte)
	norm := appendNormalized((*buf)[:0], stripTitlePrefix(title), 0)
	s := string(norm)
	putBuf(buf, norm)
	return s
}

// prefixInitial marks the lower-case ASCII letters a title label can start
// with. No other character folds to one of them (only k and s have
// non-ASCII case partners), so a title starting with anything else carries
// no label and skips the comparisons.
var prefixInitial = func() (m [utf8.RuneSelf]bool) {
	for _, p := range titlePrefixes {
		m[p[0]] = true
	}
	return m
}()

// stripTitlePrefix removes leading labels such as "BREAKING:" (repeatedly,
// as in "LIVE: UPDATE: ..."), unless nothing would be left.
func stripTitlePrefix(title string) string {
	for {
		t := strings.TrimSpace(title)
		if t == "" || t[0] >= utf8.RuneSelf || !prefixInitial[t[0]|0x20] {
			return t
		}
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
			if !hasWord(rest) {
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

// Classes of ASCII characters in words: asciiWord maps a letter or digit
// to its lower case, an apostrophe to apostrophe and everything else to
// 0, a separator. These agree with the unicode tests in appendNormalized,
// which handle the rest.
const apostrophe = '\''

var asciiWord = func() (m [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		m[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		m[c], m[c-'a'+'A'] = c, c
	}
	m['\''] = apostrophe
	return m
}()

// isWordRune reports whether r is part of a word: a letter, digit or
// combining mark.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// isApostrophe reports whether r is an apostrophe, dropped inside a word.
func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == 'ʼ' || r == '‘'
}

// hasWord reports whether s holds a word, that is whether words(s) is not
// empty.
func hasWord(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiWord[c] > apostrophe {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isWordRune(r) {
			return true
		}
		i += size
	}
	return false
}

// words splits s into lower-case words of letters, digits and combining
// marks. Apostrophes are dropped inside a word; every other character
// separates words.
func words(s string) []string {
	norm := string(appendNormalized(nil, s, 0))
	if norm == "" {
		return nil
	}
	return strings.Split(norm, " ")
}

// appendNormalized appends the words of s to dst as words splits them,
// separated by single spaces, without building the word list. A separator
// before the first word of s adds a space when dst is longer than start.
func appendNormalized(dst []byte, s string, start int) []byte {
	space := false
	// ASCII, the bulk of any text, is written a byte at a time into room
	// made once: its normal form is never longer than itself, a space
	// standing for the separator before it. Other runes go through append.
	n := len(dst)
	dst = slices.Grow(dst, len(s))
	buf := dst[:cap(dst)]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch w := asciiWord[c]; {
			case w > apostrophe:
				if space {
					buf[n] = ' '
					n++
					space = false
				}
				// Prose is mostly runs of letters and digits with
				// single spaces between words, whose normal form is
				// their lower case: find the run's end eight bytes at a
				// time and lower it the same way.
				j := wordRunEnd(s, i)
				n = appendLower(buf, n, s[i-1:j])
				i = j
			case w == 0:
				space = n > start
			}
			continue
		}
		dst = buf[:n]
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case isWordRune(r):
			if space {
				dst = append(dst, ' ')
				space = false
			}
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		case isApostrophe(r):
			// "don't" and "don’t" are the same word.
		default:
			space = len(dst) > start
		}
		// A rune's lower case may be longer than the rune: make room for
		// the rest of s again.
		n = len(dst)
		dst = slices.Grow(dst, len(s)-i)
		buf = dst[:cap(dst)]
	}
	return buf[:n]
}

// load64 reads s[i:i+8] as a little-endian uint64.
func load64(s string, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// wordRunEnd returns the end of the run that starts before i with an
// ASCII letter or digit and goes on with ASCII letters, digits and single
// spaces each followed by a letter or digit: the text whose normal form
// (appendNormalized) is its lower case. It tests eight bytes at a time.
func wordRunEnd(s string, i int) int {
	for i+8 <= len(s) {
		v := load64(s, i)
		x := v & swar.Low7
		word := swar.InRange(x|0x2020202020202020, 'a', 'z') | swar.InRange(x, '0', '9')
		sp := swar.InRange(x, ' ', ' ')
		bad := (v | ^(word | sp)) & swar.Highs
		if stop := swar.Stops(bad, sp); stop != 0 {
			return i + swar.RunEnd(sp, stop)
		}
		i += swar.Advance(sp)
	}
	return wordRunEndBytewise(s, i)
}

// wordRunEndBytewise is wordRunEnd a byte at a time, for the last bytes.
func wordRunEndBytewise(s string, i int) int {
	for i < len(s) {
		if isASCIIWord(s[i]) {
			i++
			continue
		}
		if s[i] == ' ' && i+1 < len(s) && isASCIIWord(s[i+1]) {
			i += 2
			continue
		}
		break
	}
	return i
}

// isASCIIWord reports whether c is an ASCII letter or digit.
func isASCIIWord(c byte) bool {
	return c < utf8.RuneSelf && asciiWord[c] > apostrophe
}

// appendLower writes the lower case of run, ASCII letters, digits and
// spaces, to buf at n and returns the new end. buf has room for run.
func appendLower(buf []byte, n int, run string) int {
	k := 0
	for ; k+8 <= len(run); k += 8 {
		v := load64(run, k)
		binary.LittleEndian.PutUint64(buf[n+k:], v|swar.InRange(v, 'A', 'Z')>>2)
	}
	for ; k < len(run); k++ {
		c := run[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n+k] = c
	}
	return n + len(run)
}

// normalizeText is the text form that ContentHash covers: URLs inside the
// text canonicalized (so a tracking parameter does not count as a change),
// then words as NormalizeTitle makes them.
func normalizeText(text string) []byte {
	return appendNormalizedText(make([]byte, 0, len(text)), text)
}

// appendNormalizedText appends normalizeText(text) to dst.
func appendNormalizedText(dst []byte, text string) []byte {
	start := len(dst)
	if !strings.Contains(text, "://") {
		return appendNormalized(dst, text, start)
	}
	// Field by field, as strings.Fields splits, so that a URL is
	// canonicalized whole.
	for i := 0; i < len(text); {
		i = skipSpace(text, i)
		if i == len(text) {
			break
		}
		j := fieldEnd(text, i)
		f := text[i:j]
		i = j
		if hasPrefixFold(f, "http://") || hasPrefixFold(f, "https://") {
			if c := CanonicalURL(strings.TrimRight(f, ".,;:!?)]}>\"'")); c != "" {
				f = c
			}
		}
		n := len(dst)
		if n > start {
			dst = append(dst, ' ')
		}
		if dst = appendNormalized(dst, f, start); len(dst) == n+1 {
			dst = dst[:n] // the field had no words
		}
	}
	return dst
}

// asciiSpace marks the ASCII characters unicode.IsSpace accepts.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// skipSpace returns the index of the first non-space rune of s at or after
// i, or len(s).
func skipSpace(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !asciiSpace[c] {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			return i
		}
		i += size
	}
	return i
}

// fieldEnd returns the index of the first space rune of s after i, or
// len(s).
func fieldEnd(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiSpace[c] {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			return i
		}
		i += size
	}
	return i
}

// hasPrefixFold reports whether strings.ToLower(s) starts with the lower
// case ASCII prefix. No non-ASCII rune lower-cases to one of the letters
// of "http", so comparing ASCII bytes is enough.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// bufPool recycles the scratch buffers of normalization: every item of
// every fetched feed passes through here. putBuf drops buffers grown by an
// unusually long text rather than keep them alive.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func putBuf(p *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*p = b
		bufPool.Put(p)
	}
}

// ContentHash fingerprints an item's content: a hex SHA-256 (first 16
// bytes) of its normalized title and normalized text. Case, whitespace,
// punctuation, a "BREAKING:" label and tracking parameters in URLs do not
// change it; a changed word does. Dates are not part of it, so a bumped
// date alone is not a content update.
func ContentHash(title, text string) string {
	hash, _, _ := fingerprint(title, text, "", false)
	return hash
}

// StoryKeys returns the index keys under which an item is filed for
// cross-source candidate lookup; two items that may be the same story
// share at least one key. The keys are:
//
//   - "u:" + canonicalURL, when there is one;
//   - for titles of fewer than 5 words, "t:" + a hash of the normalized
//     title;
//   - for titles of 5 to 8 words, "d:" + a hash of the title, and "d:" + a
//     hash of the title with each single word removed in turn (deletion
//     keys);
//   - for titles of 8 words or more, "p:", "s:" and "e:" + a hash of the
//     title's first, last, and first and last words, about two thirds of
//     the title each, once or twice (block keys; see storyKeys).
//
// Two headlines with one word replaced, inserted or removed share a key.
// There are at most 13 keys, without duplicates; a title of 9 words or
// more has 3 to 6, plus the URL's. text is accepted so the key scheme can grow without
// changing callers; it is not used today.
func StoryKeys(title, text, canonicalURL string) []string {
	_ = text
	buf := bufPool.Get().(*[]byte)
	norm := appendNormalized((*buf)[:0], stripTitlePrefix(title), 0)
	keys := storyKeys(norm, canonicalURL)
	putBuf(buf, norm)
	return keys
}

// Fingerprint returns ContentHash(title, text), StoryKeys(title, text,
// canonicalURL) and TitleSketch(title) at the cost of normalizing the
// title once.
func Fingerprint(title, text, canonicalURL string) (contentHash string, storyKeys []string, titleSketch int64) {
	return fingerprint(title, text, canonicalURL, true)
}

func fingerprint(title, text, canonicalURL string, withKeys bool) (string, []string, int64) {
	buf := bufPool.Get().(*[]byte)
	// The hashed form: the normalized title, a zero byte, the normalized
	// text.
	b := appendNormalized((*buf)[:0], stripTitlePrefix(title), 0)
	titleLen := len(b)
	b = append(b, 0)
	b = appendNormalizedText(b, text)
	sum := sha256.Sum256(b)
	var keys []string
	var sketch int64
	if withKeys {
		keys = storyKeys(b[:titleLen], canonicalURL)
		sketch = sketchNormalized(b[:titleLen])
	}
	putBuf(buf, b)
	return hex.EncodeToString(sum[:16]), keys, sketch
}

// URLKeyPrefix starts the story key of an item's canonical URL. SameStory
// joins two items of one canonical URL whatever their titles, so a
// candidate found by such a key is always read (see MaySameStory).
const URLKeyPrefix = "u:"

// storyKeys builds StoryKeys from the normalized title (words separated
// by single spaces). A key holds the first 8 bytes of a SHA-256 in hex:
// small, and a collision only costs a SameStory call. All hashed keys
// share one allocation.
//
// Two titles differing by one word edit are a pair of lengths (a, a) or
// (a, a+1); the key family that must find them is chosen by a, the
// shorter length, so a title of n words carries the families of a = n
// (partners as long or one longer) and a = n-1 (partners one shorter):
//
//   - a < blockKeyWords: deletion keys, the title and the title with each
//     word removed in turn (n+1 keys, each n-1 or n words long);
//   - a >= blockKeyWords: block keys, the first L words ("p:"), the last L
//     words ("s:"), and the first m with the last m words ("e:"), where m
//     and L depend on a's bucket (blockParams) and L+m <= a+1. An edit at
//     word i leaves the prefix whole when i >= L, the suffix when i <= a-L,
//     and both ends when m <= i <= a-m; L+m <= a+1 makes these cover every
//     i, for replacements and insertions alike.
//
// Block keys are three per family, each about two thirds of the title,
// where deletion keys are one per word: a 12-word headline has 3 to 6
// keys instead of 14.
func storyKeys(norm []byte, canonicalURL string) []string {
	const keyLen = len("d:") + 2*8
	keys := make([]string, 0, 8)
	if canonicalURL != "" {
		keys = append(keys, URLKeyPrefix+canonicalURL)
	}
	if len(norm) == 0 {
		return keys
	}

	// Word boundaries: word i is norm[starts[i]:ends[i]].
	var startsBuf, endsBuf [32]int
	starts, ends := startsBuf[:0], endsBuf[:0]
	start := 0
	for i, c := range norm {
		if c == ' ' {
			starts, ends = append(starts, start), append(ends, i)
			start = i + 1
		}
	}
	starts, ends = append(starts, start), append(ends, len(norm))
	n := len(starts)

	// Digests first, then one string of all their keys.
	type digest struct {
		kind byte
		sum  [8]byte
	}
	// At most: the title key, blockKeyWords+1 deletion keys, 6 block keys.
	var sumsBuf [1 + blockKeyWords + 1 + 6]digest
	sums := sumsBuf[:0]
	add := func(kind byte, parts ...[]byte) {
		var s [sha256.Size]byte
		if len(parts) == 1 {
			s = sha256.Sum256(parts[0])
		} else {
			h := sha256.New()
			for i, p := range parts {
				if i > 0 {
					h.Write([]byte{0})
				}
				h.Write(p)
			}
			h.Sum(s[:0])
		}
		d := digest{kind: kind, sum: [8]byte(s[:8])}
		if !slices.Contains(sums, d) {
			sums = append(sums, d)
		}
	}
	if n < minLongTitleWords {
		// Only the same title joins a short one. Longer titles need no
		// key of their own: two equal titles share all their other keys.
		add('t', norm)
	}
	if n >= minLongTitleWords && n <= blockKeyWords {
		// Deletion keys, for a = n < blockKeyWords or a = n-1.
		add('d', norm)
		scratch := make([]byte, 0, len(norm))
		for i := range n {
			switch {
			case i == 0:
				add('d', norm[starts[1]:])
			case i == n-1:
				add('d', norm[:ends[n-2]])
			default:
				scratch = append(append(scratch[:0], norm[:starts[i]]...), norm[starts[i+1]:]...)
				add('d', scratch)
			}
		}
	}
	for _, a := range [2]int{n, n - 1} {
		if a < blockKeyWords {
			continue
		}
		l, m := blockParams(a)
		add('p', norm[:ends[l-1]])
		add('s', norm[starts[n-l]:])
		add('e', norm[:ends[m-1]], norm[starts[n-m]:])
	}

	out := make([]byte, 0, len(sums)*keyLen)
	for _, d := range sums {
		out = append(out, d.kind, ':')
		out = hex.AppendEncode(out, d.sum[:])
	}
	all := string(out)
	for i := range sums {
		keys = append(keys, all[i*keyLen:(i+1)*keyLen])
	}
	return keys
}

// blockParams returns the prefix and suffix length L and the length m of
// each end for block keys of pairs whose shorter title has a words.
// Lengths are bucketed by three so that most titles share the family of
// a = n-1 with that of a = n: buckets start at blockKeyWords, and within
// a bucket starting at lo, m = (lo+1)/3 and L = lo+1-m, which keeps L+m
// <= a+1 for every a of the bucket.
func blockParams(a int) (l, m int) {
	lo := blockKeyWords + (a-blockKeyWords)/3*3
	m = (lo + 1) / 3
	return lo + 1 - m, m
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
	// The titles decide first: most candidates fail on them, and the
	// texts' word sets cost more to build.
	if len(ta) >= minLongTitleWords && len(tb) >= minLongTitleWords {
		if !wordEditDistanceAtMostOne(ta, tb) && jaccard(set(ta), set(tb)) < titleJaccardMin {
			return false
		}
		xa, xb := contentWords(a.Text), contentWords(b.Text)
		if len(xa) == 0 || len(xb) == 0 {
			return true
		}
		return overlap(xa, xb) >= textRelatedMin
	}
	if !slices.Equal(ta, tb) {
		return false
	}
	xa, xb := contentWords(a.Text), contentWords(b.Text)
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
