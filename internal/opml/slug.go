package opml

import (
	"net/url"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Tags and ids must match the config's slug rule,
// ^[a-z0-9][a-z0-9_-]{0,63}$.
const (
	maxTagLen = 64
	// maxIDLen leaves room for a "-NN" suffix and keeps ids readable in
	// URLs and logs.
	maxIDLen = 48
)

// tagSlug turns a folder or category name into a tag, or "" when nothing
// of it is left ("日本語" has no ASCII letters).
func tagSlug(s string) string { return slugify(s, maxTagLen, true) }

// idSlug turns a title or address into the start of a source id.
func idSlug(s string) string { return slugify(s, maxIDLen, false) }

// folds spells out letters that Unicode decomposition leaves alone.
var folds = map[rune]string{
	'ß': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'ø': "o", 'Ø': "o",
	'đ': "d", 'Đ': "d", 'ł': "l", 'Ł': "l", 'þ': "th", 'Þ': "th", 'ð': "d",
	'Ð': "d", 'ı': "i",
}

// slugify folds s to ASCII, lower-cases it and replaces every run of other
// characters with one '-', trimmed at both ends and cut to at most max
// bytes, at a word boundary when one is near. Apostrophes vanish rather
// than split a word ("Bob's" -> "bobs"). keepUnderscore keeps '_' (tags
// allow it; generated ids read better without).
func slugify(s string, max int, keepUnderscore bool) string {
	var b strings.Builder
	dash := false
	emit := func(c byte) {
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteByte(c)
	}
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			emit(byte(r))
		case r >= 'A' && r <= 'Z':
			emit(byte(r - 'A' + 'a'))
		case r == '_' && keepUnderscore && b.Len() > 0:
			emit('_')
		case r == '\'' || r == '\u2019' || unicode.Is(unicode.Mn, r):
			// dropped without a separator
		case folds[r] != "":
			for _, c := range []byte(folds[r]) {
				emit(c)
			}
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > max {
		cut := out[:max]
		// Prefer ending at a word boundary unless that loses too much.
		if out[max] != '-' {
			if i := strings.LastIndexByte(cut, '-'); i >= max/2 {
				cut = cut[:i]
			}
		}
		out = strings.TrimRight(cut, "-_")
	}
	return out
}

// canonicalURL is the form in which feed addresses are compared: scheme
// and host lower-cased, default port, fragment and trailing slashes of
// the path dropped. It identifies at least everything the config's own
// duplicate check does (which keeps trailing slashes), so an import never
// produces a URL the config then rejects as a duplicate. ok is false for
// anything but an absolute http(s) URL with a host.
func canonicalURL(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment = ""
	u.RawFragment = ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u.String(), true
}
