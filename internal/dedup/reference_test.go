package dedup

// This file keeps the normalization, hashing and key functions as they
// were before they were tuned for speed (commit 1ad6e2b), as the reference
// the differential tests and fuzz targets compare the current code with:
// content hashes, story keys and canonical URLs are stored in databases,
// so the tuned code must give byte-identical results for every input.
// CanonicalURL and the title labels, which the tuning left alone, are
// shared.

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

func refNormalizeTitle(title string) string {
	return strings.Join(refWords(refStripTitlePrefix(title)), " ")
}

func refStripTitlePrefix(title string) string {
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
			if len(refWords(rest)) == 0 {
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

func refWords(s string) []string {
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
		default:
			flush()
		}
	}
	flush()
	return out
}

func refAppendNormalized(dst []byte, s string) []byte {
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

func refNormalizeText(text string) []byte {
	out := make([]byte, 0, len(text))
	if !strings.Contains(text, "://") {
		return refAppendNormalized(out, text)
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
		if out = refAppendNormalized(out, f); len(out) == n+1 {
			out = out[:n]
		}
	}
	return out
}

func refContentHash(title, text string) string {
	h := sha256.New()
	h.Write([]byte(refNormalizeTitle(title)))
	h.Write([]byte{0})
	h.Write(refNormalizeText(text))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func refShortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

func refStoryKeys(title, text, canonicalURL string) []string {
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
	w := refWords(refStripTitlePrefix(title))
	if len(w) == 0 {
		return keys
	}
	n := len(w)
	if n < minLongTitleWords {
		add("t:" + refShortHash(strings.Join(w, " ")))
	}
	if n >= minLongTitleWords && n <= blockKeyWords {
		add("d:" + refShortHash(strings.Join(w, " ")))
		rest := make([]string, 0, n-1)
		for i := range w {
			rest = append(rest[:0], w[:i]...)
			rest = append(rest, w[i+1:]...)
			add("d:" + refShortHash(strings.Join(rest, " ")))
		}
	}
	for _, a := range []int{n, n - 1} {
		if a < blockKeyWords {
			continue
		}
		lo := blockKeyWords + (a-blockKeyWords)/3*3
		m := (lo + 1) / 3
		l := lo + 1 - m
		add("p:" + refShortHash(strings.Join(w[:l], " ")))
		add("s:" + refShortHash(strings.Join(w[n-l:], " ")))
		add("e:" + refShortHash(strings.Join(w[:m], " ")+"\x00"+strings.Join(w[n-m:], " ")))
	}
	return keys
}

// refSameStory is SameStory before it let the titles decide first.
func refSameStory(a, b Doc) bool {
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
