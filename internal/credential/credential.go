// Package credential finds the secrets a feed URL can carry, so that they
// are masked before the URL is logged or shown and left out before it is
// published.
//
// A private feed carries its credentials in one of two places: the
// userinfo's password (https://user:pass@host/feed) or a query parameter
// (https://host/feed?token=..., ?api_key=..., ?private_token=..., the
// X-Amz-Signature of a presigned URL). Redact masks both with "xxxxx";
// Public drops both. A secret that is part of the path
// (https://host/feeds/SECRET.rss) looks like any other path and is kept:
// such a URL is best kept out of shown and published fields entirely
// (show_source_urls = false, publish_opml = false).
package credential

import (
	"net/url"
	"strings"
)

// Mask replaces every secret value in a redacted URL.
const Mask = "xxxxx"

// Redact returns raw with the userinfo's password and the values of secret
// query parameters (see SecretParam) replaced by Mask. Everything else is
// kept byte for byte, including the order and encoding of the other
// parameters, so the result still tells which feed and which request it
// was. A URL that does not parse is redacted by its text too: it is the
// one most likely to end up in an error message.
func Redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); !ok {
			return redactQueryText(raw)
		}
	}
	return redactQueryText(redactUserinfoText(raw))
}

// Public returns raw fit to publish: without userinfo and without secret
// query parameters, or "" when raw does not parse (or does not print back
// as the same URL). The other parameters keep their order and encoding.
func Public(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = dropSecretParams(u.RawQuery)
		u.ForceQuery = false
	}
	out := u.String()
	// A URL without a host whose path starts with "//" does not print back
	// as it read it ("//@//0@" prints as "//0@", a user "0").
	if v, err := url.Parse(out); err != nil || v.User != nil || v.Host != u.Host {
		return ""
	}
	return out
}

// HasSecret reports whether raw carries a password or a secret query
// parameter (as far as it parses).
func HasSecret(raw string) bool {
	return Redact(raw) != raw
}

// secretNames are query parameter names, lower case with "-" and "." as
// "_", that carry a credential wherever they appear: API keys, tokens,
// passwords, session ids and request signatures.
var secretNames = map[string]bool{
	"key": true, "apikey": true, "api_key": true, "appkey": true, "app_key": true,
	"token": true, "auth": true, "authorization": true,
	"password": true, "passwd": true, "pass": true, "pwd": true,
	"secret": true, "sig": true, "signature": true,
	"session": true, "sessionid": true, "session_id": true, "sid": true,
	"hash":   true, // FreshRSS's user query feeds
	"jwt":    true,
	"ticket": true,
}

// secretParts mark a name as secret when they appear anywhere in it:
// access_token, x_amz_security_token, client_secret, x_amz_credential.
var secretParts = []string{"token", "secret", "passw", "apikey", "api_key", "signature", "credential"}

// SecretParam reports whether a query parameter of this name carries a
// credential: a name of secretNames (key, token, auth, password, sig, ...),
// a name containing token, secret, passw, apikey, api_key, signature or
// credential, or a name ending in _key (access_key, license_key). Case,
// "-" and "." do not matter. The list errs on the side of masking: a
// masked harmless value costs less than a leaked key.
func SecretParam(name string) bool {
	if name == "" {
		return false
	}
	n := strings.ToLower(name)
	n = strings.NewReplacer("-", "_", ".", "_").Replace(n)
	if secretNames[n] {
		return true
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return strings.HasSuffix(n, "_key")
}

// paramName decodes the name of one raw query parameter ("name=value",
// "name"). A name that does not decode is judged as written.
func paramName(param string) string {
	name, _, _ := strings.Cut(param, "=")
	if dec, err := url.QueryUnescape(name); err == nil {
		return dec
	}
	return name
}

// redactQuery masks the values of secret parameters in a raw query
// string, keeping everything else as it is.
func redactQuery(q string) string {
	if q == "" {
		return q
	}
	params := strings.Split(q, "&")
	changed := false
	for i, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || value == "" || value == Mask || !SecretParam(paramName(p)) {
			continue
		}
		params[i] = name + "=" + Mask
		changed = true
	}
	if !changed {
		return q
	}
	return strings.Join(params, "&")
}

// dropSecretParams removes the secret parameters from a raw query string,
// and empty ones with them when it removes any.
func dropSecretParams(q string) string {
	params := strings.Split(q, "&")
	kept := params[:0]
	for _, p := range params {
		if p != "" && !SecretParam(paramName(p)) {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(params) {
		return q
	}
	return strings.Join(kept, "&")
}

// redactQueryText masks secret parameters in the query of a URL's text:
// between the first "?" and the fragment, which starts at the first "#",
// as url.Parse reads them.
func redactQueryText(s string) string {
	end := len(s)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		end = i
	}
	q := strings.IndexByte(s[:end], '?')
	if q < 0 {
		return s
	}
	red := redactQuery(s[q+1 : end])
	if red == s[q+1:end] {
		return s
	}
	return s[:q+1] + red + s[end:]
}

// redactText masks what looks like the password of the authority of s,
// between the first ":" after "//" and the last "@" before the path, and
// the secret parameters of its query.
func redactText(s string) string {
	return redactQueryText(redactUserinfoText(s))
}

func redactUserinfoText(s string) string {
	start := strings.Index(s, "//")
	if start < 0 {
		return s
	}
	start += 2
	end := len(s)
	if i := strings.IndexAny(s[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(s[start:end], "@")
	if at < 0 {
		return s
	}
	at += start
	colon := strings.Index(s[start:at], ":")
	if colon < 0 {
		return s
	}
	colon += start
	return s[:colon+1] + Mask + s[at:]
}
