package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limits of the wrong-token slowdown.
const (
	// maxFailures wrong tokens from one address start the slowdown.
	maxFailures = 5
	// failWindow after an address's last wrong token, its record is
	// forgotten.
	failWindow = 15 * time.Minute
	// firstDelay is the pause after the maxFailures-th wrong token; each
	// further one doubles it, up to maxDelay.
	firstDelay = time.Second
	maxDelay   = 5 * time.Minute
	// maxTracked bounds the memory a flood of addresses can take.
	maxTracked = 4096
)

// tokenEqual reports whether the presented token matches the digest of
// the configured one. Both sides are SHA-256 digests, so the constant-time
// comparison never sees inputs of different lengths and the token's length
// does not leak through timing either.
func tokenEqual(presented []byte, want [sha256.Size]byte) bool {
	got := sha256.Sum256(presented)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// bearerToken extracts the token of an "Authorization: Bearer TOKEN"
// header; the scheme is case-insensitive (RFC 7235).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// clientAddr is the address failures are counted against and logged: the
// peer's IP without the port, which changes with every connection. When
// the peer is a trusted proxy (server.trusted_proxies), it is the address
// that proxy reported instead: X-Forwarded-For is read from its right end,
// skipping trusted proxies, and the first other address is the client.
// Addresses left of it were written by the client and are not believed.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !inPrefixes(peer.Unmap(), trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := host
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		addr, ok := parseHop(hop)
		if !ok {
			// Written by a trusted proxy, but not an address: count it
			// as it is rather than believe what lies left of it.
			return hop
		}
		client = addr.String()
		if !inPrefixes(addr, trusted) {
			return client
		}
	}
	return client
}

// clientAddr is clientAddr with the current trusted proxies.
func (a *api) clientAddr(r *http.Request) string {
	var trusted []netip.Prefix
	if a.d.TrustedProxies != nil {
		trusted = a.d.TrustedProxies()
	}
	return clientAddr(r, trusted)
}

// parseHop reads one X-Forwarded-For entry: an IP address, possibly with a
// port ("203.0.113.7:4711", "[2001:db8::1]:4711").
func parseHop(hop string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(hop); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func inPrefixes(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// authenticate answers every request itself unless it carries the token:
// 404 when the API is disabled, 429 while the address is slowed down, 401
// without the right token.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.enabled {
			writeError(w, http.StatusNotFound, "api_disabled",
				"the admin API is disabled: set server.admin_token_file or server.admin_token_env")
			return
		}
		addr := a.clientAddr(r)
		// Checked before the token: while slowed down, even a right guess
		// must not be confirmed, or the pause would not slow guessing.
		if wait, blocked := a.failures.blocked(addr); blocked {
			setRetryAfter(w, wait)
			writeError(w, http.StatusTooManyRequests, "too_many_failures",
				"too many failed authentication attempts from this address; retry later")
			return
		}
		token, ok := bearerToken(r)
		if !ok {
			a.log.Warn("admin auth failed", "remote", addr, "reason", "missing token", "path", r.URL.Path)
			unauthorized(w, "missing bearer token")
			return
		}
		if !tokenEqual([]byte(token), a.digest) {
			n, wait := a.failures.fail(addr)
			a.log.Warn("admin auth failed", "remote", addr, "reason", "wrong token",
				"failures", n, "path", r.URL.Path)
			if wait > 0 {
				a.log.Warn("admin auth slowed down", "remote", addr, "failures", n,
					"retry_after_s", int64(wait.Round(time.Second)/time.Second))
			}
			unauthorized(w, "invalid bearer token")
			return
		}
		a.failures.succeed(addr)
		next.ServeHTTP(w, r)
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="syndic"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", msg)
}

// failures counts wrong tokens per address and slows down the addresses
// that keep guessing.
type failures struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*failRecord
}

type failRecord struct {
	count int
	last  time.Time // last wrong token
	until time.Time // requests before this are refused
}

func newFailures(now func() time.Time) *failures {
	return &failures{now: now, m: make(map[string]*failRecord)}
}

// expired reports whether rec's window has passed.
func (rec *failRecord) expired(now time.Time) bool {
	return now.Sub(rec.last) >= failWindow
}

// blocked reports whether addr must wait, and how long.
func (f *failures) blocked(addr string) (time.Duration, bool) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.m[addr]
	if rec == nil {
		return 0, false
	}
	if rec.expired(now) {
		delete(f.m, addr)
		return 0, false
	}
	if now.Before(rec.until) {
		return rec.until.Sub(now), true
	}
	return 0, false
}

// fail records a wrong token from addr. It returns the failures in the
// current window and the pause now imposed (0 below the threshold).
func (f *failures) fail(addr string) (int, time.Duration) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.m[addr]
	if rec == nil || rec.expired(now) {
		if rec == nil && len(f.m) >= maxTracked {
			f.evict(now)
		}
		rec = &failRecord{}
		f.m[addr] = rec
	}
	rec.count++
	rec.last = now
	if rec.count < maxFailures {
		return rec.count, 0
	}
	d := maxDelay
	if shift := rec.count - maxFailures; shift < 20 {
		d = min(firstDelay<<shift, maxDelay)
	}
	rec.until = now.Add(d)
	return rec.count, d
}

// succeed forgets addr's failures: the right token ends the slowdown.
func (f *failures) succeed(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, addr)
}

// evict makes room for one record: expired ones go first, else the one
// whose last failure is oldest. Called with f.mu held.
func (f *failures) evict(now time.Time) {
	var (
		oldest     string
		oldestTime time.Time
		found      bool
	)
	for addr, rec := range f.m {
		if rec.expired(now) {
			delete(f.m, addr)
			continue
		}
		if !found || rec.last.Before(oldestTime) {
			oldest, oldestTime, found = addr, rec.last, true
		}
	}
	if found && len(f.m) >= maxTracked {
		delete(f.m, oldest)
	}
}

// size is the number of tracked addresses (for tests).
func (f *failures) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}
