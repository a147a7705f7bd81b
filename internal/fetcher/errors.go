package fetcher

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/model"
)

// Error is every failure of Fetch. Its message names the operation and the
// redacted URL; it never holds a URL password or a per-source header value.
type Error struct {
	Class      string // model.ErrClass*
	StatusCode int    // for model.ErrClassHTTP
	URL        string // the requested URL, redacted
	// RetryAfter is when a 429 or 503 said to come back (Retry-After as
	// seconds or HTTP-date, never before now), else now plus
	// Options.DefaultRetryAfter; zero for other errors.
	RetryAfter time.Time
	Err        error
}

// Error is `get "URL": cause`, the URL redacted.
func (e *Error) Error() string {
	return fmt.Sprintf("get %q: %v", e.URL, e.Err)
}

// Unwrap returns the cause: context.DeadlineExceeded for a timeout,
// context.Canceled when cancelled, a *DeniedError, a *net.DNSError, ...
func (e *Error) Unwrap() error { return e.Err }

// classify turns a transport or body error into a class and a cause whose
// text holds no URL. ctx is the caller's context, rctx the one bounded by
// the request timeout.
func (f *Fetcher) classify(ctx, rctx context.Context, timeout time.Duration, err error) (string, error) {
	// url.Error repeats the URL (with the username); keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		denied *DeniedError
		dnsErr *net.DNSError
		opErr  *net.OpError
		netErr net.Error
	)
	switch {
	case ctx.Err() != nil:
		return model.ErrClassCancelled, fmt.Errorf("cancelled: %w", ctx.Err())
	case rctx.Err() != nil:
		return model.ErrClassTimeout, fmt.Errorf("timeout after %s: %w", timeout, context.DeadlineExceeded)
	case errors.As(err, &denied):
		return model.ErrClassDenied, denied
	case errors.As(err, &dnsErr):
		return model.ErrClassDNS, dnsErr
	case isTLSError(err):
		return model.ErrClassTLS, err
	case strings.Contains(err.Error(), "server response headers exceeded"):
		return model.ErrClassTooLarge, fmt.Errorf("response headers exceed the %s limit", formatBytes(f.opts.MaxHeaderBytes))
	case errors.As(err, &opErr) && opErr.Op == "dial",
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return model.ErrClassConnect, err
	case errors.As(err, &netErr) && netErr.Timeout():
		return model.ErrClassTimeout, err
	}
	return model.ErrClassOther, err
}

func isTLSError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		strings.HasPrefix(err.Error(), "tls: ") ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

func statusError(code int, finalURL string, redirected bool) error {
	if redirected {
		return fmt.Errorf("status %d from %q", code, credential.Redact(finalURL))
	}
	return fmt.Errorf("status %d", code)
}

// parseError describes a URL that does not parse without repeating it: an
// escape error would quote part of a password.
func parseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return errors.New("invalid url: bad percent escape")
	}
	return fmt.Errorf("invalid url: %w", err)
}

// stripUserinfo is u without any userinfo, for URLs handed back to callers
// (a base for resolving links, a redirect to record).
func stripUserinfo(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = nil
	return c.String()
}

// Host returns the key syndic uses for per-host limits and blocks: the
// lower-case host name, with ":port" unless the port is the scheme's
// default (so http and https of one site share a key). It is "" when
// rawURL does not parse.
func Host(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return hostKey(u)
}

func hostKey(u *url.URL) string {
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	port := u.Port()
	scheme := strings.ToLower(u.Scheme)
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return net.JoinHostPort(h, port)
}
