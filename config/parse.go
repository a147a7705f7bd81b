package config

import (
	"errors"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Parse parses a configuration document. filename names it in errors and
// becomes Config.Path (so StoragePath resolves against its directory).
// It returns every problem found, joined; see Errors.
func Parse(data []byte, filename string) (*Config, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, syntaxError(filename, data, err)
	}

	c := Default()
	c.Path = filename
	c.Outputs = nil
	d := &decoder{}
	d.table(doc, reflect.ValueOf(c).Elem(), "")
	c.normalize()
	if len(c.Outputs) == 0 {
		c.Outputs = []OutputConfig{defaultAllOutput()}
	}

	// A value that did not decode keeps its default; do not also report
	// what validation thinks of that default.
	bad := make(map[string]bool, len(d.problems))
	for _, p := range d.problems {
		bad[p.key] = true
	}
	ps := d.problems
	for _, p := range c.validate() {
		if !bad[p.key] {
			ps = append(ps, p)
		}
	}
	if len(ps) > 0 {
		// Positions are found only for errors: scanning a document of
		// 10,000 sources for them took a fifth of its parse.
		return nil, resolve(filename, ps, indexPositions(data))
	}
	return c, nil
}

// normalize completes values whose defaults depend on other keys.
func (c *Config) normalize() {
	if isHTTPURL(c.Server.BaseURL) && !strings.HasSuffix(c.Server.BaseURL, "/") {
		c.Server.BaseURL += "/"
	}
	for i := range c.Outputs {
		if c.Outputs[i].Title == "" {
			c.Outputs[i].Title = c.Outputs[i].ID
		}
	}
}

// syntaxError converts a TOML decoding error into an *Error placed at the
// offending byte.
func syntaxError(filename string, data []byte, err error) error {
	e := &Error{File: filename, Msg: err.Error(), err: err}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		e.Msg = pe.Message
		if pe.Position.Len > 0 || pe.Position.Start > 0 {
			e.Line, e.Column = lineIndex(data).lineCol(pe.Position.Start)
		} else {
			e.Line, e.Column = pe.Position.Line, pe.Position.Col
		}
		if pe.LastKey != "" && e.Line == 0 {
			e.Key = pe.LastKey
		}
	}
	return errors.Join(e)
}
