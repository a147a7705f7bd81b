package parser

import (
	"strings"

	"golang.org/x/net/html/atom"
)

// htmlScanner splits an HTML fragment into the tokens that
// golang.org/x/net/html's Tokenizer finds, at the same byte offsets, for
// the markup feeds carry: text, tags, comments, doctypes. It works on the
// string in place, so a token costs a few index operations where the
// Tokenizer reads byte by byte, buffers and allocates per attribute.
//
// It does not follow the Tokenizer into raw text (script, style, title,
// textarea, iframe and the like), nor keep more than maxAttrs attributes
// of a tag: next reports tokUnsupported and the caller falls back to the
// Tokenizer for the whole fragment. It does not decode entities either.
//
// The differential tests in htmlscan_test.go hold it to the Tokenizer.
type htmlScanner struct {
	s    string
	pos  int  // where the next token starts
	tok  span // the current token's raw bytes
	name span // a tag's name, as written
	// attrBuf[:nAttrs] are a start tag's attributes as the Tokenizer keeps
	// them. A fixed array keeps the scanner on its caller's stack.
	attrBuf [maxAttrs]attrAt
	nAttrs  int
}

// maxAttrs is the most attributes of a tag the scanner keeps; it reports
// tokUnsupported for a tag with more.
const maxAttrs = 16

func (z *htmlScanner) attrs() []attrAt { return z.attrBuf[:z.nAttrs] }

type span struct{ start, end int }

// attrAt is an attribute of a start tag: the Tokenizer drops an attribute
// with an empty name or a name (compared in lower case) seen before.
type attrAt struct{ key, val span }

type tokenKind uint8

const (
	tokEOF            tokenKind = iota // nothing left
	tokText                            // text, entities not decoded
	tokStartTag                        // <p ...>
	tokSelfClosingTag                  // <br ... />
	tokEndTag                          // </p ...>
	tokComment                         // a comment, doctype, bogus comment or "</>"
	// tokCutTag is a tag that the end of the input cuts off: the Tokenizer
	// stops with an error there and the tag's bytes are lost.
	tokCutTag
	// tokUnsupported is a start tag after which the Tokenizer reads raw
	// text, or one with more than maxAttrs attributes: the scanner goes no
	// further.
	tokUnsupported
)

func isASCIILetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isHTMLSpace is white space as the Tokenizer skips it in tags.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
}

func skipHTMLSpace(s string, i int) int {
	for i < len(s) && isHTMLSpace(s[i]) {
		i++
	}
	return i
}

// next scans the next token and returns its kind.
func (z *htmlScanner) next() tokenKind {
	s := z.s
	start := z.pos
	if start >= len(s) {
		return tokEOF
	}
	// Text runs to the next '<' that opens a tag, comment or doctype; any
	// other '<' is text.
	for p := start; ; {
		j := strings.IndexByte(s[p:], '<')
		if j < 0 || p+j+1 == len(s) {
			return z.emit(tokText, start, len(s))
		}
		lt := p + j
		if c := s[lt+1]; !isASCIILetter(c) && c != '/' && c != '!' && c != '?' {
			p = lt + 1
			continue
		}
		if lt > start {
			return z.emit(tokText, start, lt)
		}
		break
	}
	switch c := s[start+1]; {
	case isASCIILetter(c):
		return z.tag(start, true)
	case c == '/':
		if start+2 == len(s) {
			return z.emit(tokText, start, len(s)) // "</" at the end is text
		}
		switch c := s[start+2]; {
		case c == '>':
			return z.emit(tokComment, start, start+3)
		case isASCIILetter(c):
			return z.tag(start, false)
		}
		return z.emit(tokComment, start, closeAngle(s, start+2))
	case c == '!':
		if strings.HasPrefix(s[start+2:], "--") {
			return z.emit(tokComment, start, commentEnd(s, start+4))
		}
		return z.emit(tokComment, start, closeAngle(s, start+2))
	default: // '?'
		return z.emit(tokComment, start, closeAngle(s, start+1))
	}
}

func (z *htmlScanner) emit(k tokenKind, start, end int) tokenKind {
	z.tok = span{start, end}
	z.pos = end
	return k
}

// closeAngle returns the offset after the first '>' at or after i, or
// len(s).
func closeAngle(s string, i int) int {
	if j := strings.IndexByte(s[i:], '>'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// commentEnd returns the offset after the comment whose text starts at i
// (after "<!--"), by the Tokenizer's rules: "-->", "--!>", and "<!-->" or
// "<!--->" closing at once.
func commentEnd(s string, i int) int {
	dashes, beginning := 0, true
	for ; i < len(s); i++ {
		switch s[i] {
		case '-':
			dashes++
			continue
		case '>':
			if dashes >= 2 || beginning {
				return i + 1
			}
		case '!':
			if dashes >= 2 {
				if i++; i == len(s) {
					return len(s)
				}
				switch s[i] {
				case '>':
					return i + 1
				case '-':
					dashes, beginning = 1, false
					continue
				}
			}
		}
		dashes, beginning = 0, false
	}
	return len(s)
}

// tag scans a start tag (start points at its '<') or an end tag ("</"),
// following the Tokenizer's readTag: name, then attributes with quoted or
// unquoted values, up to the '>' that is not inside a quoted value.
func (z *htmlScanner) tag(start int, isStart bool) tokenKind {
	s := z.s
	z.nAttrs = 0
	nameStart := start + 1
	if !isStart {
		nameStart++
	}
	i := nameStart + 1
	for ; ; i++ {
		if i == len(s) {
			return z.emit(tokCutTag, start, len(s))
		}
		if c := s[i]; isHTMLSpace(c) {
			z.name = span{nameStart, i}
			i++
			break
		} else if c == '/' || c == '>' {
			z.name = span{nameStart, i}
			break
		}
	}
	for {
		if i = skipHTMLSpace(s, i); i == len(s) {
			return z.emit(tokCutTag, start, len(s))
		}
		if s[i] == '>' {
			i++
			break
		}
		// The name runs to white space, '/', '>' or an '=' that is not its
		// first character.
		key := span{i, i}
		for ; i < len(s); i++ {
			c := s[i]
			if isHTMLSpace(c) || c == '/' || c == '>' || (c == '=' && i > key.start) {
				break
			}
		}
		if i == len(s) {
			return z.emit(tokCutTag, start, len(s))
		}
		key.end = i
		val := span{i, i}
		if i = skipHTMLSpace(s, i); i == len(s) {
			return z.emit(tokCutTag, start, len(s))
		}
		switch s[i] {
		case '/':
			i++
		case '=':
			if i = skipHTMLSpace(s, i+1); i == len(s) {
				return z.emit(tokCutTag, start, len(s))
			}
			switch q := s[i]; q {
			case '>':
			case '"', '\'':
				j := strings.IndexByte(s[i+1:], q)
				if j < 0 {
					return z.emit(tokCutTag, start, len(s))
				}
				val = span{i + 1, i + 1 + j}
				i += j + 2
			default:
				val.start = i
				for i++; ; i++ {
					if i == len(s) {
						return z.emit(tokCutTag, start, len(s))
					}
					if c := s[i]; isHTMLSpace(c) {
						val.end = i
						i++
						break
					} else if c == '>' {
						val.end = i
						break
					}
				}
			}
		}
		if isStart && key.start < key.end && !z.hasAttr(key) {
			if z.nAttrs == maxAttrs {
				return z.emit(tokUnsupported, start, len(s))
			}
			z.attrBuf[z.nAttrs] = attrAt{key, val}
			z.nAttrs++
		}
	}
	z.emit(tokStartTag, start, i)
	if !isStart {
		return tokEndTag
	}
	switch z.atom() {
	case atom.Iframe, atom.Noembed, atom.Noframes, atom.Noscript, atom.Plaintext,
		atom.Script, atom.Style, atom.Textarea, atom.Title, atom.Xmp:
		return tokUnsupported
	}
	// Self-closing unless the '/' before '>' ends an unquoted value, as in
	// <a href=/>.
	if s[i-2] == '/' && (z.nAttrs == 0 || i-2 != z.attrBuf[z.nAttrs-1].val.end-1) {
		return tokSelfClosingTag
	}
	return tokStartTag
}

// hasAttr reports whether the current tag already has an attribute named
// like s[key] in ASCII lower case.
func (z *htmlScanner) hasAttr(key span) bool {
	k := z.s[key.start:key.end]
	for _, a := range z.attrs() {
		if equalLowerASCII(z.s[a.key.start:a.key.end], k) {
			return true
		}
	}
	return false
}

// equalLowerASCII reports whether a and b are equal once their ASCII
// letters are lower-cased.
func equalLowerASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// atom returns the atom of the current tag's name in lower case, 0 when it
// names no known element.
func (z *htmlScanner) atom() atom.Atom {
	return lookupLower(z.s[z.name.start:z.name.end])
}

// lookupLower returns atom.Lookup of name with its ASCII letters
// lower-cased, without allocating.
func lookupLower(name string) atom.Atom {
	var buf [16]byte
	if len(name) > len(buf) {
		return 0 // longer than any element this package looks for
	}
	for i := range len(name) {
		buf[i] = lowerASCII(name[i])
	}
	return atom.Lookup(buf[:len(name)])
}
