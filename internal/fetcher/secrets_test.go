package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Secrets in URLs and per-source headers must not surface anywhere a caller
// might log or store: error strings, wrapped causes, returned URLs.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		password    = "pw-SECRET-1"
		headerValue = "token-SECRET-2"
	)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			w.WriteHeader(500)
		case "/429":
			w.WriteHeader(429)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://user:"+password+"@example.org/", http.StatusFound)
		case "/moved":
			http.Redirect(w, r, "/gone", http.StatusMovedPermanently)
		case "/gone":
			w.WriteHeader(404)
		case "/big":
			w.Write(make([]byte, 2048))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/ok-moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		default:
			io.WriteString(w, feedBody)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	withPW := func(hostport, path string) string {
		return "http://user:" + password + "@" + hostport + path
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	header := map[string]string{"Authorization": "Bearer " + headerValue, "X-Key": headerValue}

	tests := []struct {
		name    string
		url     string
		headers map[string]string
		deny    bool
	}{
		{"status 500", withPW(host, "/500"), header, false},
		{"status 429", withPW(host, "/429"), header, false},
		{"status after redirect", withPW(host, "/moved"), header, false},
		{"redirect loop", withPW(host, "/loop"), header, false},
		{"redirect to ftp with password", withPW(host, "/ftp"), header, false},
		{"too large", withPW(host, "/big"), header, false},
		{"timeout", withPW(host, "/slow"), header, false},
		{"connection refused", withPW(closed, "/feed"), header, false},
		{"dns", withPW("secret-host.invalid", "/feed"), header, false},
		{"denied", withPW(host, "/feed"), header, true},
		{"header value with newline", withPW(host, "/feed"), map[string]string{"Authorization": "Bearer " + headerValue + "\n"}, false},
		{"header value with control char", withPW(host, "/feed"), map[string]string{"X-Key": headerValue + "\x00"}, false},
		{"bad escape in password", "http://user:" + password + "%zz@" + host + "/feed", header, false},
		{"space in password", "http://user:" + password + " x@" + host + "/feed", header, false},
		{"bad port", "http://user:" + password + "@" + host + "x/feed", header, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.MaxBody = 1024
			opts.Timeout = 200 * time.Millisecond
			opts.DenyPrivateNetworks = tt.deny
			f := newTestFetcher(t, opts)
			_, err := f.Fetch(context.Background(), Request{URL: tt.url, Headers: tt.headers})
			if err == nil {
				t.Fatal("Fetch succeeded, want an error")
			}
			var texts []string
			for e := err; e != nil; e = errors.Unwrap(e) {
				texts = append(texts, e.Error(), fmt.Sprintf("%+v", e))
			}
			var fe *Error
			if errors.As(err, &fe) {
				texts = append(texts, fe.URL)
			}
			for _, s := range texts {
				if strings.Contains(s, "SECRET") {
					t.Errorf("secret in %q", s)
				}
			}
			t.Logf("%v", err)
		})
	}

	f := newTestFetcher(t, testOptions())
	resp := fetchOK(t, f, Request{URL: withPW(host, "/ok-moved"), Headers: header})
	for _, s := range []string{resp.FinalURL, resp.PermanentRedirect} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "user") {
			t.Errorf("returned URL %q holds the userinfo", s)
		}
	}
	if got, want := resp.PermanentRedirect, srv.URL+"/ok"; got != want {
		t.Errorf("PermanentRedirect = %q, want %q", got, want)
	}
}
