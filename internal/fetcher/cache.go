package fetcher

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// maxServerDelay bounds what a server can ask for, so that arithmetic on
// absurd values cannot overflow; callers apply their own, smaller cap.
const maxServerDelay = 365 * 24 * time.Hour

// retryAfter reads a Retry-After value: delay seconds or an HTTP-date,
// never before now. Anything else gets the default delay.
func retryAfter(v string, now time.Time, def time.Duration) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return now.Add(def)
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return now.Add(def)
		}
		return now.Add(clampDelay(secs))
	}
	if t, err := http.ParseTime(v); err == nil {
		if t.Before(now) {
			return now
		}
		if t.Sub(now) > maxServerDelay {
			return now.Add(maxServerDelay)
		}
		return t
	}
	return now.Add(def)
}

func clampDelay(secs int64) time.Duration {
	if secs > int64(maxServerDelay/time.Second) {
		return maxServerDelay
	}
	return time.Duration(secs) * time.Second
}

// cacheUntil is how long a private cache may keep the response: max-age
// (less Age) wins over Expires, which is taken relative to Date to cancel
// clock skew. s-maxage is for shared caches and ignored. Zero when absent,
// forbidden or already stale.
func cacheUntil(h http.Header, now time.Time) (time.Time, string) {
	maxAge := int64(-1)
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache", "no-store":
				return time.Time{}, ""
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
				if err == nil && n >= 0 && maxAge < 0 {
					maxAge = n
				}
			}
		}
	}
	if maxAge >= 0 {
		var age int64
		if a, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && a > 0 {
			age = a
		}
		if maxAge <= age {
			return time.Time{}, ""
		}
		return now.Add(clampDelay(maxAge - age)), model.DeferCacheControl
	}
	v := h.Get("Expires")
	if v == "" {
		return time.Time{}, ""
	}
	exp, err := http.ParseTime(v)
	if err != nil {
		// An invalid Expires (often "0" or "-1") means already expired.
		return time.Time{}, ""
	}
	until := exp
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		if d := exp.Sub(date); d > maxServerDelay {
			until = now.Add(maxServerDelay)
		} else {
			until = now.Add(d)
		}
	}
	if !until.After(now) {
		return time.Time{}, ""
	}
	return until, model.DeferExpires
}
