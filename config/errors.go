package config

import (
	"errors"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file. Load, Parse and Validate
// return every problem found, joined with errors.Join; use Errors to list
// them.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the position is unknown
	Column int // 1-based byte column
	Key    string
	Msg    string
	err    error // underlying cause, for errors.Is (file not found)
}

// Error formats e as "file:line:col: key: msg", leaving out the position
// when it is unknown and the key when there is none.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Errors lists the *Error values inside err (as returned by Load, Parse or
// Validate), in order. It returns nil for a nil error.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*Error); ok {
			out = append(out, ce)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ce *Error
		if errors.As(e, &ce) {
			out = append(out, ce)
		}
	}
	walk(err)
	return out
}

// errText returns the message of err without an *fs.PathError's path,
// which the Error already names.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// problem is one finding before it is placed in the file. atKey says the
// position of interest is the key itself (unknown keys) rather than its
// value.
type problem struct {
	key   string
	msg   string
	atKey bool
}

// resolve turns problems into sorted *Error values, placing each with idx
// (nil when positions are unknown).
func resolve(file string, ps []problem, idx positions) error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]*Error, 0, len(ps))
	for _, p := range ps {
		e := &Error{File: file, Key: p.key, Msg: p.msg}
		e.Line, e.Column = idx.lookup(p.key, p.atKey)
		errs = append(errs, e)
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0 // unplaced problems last
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}
