package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// decoder applies a generic TOML document (as BurntSushi/toml decodes it
// into map[string]any) to the typed structs, field by field, so that one
// bad value does not hide the next: decoding straight into the structs
// stops at the first error. It also makes the schema strict: a key with no
// field is a problem, reported at the key.
type decoder struct {
	problems []problem
}

func (d *decoder) add(key string, atKey bool, format string, args ...any) {
	d.problems = append(d.problems, problem{key: key, msg: fmt.Sprintf(format, args...), atKey: atKey})
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	sizeType            = reflect.TypeFor[Size]()
	sourceType          = reflect.TypeFor[SourceConfig]()
	outputType          = reflect.TypeFor[OutputConfig]()
)

// fieldCache holds structFields by type: a config of 10,000 sources
// decodes the same few struct types 10,000 times each.
var fieldCache sync.Map // reflect.Type -> map[string]int

// structFields maps the toml keys of a struct type to field indexes. The
// map is shared: callers must not modify it.
func structFields(t reflect.Type) map[string]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = i
	}
	fieldCache.Store(t, m)
	return m
}

// table applies the keys of m to the struct rv. Keys are visited in sorted
// order so that problems without a position come out stable.
func (d *decoder) table(m map[string]any, rv reflect.Value, path string) {
	fields := structFields(rv.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kp := joinKey(path, k)
		i, ok := fields[k]
		switch {
		case k == "admin_token":
			d.add(kp, true, "tokens are never stored in the config file; use server.admin_token_file or server.admin_token_env")
		case !ok:
			d.add(kp, true, "unknown key %q", k)
		default:
			d.value(m[k], rv.Field(i), kp)
		}
	}
}

// value stores v into rv, which has the type of a config field.
func (d *decoder) value(v any, rv reflect.Value, path string) {
	t := rv.Type()
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n, ok := v.(int64); ok && t == sizeType {
			if n < 0 {
				d.add(path, false, "size must not be negative")
				return
			}
			rv.SetInt(n)
			return
		}
		s, ok := v.(string)
		if !ok {
			d.add(path, false, "must be a string, not %s", tomlType(v))
			return
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.add(path, false, "%s", err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.add(path, false, "must be a string, not %s", tomlType(v))
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.add(path, false, "must be true or false, not %s", tomlType(v))
			return
		}
		rv.SetBool(b)
	case reflect.Int:
		n, ok := v.(int64)
		if !ok {
			d.add(path, false, "must be an integer, not %s", tomlType(v))
			return
		}
		if n > math.MaxInt32 || n < math.MinInt32 {
			d.add(path, false, "%d is out of range", n)
			return
		}
		rv.SetInt(n)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(path, false, "must be a table, not %s", tomlType(v))
			return
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, mv := range m {
			el := reflect.New(t.Elem()).Elem()
			d.value(mv, el, joinKey(path, k))
			out.SetMapIndex(reflect.ValueOf(k), el)
		}
		rv.Set(out)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(path, false, "must be a table, not %s", tomlType(v))
			return
		}
		d.table(m, rv, path)
	case reflect.Slice:
		d.slice(v, rv, path)
	default:
		d.add(path, false, "unsupported field type %s", t) // a schema bug, not the file's
	}
}

// slice stores a TOML array (or array of tables) into rv.
func (d *decoder) slice(v any, rv reflect.Value, path string) {
	var items []any
	switch a := v.(type) {
	case []any:
		items = a
	case []map[string]any:
		items = make([]any, len(a))
		for i, m := range a {
			items[i] = m
		}
	default:
		if rv.Type().Elem().Kind() == reflect.Struct {
			d.add(path, false, "must be an array of tables ([[%s]] blocks), not %s", path, tomlType(v))
		} else {
			d.add(path, false, "must be an array, not %s", tomlType(v))
		}
		return
	}
	out := reflect.MakeSlice(rv.Type(), 0, len(items))
	for i, item := range items {
		el := newElem(rv.Type().Elem())
		d.value(item, el, indexKey(path, i))
		out = reflect.Append(out, el)
	}
	rv.Set(out)
}

// newElem returns a settable zero element of t, with the defaults of an
// array-of-tables entry when t is one, so that absent keys keep them.
func newElem(t reflect.Type) reflect.Value {
	el := reflect.New(t).Elem()
	switch t {
	case sourceType:
		el.Set(reflect.ValueOf(defaultSource()))
	case outputType:
		el.Set(reflect.ValueOf(defaultOutput()))
	}
	return el
}

// tomlType names the TOML type of a decoded value for messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v) // local dates and times
}
