package publish

import (
	"html"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	xhtml "golang.org/x/net/html"
)

// newPolicy returns the sanitizer for republished HTML: bluemonday's
// user-generated-content policy (no scripts, event handlers, styles, forms,
// iframes or embeds; http, https and mailto URLs only; rel="nofollow" on
// links) with relative URLs refused, because resolveURLs has already made
// every resolvable one absolute and a relative URL cannot work inside a
// feed reader.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(false)
	return p
}

// sanitizeHTML makes an item's HTML safe to republish: URLs resolved
// against base (the item's link), then sanitized, then cleaned of
// characters XML forbids.
func (p *Publisher) sanitizeHTML(s, base string) string {
	if s == "" {
		return ""
	}
	return cleanText(p.policy.Sanitize(resolveURLs(s, base)))
}

// urlAttrs are the attributes the policy lets through that hold URLs.
var urlAttrs = map[string]bool{"href": true, "src": true, "cite": true}

// resolveURLs rewrites relative URL attributes against base. Tokens it does
// not change are copied byte for byte.
func resolveURLs(s, base string) string {
	b, err := url.Parse(base)
	if err != nil || !b.IsAbs() {
		return s
	}
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var sb strings.Builder
	sb.Grow(len(s) + 64)
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			return sb.String()
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			sb.Write(z.Raw())
			continue
		}
		raw := string(z.Raw())
		tok := z.Token()
		changed := false
		for i, a := range tok.Attr {
			if a.Namespace != "" || !urlAttrs[a.Key] {
				continue
			}
			u, err := b.Parse(strings.TrimSpace(a.Val))
			if err != nil {
				continue
			}
			if abs := u.String(); abs != a.Val {
				tok.Attr[i].Val = abs
				changed = true
			}
		}
		if changed {
			sb.WriteString(tok.String())
		} else {
			sb.WriteString(raw)
		}
	}
}

// plainText turns HTML into collapsed plain text.
func plainText(strict *bluemonday.Policy, s string) string {
	if s == "" {
		return ""
	}
	return collapseSpace(html.UnescapeString(strict.Sanitize(s)))
}

// collapseSpace trims s and turns every run of white space into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncateText shortens s to at most max runes, at a word boundary when
// one is near, marking the cut with an ellipsis.
func truncateText(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	cut := len(r)
	for i := len(r) - 1; i > len(r)*2/3; i-- {
		if unicode.IsSpace(r[i]) {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), unicode.IsSpace) + "…"
}

// cleanText returns s as valid UTF-8 holding only characters XML 1.0
// allows: invalid bytes (lone surrogates included) become U+FFFD; C0 and C1
// controls other than tab, newline and carriage return, U+FFFE and U+FFFF
// are dropped. Every string that reaches an output passes through it, so
// no client's strict parser can reject a feed because of one item.
func cleanText(s string) string {
	if isClean(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if xmlChar(r) {
			return r
		}
		return -1
	}, s)
}

func isClean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

func xmlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return false
	case r >= 0xD800 && r <= 0xDFFF:
		return false
	case r == 0xFFFE || r == 0xFFFF:
		return false
	}
	return r <= unicode.MaxRune
}

// safeLink returns s when it is an absolute http(s) URL fit to publish as a
// link, else "".
func safeLink(s string) string {
	s = strings.TrimSpace(cleanText(s))
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// textToHTML escapes plain text for a field readers treat as HTML, keeping
// its line breaks.
func textToHTML(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}
