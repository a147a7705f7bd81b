package parser

import (
	"bytes"
	"encoding/binary"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
)

// xmlDeclRE matches an XML declaration at the very start of a document
// (after optional whitespace) and captures its encoding value.
var xmlDeclRE = regexp.MustCompile(`^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["'][^>]*\?>`)

// toUTF8 turns a feed body in whatever encoding it came in into UTF-8 that
// the XML and JSON decoders accept. gofeed converts declared encodings
// itself, but only from the XML declaration and not reliably for every
// input, so it always gets UTF-8 from here.
//
// The encoding is taken from, in order: a byte order mark (UTF-8, UTF-16
// LE/BE), the charset parameter of contentType, the encoding of the XML
// declaration (or UTF-16 recognised by the zero bytes of "<?"), and
// otherwise UTF-8. Unknown labels fall through to the next source.
// Then:
//
//   - bytes invalid in the encoding become U+FFFD;
//   - characters XML 1.0 forbids (C0 controls except tab, newline and
//     carriage return, U+FFFE, U+FFFF) are dropped: a single stray control
//     character from a CMS otherwise makes the whole feed unreadable;
//   - the XML declaration's encoding is rewritten to UTF-8, so the decoder
//     does not convert a second time.
//
// The output is always valid UTF-8. The error is reserved for a decoder
// failure and does not happen with the encodings x/text provides.
func toUTF8(body []byte, contentType string) ([]byte, error) {
	enc, rest := detectEncoding(body, contentType)
	out := rest
	if enc != nil {
		decoded, err := enc.NewDecoder().Bytes(rest)
		if err != nil {
			return nil, err
		}
		out = decoded
	}
	// bytes.ToValidUTF8 copies even valid input, which nearly every feed is.
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
	}
	// Dropping first: a dropped character can complete a declaration.
	return rewriteXMLDecl(dropIllegalXMLChars(out)), nil
}

// detectEncoding returns the encoding of body and body without its byte
// order mark. A nil encoding means UTF-8.
func detectEncoding(body []byte, contentType string) (encoding.Encoding, []byte) {
	switch {
	case bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}):
		return nil, body[3:]
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), body[2:]
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), body[2:]
	}
	if contentType != "" {
		if _, params, err := mime.ParseMediaType(contentType); err == nil {
			if enc, ok := lookupEncoding(params["charset"], body); ok {
				return enc, body
			}
		}
	}
	// UTF-16 without a byte order mark still shows itself in "<?" or "<r".
	switch {
	case len(body) >= 4 && body[0] == '<' && body[1] == 0 && body[2] != 0 && body[3] == 0:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), body
	case len(body) >= 4 && body[0] == 0 && body[1] == '<' && body[2] == 0 && body[3] != 0:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), body
	}
	head := body[:min(len(body), 512)]
	if m := xmlDeclRE.FindSubmatch(head); m != nil {
		if enc, ok := lookupEncoding(string(m[1]), body); ok {
			return enc, body
		}
	}
	return nil, body
}

// lookupEncoding finds the encoding a charset label names: WHATWG labels
// first (they map the ISO-8859-1 label to windows-1252, which is what
// publishers mean), then IANA names. UTF-8 comes back as nil. A UTF-16
// label on a body we could read ASCII from is a mislabel, and is ignored.
func lookupEncoding(label string, body []byte) (encoding.Encoding, bool) {
	label = strings.ToLower(strings.TrimSpace(label))
	if label == "" {
		return nil, false
	}
	enc, err := htmlindex.Get(label)
	if err != nil {
		enc, err = ianaindex.IANA.Encoding(label)
		if err != nil || enc == nil {
			return nil, false
		}
	}
	if enc == encoding.Nop {
		return nil, false
	}
	name, _ := htmlindex.Name(enc)
	switch name {
	case "utf-8":
		return nil, true
	case "utf-16le", "utf-16be":
		if !bytes.Contains(body[:min(len(body), 64)], []byte{0}) {
			return nil, false
		}
	}
	return enc, true
}

// rewriteXMLDecl makes the XML declaration say UTF-8, which the document
// now is.
func rewriteXMLDecl(b []byte) []byte {
	loc := xmlDeclRE.FindSubmatchIndex(b[:min(len(b), 512)])
	if loc == nil {
		return b
	}
	start, end := loc[2], loc[3]
	if strings.EqualFold(string(b[start:end]), "utf-8") {
		return b
	}
	out := make([]byte, 0, len(b)+5)
	out = append(out, b[:start]...)
	out = append(out, "UTF-8"...)
	return append(out, b[end:]...)
}

// dropIllegalXMLChars removes the characters XML 1.0 does not allow in a
// document. b must be valid UTF-8 (surrogates cannot occur in it). It
// returns b itself when there is nothing to drop.
func dropIllegalXMLChars(b []byte) []byte {
	illegal := func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF
	}
	i := 0
	for i < len(b) {
		// Eight bytes at a time while they are ASCII from ' ' up, the bulk
		// of any feed: (x - 0x20 in each byte) &^ x has the high bit of a
		// byte set only if some byte is below 0x20.
		if i+8 <= len(b) {
			const low, high = 0x2020202020202020, 0x8080808080808080
			if x := binary.LittleEndian.Uint64(b[i:]); x&high == 0 && (x-low)&^x&high == 0 {
				i += 8
				continue
			}
		}
		if c := b[i]; c < utf8.RuneSelf {
			if illegal(rune(c)) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if illegal(r) {
			break
		}
		i += size
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, i, len(b))
	copy(out, b[:i])
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if !illegal(r) {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
