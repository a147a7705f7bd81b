package admin

import (
	"crypto/sha256"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func newTestAPI(t *testing.T, d Deps) (http.Handler, *clock, *logBuffer) {
	t.Helper()
	c := newClock()
	logs := &logBuffer{}
	if d.Store == nil {
		d.Store = newFakeStore()
	}
	if d.Token == nil {
		d.Token = []byte(testToken)
	}
	d.Now = c.Now
	d.Logger = logs.logger()
	return New(d), c, logs
}

func TestDisabledWithoutToken(t *testing.T) {
	for _, token := range [][]byte{nil, {}} {
		h := New(Deps{Store: newFakeStore(), Token: token})
		for _, req := range []request{
			{path: "/api/sources"},
			{path: "/api/sources", token: testToken},
			{path: "/api/items?limit=5"},
			{method: http.MethodPost, path: "/api/reload"},
			{path: "/api/no/such/path"},
		} {
			w := serve(t, h, req)
			wantError(t, w, http.StatusNotFound, "api_disabled")
		}
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		header string // Authorization
		status int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong", "Bearer nope", http.StatusUnauthorized},
		{"prefix of token", "Bearer " + testToken[:5], http.StatusUnauthorized},
		{"token plus more", "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"no scheme", testToken, http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"right", "Bearer " + testToken, http.StatusOK},
		{"scheme case-insensitive", "bearer " + testToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, logs := newTestAPI(t, Deps{})
			r, _ := http.NewRequest(http.MethodGet, "/api/sources", nil)
			r.RemoteAddr = "198.51.100.7:5555"
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := newRecorder(h, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tt.status, w.Body.String())
			}
			if tt.status != http.StatusUnauthorized {
				return
			}
			if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="syndic"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			if e := apiError(t, w); e.Code != "unauthorized" {
				t.Errorf("code = %q, want unauthorized", e.Code)
			}
			log := logs.String()
			if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "remote=198.51.100.7") {
				t.Errorf("log lacks a warning with the remote address:\n%s", log)
			}
			if strings.Contains(log, "nope") || strings.Contains(log, testToken[:5]) {
				t.Errorf("log reveals the presented token:\n%s", log)
			}
		})
	}
}

func TestTokenEqual(t *testing.T) {
	want := sha256.Sum256([]byte(testToken))
	tests := []struct {
		presented string
		ok        bool
	}{
		{testToken, true},
		{"", false},
		{testToken[:len(testToken)-1], false},
		{testToken + " ", false},
		{strings.ToUpper(testToken), false},
	}
	for _, tt := range tests {
		if got := tokenEqual([]byte(tt.presented), want); got != tt.ok {
			t.Errorf("tokenEqual(%q) = %v, want %v", tt.presented, got, tt.ok)
		}
	}
}

// TestTokenEqualIsConstantTime inspects the source: tokenEqual must hash
// the presented token and compare digests with crypto/subtle, and nothing
// else in the package may compare the token.
func TestTokenEqualIsConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	found := false
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "tokenEqual" {
			continue
		}
		found = true
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok {
						calls = append(calls, x.Name+"."+sel.Sel.Name)
					}
				}
			}
			if bin, ok := n.(*ast.BinaryExpr); ok && bin.Op == token.EQL {
				// Only the int result of ConstantTimeCompare may be compared.
				if _, ok := bin.X.(*ast.CallExpr); !ok {
					t.Errorf("tokenEqual compares with == at %s", fset.Position(bin.Pos()))
				}
			}
			return true
		})
	}
	if !found {
		t.Fatal("no func tokenEqual in auth.go")
	}
	joined := strings.Join(calls, " ")
	for _, want := range []string{"sha256.Sum256", "subtle.ConstantTimeCompare"} {
		if !strings.Contains(joined, want) {
			t.Errorf("tokenEqual calls %q, want a call of %s", joined, want)
		}
	}
	for _, bad := range []string{"bytes.Equal", "strings.EqualFold", "hmac.Equal"} {
		if strings.Contains(joined, bad) {
			t.Errorf("tokenEqual calls %s", bad)
		}
	}
}

func TestFailureSlowdown(t *testing.T) {
	h, clk, logs := newTestAPI(t, Deps{})
	const addr = "203.0.113.9:4000"
	wrong := request{path: "/api/sources", token: "guess", remote: addr}
	right := request{path: "/api/sources", token: testToken, remote: addr}

	for i := 1; i < maxFailures; i++ {
		wantError(t, serve(t, h, wrong), http.StatusUnauthorized, "unauthorized")
	}
	// The fifth wrong token is still answered 401, then the pause starts.
	wantError(t, serve(t, h, wrong), http.StatusUnauthorized, "unauthorized")
	for _, req := range []request{wrong, right} {
		w := serve(t, h, req)
		wantError(t, w, http.StatusTooManyRequests, "too_many_failures")
		if got, want := w.Header().Get("Retry-After"), "1"; got != want {
			t.Errorf("Retry-After = %q, want %q", got, want)
		}
	}
	// Another address is not affected.
	if w := serve(t, h, request{path: "/api/sources", token: testToken, remote: "203.0.113.10:4000"}); w.Code != http.StatusOK {
		t.Errorf("other address: status %d, want 200", w.Code)
	}

	// Each further wrong token doubles the pause.
	for _, want := range []string{"2", "4", "8", "16"} {
		waitOut(t, h, clk, wrong)
		wantError(t, serve(t, h, wrong), http.StatusUnauthorized, "unauthorized")
		w := serve(t, h, wrong)
		wantError(t, w, http.StatusTooManyRequests, "too_many_failures")
		if got := w.Header().Get("Retry-After"); got != want {
			t.Errorf("Retry-After = %q, want %q", got, want)
		}
	}

	// The right token after the pause resets the count.
	waitOut(t, h, clk, right)
	if w := serve(t, h, right); w.Code != http.StatusOK {
		t.Fatalf("right token after the pause: status %d, want 200", w.Code)
	}
	for i := 1; i < maxFailures; i++ {
		wantError(t, serve(t, h, wrong), http.StatusUnauthorized, "unauthorized")
	}
	if w := serve(t, h, right); w.Code != http.StatusOK {
		t.Errorf("after a reset, %d wrong tokens blocked the address: status %d", maxFailures-1, w.Code)
	}
	if strings.Contains(logs.String(), "guess") {
		t.Errorf("log reveals a presented token:\n%s", logs.String())
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, remote string
		forwarded    []string // X-Forwarded-For header lines
		want         string
	}{
		{"no proxy", "198.51.100.7:5555", nil, "198.51.100.7"},
		{"untrusted peer's header is ignored", "198.51.100.7:5555", []string{"203.0.113.1"}, "198.51.100.7"},
		{"trusted proxy", "10.0.0.2:80", []string{"203.0.113.1"}, "203.0.113.1"},
		{"trusted proxy over IPv6", "[::1]:80", []string{"2001:db8::7"}, "2001:db8::7"},
		{"trusted proxy without the header", "10.0.0.2:80", nil, "10.0.0.2"},
		{"a forged left part is not believed", "10.0.0.2:80", []string{"192.0.2.66, 203.0.113.1"}, "203.0.113.1"},
		{"a chain of trusted proxies", "10.0.0.2:80", []string{"203.0.113.1, 10.9.9.9", "10.0.0.3"}, "203.0.113.1"},
		{"hops with ports", "10.0.0.2:80", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"IPv4 with a port", "10.0.0.2:80", []string{"203.0.113.1:4711"}, "203.0.113.1"},
		{"mapped IPv4", "10.0.0.2:80", []string{"::ffff:203.0.113.1"}, "203.0.113.1"},
		{"only trusted hops", "10.0.0.2:80", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"junk written by the proxy", "10.0.0.2:80", []string{"203.0.113.1, unknown"}, "unknown"},
		{"empty entries", "10.0.0.2:80", []string{" , 203.0.113.1 ,"}, "203.0.113.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/sources", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.forwarded {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, trusted); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFailureSlowdownBehindProxy: behind a trusted proxy, one client's
// wrong tokens slow down that client, not everyone the proxy forwards;
// without server.trusted_proxies the proxy's address is all there is.
func TestFailureSlowdownBehindProxy(t *testing.T) {
	const proxy = "10.0.0.2:443"
	attacker := request{path: "/api/sources", token: "guess", remote: proxy, forwarded: "203.0.113.66"}
	admin := request{path: "/api/sources", token: testToken, remote: proxy, forwarded: "198.51.100.1"}

	h, _, logs := newTestAPI(t, Deps{TrustedProxies: func() []netip.Prefix {
		return []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}})
	for range maxFailures {
		wantError(t, serve(t, h, attacker), http.StatusUnauthorized, "unauthorized")
	}
	wantError(t, serve(t, h, attacker), http.StatusTooManyRequests, "too_many_failures")
	if w := serve(t, h, admin); w.Code != http.StatusOK {
		t.Errorf("another client behind the proxy: status %d, want 200", w.Code)
	}
	// The attacker cannot escape by forging a left part of the header.
	forged := attacker
	forged.forwarded = "198.51.100.1, 203.0.113.66"
	wantError(t, serve(t, h, forged), http.StatusTooManyRequests, "too_many_failures")
	if !strings.Contains(logs.String(), "remote=203.0.113.66") {
		t.Errorf("log does not name the client behind the proxy:\n%s", logs.String())
	}

	h, _, _ = newTestAPI(t, Deps{})
	for range maxFailures {
		wantError(t, serve(t, h, attacker), http.StatusUnauthorized, "unauthorized")
	}
	wantError(t, serve(t, h, admin), http.StatusTooManyRequests, "too_many_failures")
}

// waitOut advances the clock past the current pause of req's address.
func waitOut(t *testing.T, h http.Handler, clk *clock, req request) {
	t.Helper()
	w := serve(t, h, req)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("expected a pause, got status %d", w.Code)
	}
	var secs int
	fmt.Sscan(w.Header().Get("Retry-After"), &secs)
	clk.Advance(time.Duration(secs) * time.Second)
}

func TestFailureDelayCapAndWindow(t *testing.T) {
	clk := newClock()
	f := newFailures(clk.Now)
	var last time.Duration
	for i := range 40 {
		_, d := f.fail("a")
		if i+1 < maxFailures && d != 0 {
			t.Errorf("failure %d: pause %v before the threshold", i+1, d)
		}
		if d > maxDelay {
			t.Errorf("failure %d: pause %v beyond the cap %v", i+1, d, maxDelay)
		}
		last = d
	}
	if last != maxDelay {
		t.Errorf("pause after 40 failures = %v, want the cap %v", last, maxDelay)
	}
	if _, blocked := f.blocked("a"); !blocked {
		t.Fatal("address not blocked after 40 failures")
	}
	clk.Advance(failWindow)
	if _, blocked := f.blocked("a"); blocked {
		t.Error("address still blocked after the window passed")
	}
	if n, _ := f.fail("a"); n != 1 {
		t.Errorf("failures after the window = %d, want a fresh count of 1", n)
	}
}

func TestFailuresBounded(t *testing.T) {
	clk := newClock()
	f := newFailures(clk.Now)
	for i := range maxTracked + 100 {
		f.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		clk.Advance(time.Millisecond)
	}
	if got := f.size(); got > maxTracked {
		t.Errorf("tracked %d addresses, want at most %d", got, maxTracked)
	}
	// The newest address survives eviction.
	last := fmt.Sprintf("10.0.%d.%d", (maxTracked+99)/256, (maxTracked+99)%256)
	if n, _ := f.fail(last); n != 2 {
		t.Errorf("newest address has %d failures, want 2", n)
	}
}

// FuzzClientAddr: whatever X-Forwarded-For holds, the client address is
// the peer's or one of the header's entries, and only a trusted peer's
// header is read.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.2:80", "203.0.113.1, 10.0.0.3")
	f.Add("198.51.100.7:5555", "203.0.113.1")
	f.Add("[::1]:80", "[2001:db8::1]:4711,unknown")
	f.Add("10.0.0.2", ",,")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, forwarded string) {
		r := httptest.NewRequest(http.MethodGet, "/api/sources", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", forwarded)
		got := clientAddr(r, trusted)
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		if got == host {
			return
		}
		peer, err := netip.ParseAddr(host)
		if err != nil || !inPrefixes(peer.Unmap(), trusted) {
			t.Fatalf("clientAddr(%q, %q) = %q: an untrusted peer's header was read", remote, forwarded, got)
		}
		for hop := range strings.SplitSeq(forwarded, ",") {
			hop = strings.TrimSpace(hop)
			if a, ok := parseHop(hop); hop == got || ok && a.String() == got {
				return
			}
		}
		t.Fatalf("clientAddr(%q, %q) = %q, neither the peer nor an entry", remote, forwarded, got)
	})
}
