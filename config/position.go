package config

import (
	"sort"
	"strconv"
	"strings"
)

// BurntSushi/toml decodes values and checks the syntax but keeps key
// positions private, and keyed by name only, so the Nth [[source]] block
// cannot be told from the first. This file indexes positions itself: a
// small scanner walks a document the TOML decoder has already accepted
// and records, for every key path in the form errors use
// (`source[2].headers."X-Key"`, `output[1].tags[3]`), where its key and
// its value start. Problems found later are placed by looking their path up
// here. If the scanner meets something it does not understand it stops;
// the keys it did not reach are reported without a line, never wrongly.

// span holds the byte offsets of a key and of its value.
type span struct{ key, val int }

// positions maps key paths to places in one document. The zero value knows
// no positions.
type positions struct {
	spans      map[string]span
	lineStarts []int
}

// lookup returns the line and column for a problem at key, falling back to
// the closest enclosing key that has a position (a missing key is reported
// at its table).
func (p positions) lookup(key string, atKey bool) (line, col int) {
	if p.spans == nil {
		return 0, 0
	}
	for k := key; ; {
		if s, ok := p.spans[k]; ok {
			off := s.val
			if atKey || k != key {
				off = s.key
			}
			return p.lineCol(off)
		}
		parent, ok := parentPath(k)
		if !ok {
			return 0, 0
		}
		k = parent
	}
}

func (p positions) lineCol(off int) (line, col int) {
	i := sort.Search(len(p.lineStarts), func(i int) bool { return p.lineStarts[i] > off }) - 1
	if i < 0 {
		return 0, 0
	}
	return i + 1, off - p.lineStarts[i] + 1
}

// parentPath strips the last segment (".name" or "[n]") of a key path.
func parentPath(k string) (string, bool) {
	last := -1
	for i := 0; i < len(k); {
		switch k[i] {
		case '"':
			// A quoted segment starts at its dot, already recorded.
			i++
			for i < len(k) && k[i] != '"' {
				if k[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '.':
			last = i
			i++
		case '[':
			last = i
			i++
		default:
			i++
		}
	}
	if last <= 0 {
		return "", false
	}
	return k[:last], true
}

// keyPart renders one key segment the way TOML writes it: bare when it
// can be, quoted otherwise.
func keyPart(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		if !isBareKeyChar(s[i]) {
			return strconv.Quote(s)
		}
	}
	return s
}

func joinKey(parent, part string) string {
	if parent == "" {
		return keyPart(part)
	}
	return parent + "." + keyPart(part)
}

func indexKey(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i+1) + "]"
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// lineIndex returns positions that only know where lines start.
func lineIndex(data []byte) positions {
	p := positions{lineStarts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			p.lineStarts = append(p.lineStarts, i+1)
		}
	}
	return p
}

// indexPositions scans data (already accepted by the TOML decoder).
func indexPositions(data []byte) positions {
	p := lineIndex(data)
	p.spans = map[string]span{}
	s := &scanner{b: data, spans: p.spans, arrays: map[string]int{}}
	s.document()
	return p
}

type scanner struct {
	b      []byte
	i      int
	spans  map[string]span
	arrays map[string]int // array-of-tables path -> blocks seen
	failed bool
}

func (s *scanner) peek(k int) byte {
	if s.i+k < len(s.b) {
		return s.b[s.i+k]
	}
	return 0
}

func (s *scanner) eof() bool { return s.failed || s.i >= len(s.b) }

func (s *scanner) fail() { s.failed = true }

func (s *scanner) record(path string, key, val int) {
	if _, ok := s.spans[path]; !ok {
		s.spans[path] = span{key: key, val: val}
	}
}

// skipSpace skips blanks; with newlines also line ends and comments.
func (s *scanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch c := s.b[s.i]; {
		case c == ' ' || c == '\t':
			s.i++
		case newlines && (c == '\n' || c == '\r'):
			s.i++
		case newlines && c == '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *scanner) skipComment() {
	for !s.eof() && s.b[s.i] != '\n' {
		s.i++
	}
}

func (s *scanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		start := s.i
		if s.b[s.i] == '[' {
			array := s.peek(1) == '['
			if array {
				s.i += 2
			} else {
				s.i++
			}
			parts, _ := s.key()
			s.skipSpace(false)
			if s.eof() || s.b[s.i] != ']' || array && s.peek(1) != ']' {
				s.fail()
				return
			}
			if array {
				s.i += 2
			} else {
				s.i++
			}
			table = s.tablePath(parts, array, start)
			continue
		}
		s.keyValue(table)
		s.skipSpace(false)
		if !s.eof() && s.b[s.i] == '#' {
			s.skipComment()
		}
	}
}

// tablePath resolves a table header to its indexed path: array-of-tables
// segments point at their latest block, and a [[header]] opens a new one.
func (s *scanner) tablePath(parts []string, array bool, start int) string {
	path := ""
	for n, part := range parts {
		path = joinKey(path, part)
		last := n == len(parts)-1
		if last && array {
			s.arrays[path]++
			path = indexKey(path, s.arrays[path]-1)
			break
		}
		if c := s.arrays[path]; c > 0 {
			path = indexKey(path, c-1)
		}
		if last {
			break
		}
		s.record(path, start, start)
	}
	// A header names its table at the bracket.
	s.record(path, start, start)
	return path
}

// keyValue scans `key = value` inside table.
func (s *scanner) keyValue(table string) {
	parts, offs := s.key()
	if s.failed || len(parts) == 0 {
		s.fail()
		return
	}
	s.skipSpace(false)
	if s.eof() || s.b[s.i] != '=' {
		s.fail()
		return
	}
	s.i++
	s.skipSpace(false)
	path := table
	for n, part := range parts {
		path = joinKey(path, part)
		if n < len(parts)-1 {
			s.record(path, offs[n], offs[n])
		}
	}
	s.record(path, offs[len(offs)-1], s.i)
	s.value(path)
}

// key scans a possibly dotted key and returns its segments and offsets.
func (s *scanner) key() (parts []string, offs []int) {
	for {
		s.skipSpace(false)
		if s.eof() {
			s.fail()
			return nil, nil
		}
		offs = append(offs, s.i)
		switch s.b[s.i] {
		case '"':
			start := s.i
			s.basicString()
			if s.failed {
				return nil, nil
			}
			v, err := strconv.Unquote(string(s.b[start:s.i]))
			if err != nil {
				s.fail()
				return nil, nil
			}
			parts = append(parts, v)
		case '\'':
			start := s.i + 1
			s.literalString()
			if s.failed {
				return nil, nil
			}
			parts = append(parts, string(s.b[start:s.i-1]))
		default:
			start := s.i
			for !s.eof() && isBareKeyChar(s.b[s.i]) {
				s.i++
			}
			if s.i == start {
				s.fail()
				return nil, nil
			}
			parts = append(parts, string(s.b[start:s.i]))
		}
		s.skipSpace(false)
		if s.eof() || s.b[s.i] != '.' {
			return parts, offs
		}
		s.i++
	}
}

func (s *scanner) value(path string) {
	if s.eof() {
		s.fail()
		return
	}
	switch s.b[s.i] {
	case '"':
		s.basicString()
	case '\'':
		s.literalString()
	case '[':
		s.i++
		for n := 0; ; n++ {
			s.skipSpace(true)
			if s.eof() {
				s.fail()
				return
			}
			if s.b[s.i] == ']' {
				s.i++
				return
			}
			el := indexKey(path, n)
			s.record(el, s.i, s.i)
			s.value(el)
			s.skipSpace(true)
			if s.eof() {
				s.fail()
				return
			}
			if s.b[s.i] == ',' {
				s.i++
			} else if s.b[s.i] != ']' {
				s.fail()
				return
			}
		}
	case '{':
		s.i++
		for {
			s.skipSpace(true)
			if s.eof() {
				s.fail()
				return
			}
			if s.b[s.i] == '}' {
				s.i++
				return
			}
			s.keyValue(path)
			s.skipSpace(true)
			if s.eof() {
				s.fail()
				return
			}
			if s.b[s.i] == ',' {
				s.i++
			} else if s.b[s.i] != '}' {
				s.fail()
				return
			}
		}
	default:
		// Numbers, booleans and dates (which may hold a space) run to the
		// next delimiter.
		start := s.i
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.b[s.i])) {
			s.i++
		}
		if s.i == start {
			s.fail()
		}
	}
}

// basicString skips a "..." or """...""" string.
func (s *scanner) basicString() {
	if s.peek(1) == '"' && s.peek(2) == '"' {
		s.i += 3
		for !s.eof() {
			switch {
			case s.b[s.i] == '\\':
				s.i += 2
			case s.b[s.i] == '"' && s.peek(1) == '"' && s.peek(2) == '"':
				s.i += 3
				// Up to two quotes may end the content itself.
				for n := 0; n < 2 && s.peek(0) == '"'; n++ {
					s.i++
				}
				return
			default:
				s.i++
			}
		}
		s.fail()
		return
	}
	s.i++
	for !s.eof() {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return
		case '\n':
			s.fail()
			return
		default:
			s.i++
		}
	}
	s.fail()
}

// literalString skips a literal string, single-line or multi-line.
func (s *scanner) literalString() {
	if s.peek(1) == '\'' && s.peek(2) == '\'' {
		s.i += 3
		for !s.eof() {
			if s.b[s.i] == '\'' && s.peek(1) == '\'' && s.peek(2) == '\'' {
				s.i += 3
				for n := 0; n < 2 && s.peek(0) == '\''; n++ {
					s.i++
				}
				return
			}
			s.i++
		}
		s.fail()
		return
	}
	s.i++
	for !s.eof() {
		switch s.b[s.i] {
		case '\'':
			s.i++
			return
		case '\n':
			s.fail()
			return
		default:
			s.i++
		}
	}
	s.fail()
}
