package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/syndic-dev/syndic/internal/credential"
	"github.com/syndic-dev/syndic/internal/scheduler"
)

// slugRE is the shape of source and output ids and of tags: they appear in
// URLs, file names and log keys.
var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate checks c as a whole and returns every problem, joined. Without
// the source text there are no positions: messages read
// "file: key.path: msg". Parse and Load already validate; Validate is for
// a Config built or changed in code.
func (c *Config) Validate() error {
	return resolve(c.Path, c.validate(), positions{})
}

// checker collects validation problems.
type checker struct {
	problems []problem
}

func (k *checker) add(key, format string, args ...any) {
	k.problems = append(k.problems, problem{key: key, msg: fmt.Sprintf(format, args...)})
}

// addAtKey records a problem with the key itself rather than its value.
func (k *checker) addAtKey(key, format string, args ...any) {
	k.problems = append(k.problems, problem{key: key, msg: fmt.Sprintf(format, args...), atKey: true})
}

func (k *checker) atLeast(key string, v, min int) {
	if v < min {
		k.add(key, "must be at least %d, got %d", min, v)
	}
}

func (k *checker) between(key string, v, min, max int) {
	if v < min || v > max {
		k.add(key, "must be between %d and %d, got %d", min, max, v)
	}
}

func (k *checker) positive(key string, d Duration) {
	if d <= 0 {
		k.add(key, "must be a positive duration, got %s", d)
	}
}

func (k *checker) notNegative(key string, d Duration) {
	if d < 0 {
		k.add(key, "must not be negative, got %s", d)
	}
}

func (k *checker) schedule(key, spec string) {
	if spec == "" {
		k.add(key, "must not be empty")
		return
	}
	if err := scheduler.ValidateSpec(spec); err != nil {
		k.add(key, "%s", err.Error())
	}
}

func (k *checker) oneOf(key, v string, set ...string) {
	for _, s := range set {
		if v == s {
			return
		}
	}
	k.add(key, "%q is not one of %s", v, strings.Join(set, ", "))
}

func (c *Config) validate() []problem {
	k := &checker{}
	c.validateServer(k)
	k.oneOf("log.format", c.Log.Format, "text", "json")
	k.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")

	st := c.Storage
	if st.Path == "" {
		k.add("storage.path", "must not be empty")
	}
	k.atLeast("storage.max_items_per_source", st.MaxItemsPerSource, 1)
	k.notNegative("storage.max_age", st.MaxAge)
	k.schedule("storage.prune_schedule", st.PruneSchedule)
	k.schedule("storage.optimize_schedule", st.OptimizeSchedule)
	k.schedule("storage.checkpoint_schedule", st.CheckpointSchedule)

	f := c.Fetch
	k.schedule("fetch.schedule", f.Schedule)
	k.positive("fetch.timeout", f.Timeout)
	k.positive("fetch.connect_timeout", f.ConnectTimeout)
	k.atLeast("fetch.concurrency", f.Concurrency, 1)
	k.atLeast("fetch.per_host", f.PerHost, 1)
	k.notNegative("fetch.host_interval", f.HostInterval)
	if f.MaxBody <= 0 {
		k.add("fetch.max_body", "must be a positive size, got %s", f.MaxBody)
	}
	k.atLeast("fetch.max_items", f.MaxItems, 1)
	k.between("fetch.max_redirects", f.MaxRedirects, 0, 50)
	if strings.ContainsFunc(f.UserAgent, isControl) {
		k.add("fetch.user_agent", "must not contain control characters")
	}
	k.positive("fetch.max_backoff", f.MaxBackoff)
	k.positive("fetch.default_retry_after", f.DefaultRetryAfter)
	k.notNegative("fetch.startup_spread", f.StartupSpread)

	k.notNegative("dedup.window", c.Dedup.Window)

	c.validateSources(k)
	c.validateOutputs(k)
	return k.problems
}

func (c *Config) validateServer(k *checker) {
	s := c.Server
	if host, port, err := net.SplitHostPort(s.Listen); err != nil {
		k.add("server.listen", "%q is not host:port", s.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		k.add("server.listen", "%q has no valid port", s.Listen)
	} else if strings.ContainsAny(host, " /") {
		k.add("server.listen", "%q has no valid host", s.Listen)
	}
	if !isHTTPURL(s.BaseURL) {
		k.add("server.base_url", "%q is not an absolute http(s) URL", credential.Redact(s.BaseURL))
	}
	k.positive("server.shutdown_timeout", s.ShutdownTimeout)
	k.notNegative("server.cache_max_age", s.CacheMaxAge)
	k.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	k.notNegative("server.read_timeout", s.ReadTimeout)
	k.notNegative("server.write_timeout", s.WriteTimeout)
	k.notNegative("server.idle_timeout", s.IdleTimeout)
	if s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 1<<30 {
		k.add("server.max_header_bytes", "must be between 1B and 1GB, got %s", s.MaxHeaderBytes)
	}
	if s.AdminTokenFile != "" && s.AdminTokenEnv != "" {
		k.add("server.admin_token_env", "set admin_token_file or admin_token_env, not both")
	}
	if s.AdminTokenEnv != "" && (strings.ContainsAny(s.AdminTokenEnv, "= \x00") || strings.ContainsFunc(s.AdminTokenEnv, isControl)) {
		k.add("server.admin_token_env", "%q is not an environment variable name", s.AdminTokenEnv)
	}
	k.notNegative("server.websub_ping_delay", s.WebSubPingDelay)
	hubs := map[string]int{}
	for i, h := range s.WebSubHubs {
		switch {
		case !isHTTPURL(h):
			k.add("server.websub_hubs", "entry %d, %q, is not an absolute http(s) URL", i+1, credential.Redact(h))
		case credential.HasSecret(h):
			k.add("server.websub_hubs", "entry %d, %q, holds a credential, but every output publishes its hubs' URLs", i+1, credential.Redact(h))
		default:
			if j, dup := hubs[h]; dup {
				k.add("server.websub_hubs", "entry %d, %q, repeats entry %d", i+1, h, j+1)
			}
			hubs[h] = i
		}
	}
	for i, t := range s.TrustedProxies {
		if _, ok := parseProxy(t); !ok {
			k.add("server.trusted_proxies", "entry %d, %q, is not an IP address or CIDR prefix (like \"10.0.0.0/8\" or \"::1\")", i+1, t)
		}
	}
}

func (c *Config) validateSources(k *checker) {
	ids := map[string]int{}
	urls := map[string]int{}
	for i, s := range c.Sources {
		p := indexKey("source", i)
		switch {
		case s.ID == "":
			k.add(p+".id", "is required")
		case !slugRE.MatchString(s.ID):
			k.add(p+".id", "%q is not a valid id (lower-case letters, digits, '-' and '_', at most 64, starting with a letter or digit)", s.ID)
		default:
			if j, dup := ids[s.ID]; dup {
				k.add(p+".id", "%q is already the id of source[%d]", s.ID, j+1)
			} else {
				ids[s.ID] = i
			}
		}
		switch {
		case s.URL == "":
			k.add(p+".url", "is required")
		case !isHTTPURL(s.URL):
			k.add(p+".url", "%q is not an absolute http(s) URL", credential.Redact(s.URL))
		default:
			cu := canonicalURL(s.URL)
			if j, dup := urls[cu]; dup {
				k.add(p+".url", "%q is already the URL of source[%d] (%s)", credential.Redact(s.URL), j+1, c.Sources[j].ID)
			} else {
				urls[cu] = i
			}
		}
		validateTags(k, p+".tags", s.Tags)
		if s.Schedule != "" {
			k.schedule(p+".schedule", s.Schedule)
		}
		for _, name := range slices.Sorted(maps.Keys(s.Headers)) {
			value := s.Headers[name]
			hp := joinKey(p+".headers", name)
			if !isToken(name) {
				// The name may be a value pasted in the wrong place; it is
				// printed quoted in the key path only, never the value.
				k.addAtKey(hp, "is not a valid HTTP header name")
			}
			if strings.ContainsFunc(value, isControl) {
				k.add(hp, "value contains a control character")
			}
		}
		k.notNegative(p+".timeout", s.Timeout)
	}
}

func validateTags(k *checker, key string, tags []string) {
	for j, t := range tags {
		if !slugRE.MatchString(t) {
			k.add(indexKey(key, j), "%q is not a valid tag (lower-case letters, digits, '-' and '_', at most 64)", t)
		}
	}
}

func (c *Config) validateOutputs(k *checker) {
	sources := map[string]bool{}
	tags := map[string]bool{}
	for _, s := range c.Sources {
		sources[s.ID] = true
		for _, t := range s.Tags {
			tags[t] = true
		}
	}
	ids := map[string]int{}
	for i, o := range c.Outputs {
		p := indexKey("output", i)
		switch {
		case o.ID == "":
			k.add(p+".id", "is required")
		case !slugRE.MatchString(o.ID):
			k.add(p+".id", "%q is not a valid id (lower-case letters, digits, '-' and '_', at most 64, starting with a letter or digit)", o.ID)
		default:
			if j, dup := ids[o.ID]; dup {
				k.add(p+".id", "%q is already the id of output[%d]", o.ID, j+1)
			} else {
				ids[o.ID] = i
			}
		}
		k.oneOf(p+".mode", o.Mode, ModeHeadlines, ModeArticles)
		for j, id := range o.Sources {
			if !sources[id] {
				k.add(indexKey(p+".sources", j), "no source has id %q", id)
			}
		}
		for j, t := range o.Tags {
			if !tags[t] {
				k.add(indexKey(p+".tags", j), "no source has tag %q", t)
			}
		}
		k.notNegative(p+".max_age", o.MaxAge)
		k.between(p+".limit", o.Limit, 1, 1000)
	}
}

// isHTTPURL reports whether s is an absolute http or https URL with a
// host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

// canonicalURL is the form two source URLs are compared in: scheme and
// host lower-cased, default port and fragment dropped, empty path "/".
// It is deliberately smaller than the dedup package's canonical form (which
// also strips tracking parameters): two feeds that differ in any query
// parameter may well be different feeds.
func canonicalURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment = ""
	u.RawFragment = ""
	if u.Path == "" {
		u.Path = "/"
		u.RawPath = ""
	}
	return u.String()
}

// isToken reports whether s is an HTTP token (RFC 9110), the syntax of a
// header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }
