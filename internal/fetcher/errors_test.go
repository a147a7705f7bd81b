package fetcher

import (
	"testing"
)

func TestHost(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://Example.ORG/feed", "example.org"},
		{"https://example.org:443/feed", "example.org"},
		{"http://example.org:80/feed", "example.org"},
		{"http://example.org/feed", "example.org"},
		{"http://example.org.:8080/feed", "example.org:8080"},
		{"https://example.org:80/feed", "example.org:80"},
		{"https://user:pw@example.org/feed", "example.org"},
		{"http://127.0.0.1:1234/", "127.0.0.1:1234"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"http://[::1]/", "[::1]"},
		{"http://[::1/", ""},
	}
	for _, tt := range tests {
		if got := Host(tt.in); got != tt.want {
			t.Errorf("Host(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Class: "http_status", StatusCode: 503, URL: "https://example.org/feed.xml", Err: statusError(503, "", false)}
	if got, want := e.Error(), `get "https://example.org/feed.xml": status 503`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
