package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written the way operators think about feed
// retention and polling: Go syntax ("90m", "1h30m", "500ms") plus days "d"
// and weeks "w" ("90d", "1w2d", "1d12h"). The empty string is zero, which
// lets a key be written as "" to mean "not set". Negative durations are
// refused because no setting here has a meaning for them.
type Duration time.Duration

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// ParseDuration parses a duration in the syntax Duration accepts.
func ParseDuration(s string) (Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("invalid duration %q: a duration must not carry a sign", s)
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || (rest[i] >= '0' && rest[i] <= '9')) {
			i++
		}
		num := rest[:i]
		if num == "" || num == "." {
			return 0, fmt.Errorf("invalid duration %q: expected a number before %q (units: ns, us, ms, s, m, h, d, w)", s, rest)
		}
		j := i
		for j < len(rest) && !(rest[j] == '.' || (rest[j] >= '0' && rest[j] <= '9')) {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		var part time.Duration
		switch unit {
		case "d", "w":
			scale := day
			if unit == "w" {
				scale = week
			}
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: bad number %q", s, num)
			}
			v := f * float64(scale)
			if v >= math.MaxInt64 {
				return 0, fmt.Errorf("invalid duration %q: too large", s)
			}
			part = time.Duration(v)
		case "":
			return 0, fmt.Errorf("invalid duration %q: missing unit after %q (units: ns, us, ms, s, m, h, d, w)", s, num)
		default:
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				if strings.Contains(err.Error(), "unknown unit") {
					return 0, fmt.Errorf("invalid duration %q: unknown unit %q (units: ns, us, ms, s, m, h, d, w)", s, unit)
				}
				return 0, fmt.Errorf("invalid duration %q: too large or malformed", s)
			}
			part = d
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("invalid duration %q: too large", s)
		}
		total += part
	}
	return Duration(total), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with the compact form of
// String, so a written config reads back to the same value.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String formats d compactly with days as the largest unit: "90d", "1d12h",
// "1h30m", "15m", "0s". Sub-second remainders use Go's notation ("1.5s").
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		if v == math.MinInt64 {
			return time.Duration(v).String()
		}
		v = -v
	}
	for _, u := range []struct {
		size time.Duration
		name string
	}{{day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := v / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			v -= n * u.size
		}
	}
	switch {
	case v == 0:
	case v%time.Second == 0:
		b.WriteString(strconv.FormatInt(int64(v/time.Second), 10))
		b.WriteString("s")
	default:
		b.WriteString(v.String())
	}
	return b.String()
}

// Size is a byte count written as a plain integer or with a unit: B, KB,
// MB, GB (powers of 1024, as memory and body limits are usually meant) or
// the explicit KiB, MiB, GiB. Units are case-insensitive; "10MB" is
// 10485760 bytes.
type Size int64

var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"k":   1 << 10,
	"kb":  1 << 10,
	"kib": 1 << 10,
	"m":   1 << 20,
	"mb":  1 << 20,
	"mib": 1 << 20,
	"g":   1 << 30,
	"gb":  1 << 30,
	"gib": 1 << 30,
}

// ParseSize parses a size in the syntax Size accepts.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] == '.' || (t[i] >= '0' && t[i] <= '9')) {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: expected a number with an optional unit (B, KB, MB, GB)", s)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (B, KB, MB, GB, KiB, MiB, GiB)", s, strings.TrimSpace(t[i:]))
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("invalid size %q: too large", s)
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: bad number %q", s, num)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(v), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String formats s with the largest unit that divides it exactly: "10MB",
// "64KB", "1000B".
func (s Size) String() string {
	n := int64(s)
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GB"}, {1 << 20, "MB"}, {1 << 10, "KB"}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Regexp is a regular expression (Go RE2 syntax) compiled while the config
// loads, so a bad pattern is reported with its position instead of failing
// later in a fetch.
type Regexp struct {
	*regexp.Regexp
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Regexp) UnmarshalText(text []byte) error {
	re, err := regexp.Compile(string(text))
	if err != nil {
		return fmt.Errorf("invalid regexp %q: %s", string(text), strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	r.Regexp = re
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r Regexp) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// String returns the source text of the expression ("" when unset).
func (r Regexp) String() string {
	if r.Regexp == nil {
		return ""
	}
	return r.Regexp.String()
}

// Regexps returns the compiled expressions of rs, skipping unset ones.
func Regexps(rs []Regexp) []*regexp.Regexp {
	if len(rs) == 0 {
		return nil
	}
	out := make([]*regexp.Regexp, 0, len(rs))
	for _, r := range rs {
		if r.Regexp != nil {
			out = append(out, r.Regexp)
		}
	}
	return out
}
