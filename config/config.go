// Package config is syndic's configuration schema: the typed structs a TOML
// file decodes into, their defaults, strict loading and validation.
//
// Loading is strict and complete. An unknown key, a value of the wrong type,
// a duration, size or regular expression that does not parse and every
// failed validation rule are collected and returned together (errors.Join
// of *Error, in file order), each naming the file, line, column and key
// path:
//
//	feeds.toml:14:7: source[2].url: "htp://x" is not an absolute http(s) URL
//
// Key paths count array entries from 1, the way an operator counts blocks:
// source[1] is the first [[source]] block in the file, output[2] the second
// [[output]], and source[1].include[2] the second pattern of that list.
//
// Durations accept Go syntax plus days and weeks ("90d", "1w2d", "1d12h",
// "15m"); sizes accept a plain integer or B, KB, MB, GB (powers of 1024;
// KiB, MiB, GiB are synonyms). Secrets never live in the file: a key named
// admin_token is refused, and header values are never printed in errors.
package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Config is one loaded configuration file. Packages other than the command
// wiring receive the parts they need, never the whole Config.
type Config struct {
	// Path is the file as given to Load or Parse ("" for Default()).
	Path    string         `toml:"-"`
	Server  ServerConfig   `toml:"server"`
	Log     LogConfig      `toml:"log"`
	Storage StorageConfig  `toml:"storage"`
	Fetch   FetchConfig    `toml:"fetch"`
	Dedup   DedupConfig    `toml:"dedup"`
	Sources []SourceConfig `toml:"source"`
	Outputs []OutputConfig `toml:"output"`
}

// ServerConfig is the [server] table: the HTTP listener publishing outputs.
type ServerConfig struct {
	Listen string `toml:"listen"`
	// BaseURL is the public address of the server, used for self links in
	// published feeds. Parse normalizes it to end with "/".
	BaseURL           string   `toml:"base_url"`
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`
	CacheMaxAge       Duration `toml:"cache_max_age"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	MaxHeaderBytes    Size     `toml:"max_header_bytes"`
	// AdminTokenFile and AdminTokenEnv say where the admin API token is
	// read from; either enables /api. The token itself is never in the file.
	AdminTokenFile string `toml:"admin_token_file"`
	AdminTokenEnv  string `toml:"admin_token_env"`
	PublishOPML    bool   `toml:"publish_opml"`
	// TrustedProxies are the addresses and CIDR prefixes of reverse
	// proxies whose X-Forwarded-For header names the client (see
	// TrustedProxyPrefixes).
	TrustedProxies []string `toml:"trusted_proxies"`
	// WebSubHubs are the WebSub hubs the outputs advertise and that serve
	// pings when an output changes; empty: no WebSub.
	WebSubHubs []string `toml:"websub_hubs"`
	// WebSubPingDelay gathers changes before the hubs are pinged.
	WebSubPingDelay Duration `toml:"websub_ping_delay"`
}

// TrustedProxyPrefixes is TrustedProxies parsed: a bare address is a
// prefix of its full length, and an IPv4-mapped IPv6 address its IPv4
// form. Entries that do not parse are left out; Validate reports them.
func (s ServerConfig) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, t := range s.TrustedProxies {
		if p, ok := parseProxy(t); ok {
			out = append(out, p)
		}
	}
	return out
}

func parseProxy(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// LogConfig is the [log] table.
type LogConfig struct {
	Format string `toml:"format"` // "text" or "json"
	Level  string `toml:"level"`  // "debug", "info", "warn" or "error"
}

// StorageConfig is the [storage] table: the SQLite database and retention.
type StorageConfig struct {
	// Path is the database file, relative to the config file's directory
	// (see Config.StoragePath), or ":memory:".
	Path              string   `toml:"path"`
	MaxItemsPerSource int      `toml:"max_items_per_source"`
	MaxAge            Duration `toml:"max_age"` // 0 keeps items regardless of age
	PruneSchedule     string   `toml:"prune_schedule"`
	OptimizeSchedule  string   `toml:"optimize_schedule"`
	// CheckpointSchedule is when the WAL is checkpointed.
	CheckpointSchedule string `toml:"checkpoint_schedule"`
}

// FetchConfig is the [fetch] table: how and how often feeds are fetched.
type FetchConfig struct {
	Schedule       string   `toml:"schedule"` // default cron spec of every source
	Timeout        Duration `toml:"timeout"`  // total per request
	ConnectTimeout Duration `toml:"connect_timeout"`
	Concurrency    int      `toml:"concurrency"`
	PerHost        int      `toml:"per_host"`      // concurrent requests per host
	HostInterval   Duration `toml:"host_interval"` // pause between requests to one host
	MaxBody        Size     `toml:"max_body"`      // after decompression too
	MaxItems       int      `toml:"max_items"`     // items read per feed document
	MaxRedirects   int      `toml:"max_redirects"`
	// UserAgent overrides the default; see Config.UserAgent.
	UserAgent           string `toml:"user_agent"`
	RespectCacheHeaders bool   `toml:"respect_cache_headers"`
	// MaxBackoff caps error backoff and any deferral a server asks for.
	MaxBackoff Duration `toml:"max_backoff"`
	// DefaultRetryAfter is the deferral after a 429 or 503 that carries no
	// Retry-After header.
	DefaultRetryAfter   Duration `toml:"default_retry_after"`
	DenyPrivateNetworks bool     `toml:"deny_private_networks"`
	// StartupSpread is the window over which `serve` staggers sources
	// that are overdue when it starts.
	StartupSpread Duration `toml:"startup_spread"`
}

// DedupConfig is the [dedup] table.
type DedupConfig struct {
	// Window is how far back cross-source story matching looks.
	Window Duration `toml:"window"`
}

// SourceConfig is one [[source]] block: a feed to fetch.
type SourceConfig struct {
	ID       string   `toml:"id"`
	URL      string   `toml:"url"`
	Title    string   `toml:"title"` // overrides the feed's own title
	Tags     []string `toml:"tags"`
	Schedule string   `toml:"schedule"` // "" uses fetch.schedule; see ScheduleSpec
	// Enabled is true unless the block says enabled = false.
	Enabled bool `toml:"enabled"`
	// Headers are sent with every request for this feed. Values may be
	// credentials: they are never logged or printed.
	Headers map[string]string `toml:"headers"`
	Include []Regexp          `toml:"include"` // keep only items matching one of these
	Exclude []Regexp          `toml:"exclude"` // drop items matching any of these
	Timeout Duration          `toml:"timeout"` // 0 uses fetch.timeout
}

// OutputConfig is one [[output]] block: a published feed.
type OutputConfig struct {
	ID          string `toml:"id"`
	Title       string `toml:"title"` // defaults to ID
	Description string `toml:"description"`
	Mode        string `toml:"mode"` // "headlines" or "articles"
	// Sources and Tags select sources (their union); with neither the
	// output takes every source. See Config.OutputSources.
	Sources []string `toml:"sources"`
	Tags    []string `toml:"tags"`
	Include []Regexp `toml:"include"`
	Exclude []Regexp `toml:"exclude"`
	MaxAge  Duration `toml:"max_age"` // 0: no age limit
	Limit   int      `toml:"limit"`   // entries per page
	Curated bool     `toml:"curated"` // only featured items
	// ShowSourceURLs is true unless the block says show_source_urls = false.
	ShowSourceURLs bool `toml:"show_source_urls"`
}

// Output modes.
const (
	ModeHeadlines = "headlines"
	ModeArticles  = "articles"
)

// DefaultOutputID is the id of the output added when a file has no
// [[output]] block.
const DefaultOutputID = "all"

// Default returns a configuration holding every default and no sources.
// Its only output is the implicit "all".
func Default() *Config {
	return &Config{
		Server: ServerConfig{
			Listen:            "127.0.0.1:8080",
			BaseURL:           "http://localhost:8080/",
			ShutdownTimeout:   Duration(30 * time.Second),
			CacheMaxAge:       Duration(5 * time.Minute),
			ReadHeaderTimeout: Duration(10 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(60 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			MaxHeaderBytes:    64 << 10,
			WebSubPingDelay:   Duration(10 * time.Second),
		},
		Log: LogConfig{Format: "text", Level: "info"},
		Storage: StorageConfig{
			Path:               "syndic.db",
			MaxItemsPerSource:  1000,
			MaxAge:             Duration(90 * day),
			PruneSchedule:      "@every 1h",
			OptimizeSchedule:   "@every 24h",
			CheckpointSchedule: "@every 10m",
		},
		Fetch: FetchConfig{
			Schedule:            "*/30 * * * *",
			Timeout:             Duration(30 * time.Second),
			ConnectTimeout:      Duration(10 * time.Second),
			Concurrency:         16,
			PerHost:             2,
			HostInterval:        Duration(time.Second),
			MaxBody:             10 << 20,
			MaxItems:            5000,
			MaxRedirects:        10,
			RespectCacheHeaders: true,
			MaxBackoff:          Duration(24 * time.Hour),
			DefaultRetryAfter:   Duration(10 * time.Minute),
			StartupSpread:       Duration(time.Minute),
		},
		Dedup:   DedupConfig{Window: Duration(48 * time.Hour)},
		Outputs: []OutputConfig{defaultAllOutput()},
	}
}

// defaultSource is what a [[source]] block starts from before its keys
// are applied, so absent keys keep their defaults.
func defaultSource() SourceConfig {
	return SourceConfig{Enabled: true}
}

// defaultOutput is what an [[output]] block starts from.
func defaultOutput() OutputConfig {
	return OutputConfig{Mode: ModeHeadlines, Limit: 50, ShowSourceURLs: true}
}

func defaultAllOutput() OutputConfig {
	o := defaultOutput()
	o.ID = DefaultOutputID
	o.Title = "All sources"
	return o
}

// Load reads and parses the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read config: " + errText(err), err: err}
	}
	return Parse(data, path)
}

// Source returns the source with the given id.
func (c *Config) Source(id string) (SourceConfig, bool) {
	for _, s := range c.Sources {
		if s.ID == id {
			return s, true
		}
	}
	return SourceConfig{}, false
}

// Output returns the output with the given id.
func (c *Config) Output(id string) (OutputConfig, bool) {
	for _, o := range c.Outputs {
		if o.ID == id {
			return o, true
		}
	}
	return OutputConfig{}, false
}

// EnabledSources returns the sources not disabled, in config order.
func (c *Config) EnabledSources() []SourceConfig {
	var out []SourceConfig
	for _, s := range c.Sources {
		if s.Enabled {
			out = append(out, s)
		}
	}
	return out
}

// OutputSources returns the ids of the sources output o selects, in config
// order: those named in o.Sources plus those carrying one of o.Tags. An
// output naming neither selects every configured source. Disabled sources
// are included: their stored items stay publishable.
func (c *Config) OutputSources(o OutputConfig) []string {
	all := len(o.Sources) == 0 && len(o.Tags) == 0
	var ids []string
	for _, s := range c.Sources {
		if all || slices.Contains(o.Sources, s.ID) || hasAnyTag(s.Tags, o.Tags) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func hasAnyTag(have, want []string) bool {
	for _, t := range want {
		if slices.Contains(have, t) {
			return true
		}
	}
	return false
}

// StoragePath returns storage.path resolved against the directory of the
// config file, so that the database does not move with the working
// directory. Absolute paths, ":memory:" and "file:" URIs are returned as
// written.
func (c *Config) StoragePath() string {
	p := c.Storage.Path
	if p == "" || p == ":memory:" || filepath.IsAbs(p) || strings.HasPrefix(p, "file:") || c.Path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.Path), p)
}

// UserAgent returns fetch.user_agent, or syndic's own User-Agent naming
// version and where to learn about the bot.
func (c *Config) UserAgent(version string) string {
	if c.Fetch.UserAgent != "" {
		return c.Fetch.UserAgent
	}
	if version == "" {
		version = "dev"
	}
	return "syndic/" + version + " (+https://github.com/syndic-dev/syndic)"
}

// ScheduleSpec returns the source's own cron spec, or def (normally
// fetch.schedule) when it has none.
func (s SourceConfig) ScheduleSpec(def string) string {
	if s.Schedule != "" {
		return s.Schedule
	}
	return def
}
