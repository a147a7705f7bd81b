package fetcher

import (
	"net/http"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

func TestRetryAfter(t *testing.T) {
	const def = 10 * time.Minute
	tests := []struct {
		name, value string
		want        time.Time
	}{
		{"empty", "", testNow.Add(def)},
		{"seconds", "90", testNow.Add(90 * time.Second)},
		{"zero seconds", "0", testNow},
		{"spaces", " 30 ", testNow.Add(30 * time.Second)},
		{"negative", "-5", testNow.Add(def)},
		{"huge", "99999999999999999", testNow.Add(maxServerDelay)},
		{"overflowing", "999999999999999999999999", testNow.Add(def)},
		{"http-date", testNow.Add(2 * time.Hour).Format(http.TimeFormat), testNow.Add(2 * time.Hour)},
		{"rfc850 date", testNow.Add(time.Hour).Format(time.RFC850), testNow.Add(time.Hour)},
		{"past date", "Thu, 01 Jan 1970 00:00:00 GMT", testNow},
		{"far future date", "Fri, 01 Jan 9999 00:00:00 GMT", testNow.Add(maxServerDelay)},
		{"garbage", "tomorrow", testNow.Add(def)},
		{"fraction", "1.5", testNow.Add(def)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.value, testNow, def); !got.Equal(tt.want) {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestCacheUntil(t *testing.T) {
	date := testNow.Add(-time.Hour).Format(http.TimeFormat) // server clock an hour behind
	tests := []struct {
		name       string
		header     http.Header
		want       time.Time
		wantReason string
	}{
		{"none", http.Header{}, time.Time{}, ""},
		{"max-age", http.Header{"Cache-Control": {"max-age=600"}}, testNow.Add(10 * time.Minute), model.DeferCacheControl},
		{"max-age quoted", http.Header{"Cache-Control": {`public, max-age="60"`}}, testNow.Add(time.Minute), model.DeferCacheControl},
		{"max-age upper case", http.Header{"Cache-Control": {"Max-Age=60"}}, testNow.Add(time.Minute), model.DeferCacheControl},
		{"max-age less age", http.Header{"Cache-Control": {"max-age=600"}, "Age": {"100"}}, testNow.Add(500 * time.Second), model.DeferCacheControl},
		{"max-age used up", http.Header{"Cache-Control": {"max-age=60"}, "Age": {"100"}}, time.Time{}, ""},
		{"max-age zero", http.Header{"Cache-Control": {"max-age=0"}}, time.Time{}, ""},
		{"s-maxage ignored", http.Header{"Cache-Control": {"s-maxage=600"}}, time.Time{}, ""},
		{"s-maxage with max-age", http.Header{"Cache-Control": {"s-maxage=600, max-age=60"}}, testNow.Add(time.Minute), model.DeferCacheControl},
		{"no-cache", http.Header{"Cache-Control": {"max-age=600, no-cache"}}, time.Time{}, ""},
		{"no-store", http.Header{"Cache-Control": {"no-store"}, "Expires": {testNow.Add(time.Hour).Format(http.TimeFormat)}}, time.Time{}, ""},
		{"two header lines", http.Header{"Cache-Control": {"public", "max-age=60"}}, testNow.Add(time.Minute), model.DeferCacheControl},
		{"bad max-age falls back to expires", http.Header{"Cache-Control": {"max-age=soon"}, "Expires": {testNow.Add(time.Hour).Format(http.TimeFormat)}}, testNow.Add(time.Hour), model.DeferExpires},
		{"max-age wins over expires", http.Header{"Cache-Control": {"max-age=60"}, "Expires": {testNow.Add(time.Hour).Format(http.TimeFormat)}}, testNow.Add(time.Minute), model.DeferCacheControl},
		{"expires", http.Header{"Expires": {testNow.Add(time.Hour).Format(http.TimeFormat)}}, testNow.Add(time.Hour), model.DeferExpires},
		{"expires relative to date", http.Header{"Date": {date}, "Expires": {testNow.Format(http.TimeFormat)}}, testNow.Add(time.Hour), model.DeferExpires},
		{"expires in the past", http.Header{"Expires": {testNow.Add(-time.Hour).Format(http.TimeFormat)}}, time.Time{}, ""},
		{"expires zero", http.Header{"Expires": {"0"}}, time.Time{}, ""},
		{"huge max-age", http.Header{"Cache-Control": {"max-age=9999999999999"}}, testNow.Add(maxServerDelay), model.DeferCacheControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := cacheUntil(tt.header, testNow)
			if !got.Equal(tt.want) || reason != tt.wantReason {
				t.Errorf("cacheUntil(%v) = %v %q, want %v %q", tt.header, got, reason, tt.want, tt.wantReason)
			}
		})
	}
}
