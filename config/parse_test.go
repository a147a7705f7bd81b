package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// src is a valid [[source]] block to prepend where a test needs a source.
const src = `[[source]]
id = "a"
url = "https://a.example/feed"
tags = ["world"]
`

// parseErrors parses doc as feeds.toml and returns the error lines.
func parseErrors(t *testing.T, doc string) []string {
	t.Helper()
	c, err := Parse([]byte(doc), "feeds.toml")
	if err == nil {
		return nil
	}
	if c != nil {
		t.Errorf("Parse returned a config along with an error")
	}
	var lines []string
	for _, e := range Errors(err) {
		lines = append(lines, e.Error())
	}
	if got, want := strings.Join(lines, "\n"), err.Error(); got != want {
		t.Errorf("Errors(err) lines = %q, err.Error() = %q", got, want)
	}
	return lines
}

// TestParseErrors checks each rule's message and its exact position.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"listen not host:port", "[server]\nlisten = \"8080\"\n",
			`feeds.toml:2:10: server.listen: "8080" is not host:port`},
		{"listen bad port", "[server]\nlisten = \"localhost:http\"\n",
			`feeds.toml:2:10: server.listen: "localhost:http" has no valid port`},
		{"base_url relative", "[server]\nbase_url = \"/feeds\"\n",
			`feeds.toml:2:12: server.base_url: "/feeds" is not an absolute http(s) URL`},
		{"admin token twice", "[server]\nadmin_token_file = \"/t\"\nadmin_token_env = \"TOKEN\"\n",
			`feeds.toml:3:19: server.admin_token_env: set admin_token_file or admin_token_env, not both`},
		{"admin token in file", "[server]\nadmin_token = \"s3cret\"\n",
			`feeds.toml:2:1: server.admin_token: tokens are never stored in the config file; use server.admin_token_file or server.admin_token_env`},
		{"trusted proxy not an address", "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.lan\"]\n",
			`feeds.toml:2:19: server.trusted_proxies: entry 2, "proxy.lan", is not an IP address or CIDR prefix (like "10.0.0.0/8" or "::1")`},
		{"websub hub relative", "[server]\nwebsub_hubs = [\"/hub\"]\n",
			`feeds.toml:2:15: server.websub_hubs: entry 1, "/hub", is not an absolute http(s) URL`},
		{"websub hub with a token", "[server]\nwebsub_hubs = [\"https://hub.example/?token=s3cret\"]\n",
			`feeds.toml:2:15: server.websub_hubs: entry 1, "https://hub.example/?token=xxxxx", holds a credential, but every output publishes its hubs' URLs`},
		{"websub hub twice", "[server]\nwebsub_hubs = [\"https://hub.example/\", \"https://hub.example/\"]\n",
			`feeds.toml:2:15: server.websub_hubs: entry 2, "https://hub.example/", repeats entry 1`},
		{"websub delay negative", "[server]\nwebsub_ping_delay = \"-1s\"\n",
			`feeds.toml:2:21: server.websub_ping_delay: invalid duration "-1s": a duration must not carry a sign`},
		{"trusted proxy bad prefix", "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
			`feeds.toml:2:19: server.trusted_proxies: entry 1, "10.0.0.0/33", is not an IP address or CIDR prefix (like "10.0.0.0/8" or "::1")`},
		{"admin token at top", "admin_token = \"s3cret\"\n",
			`feeds.toml:1:1: admin_token: tokens are never stored in the config file; use server.admin_token_file or server.admin_token_env`},
		{"shutdown timeout bad", "[server]\nshutdown_timeout = \"soon\"\n",
			`feeds.toml:2:20: server.shutdown_timeout: invalid duration "soon": expected a number before "soon" (units: ns, us, ms, s, m, h, d, w)`},
		{"max header bytes bad", "[server]\nmax_header_bytes = \"64 furlongs\"\n",
			`feeds.toml:2:20: server.max_header_bytes: invalid size "64 furlongs": unknown unit "furlongs" (B, KB, MB, GB, KiB, MiB, GiB)`},
		{"log format", "[log]\nformat = \"xml\"\n",
			`feeds.toml:2:10: log.format: "xml" is not one of text, json`},
		{"log level", "[log]\nlevel = \"loud\"\n",
			`feeds.toml:2:9: log.level: "loud" is not one of debug, info, warn, error`},
		{"max items per source", "[storage]\nmax_items_per_source = 0\n",
			`feeds.toml:2:24: storage.max_items_per_source: must be at least 1, got 0`},
		{"prune schedule", "[storage]\nprune_schedule = \"@sometimes\"\n",
			`feeds.toml:2:18: storage.prune_schedule: invalid cron spec "@sometimes": unrecognized descriptor: @sometimes`},
		{"concurrency", "[fetch]\nconcurrency = 0\n",
			`feeds.toml:2:15: fetch.concurrency: must be at least 1, got 0`},
		{"per host", "[fetch]\nper_host = -1\n",
			`feeds.toml:2:12: fetch.per_host: must be at least 1, got -1`},
		{"max body zero", "[fetch]\nmax_body = 0\n",
			`feeds.toml:2:12: fetch.max_body: must be a positive size, got 0B`},
		{"max body negative", "[fetch]\nmax_body = -5\n",
			`feeds.toml:2:12: fetch.max_body: size must not be negative`},
		{"max items", "[fetch]\nmax_items = 0\n",
			`feeds.toml:2:13: fetch.max_items: must be at least 1, got 0`},
		{"max redirects", "[fetch]\nmax_redirects = 51\n",
			`feeds.toml:2:17: fetch.max_redirects: must be between 0 and 50, got 51`},
		{"timeout zero", "[fetch]\ntimeout = \"0s\"\n",
			`feeds.toml:2:11: fetch.timeout: must be a positive duration, got 0s`},
		{"wrong type", "[fetch]\nconcurrency = \"16\"\n",
			`feeds.toml:2:15: fetch.concurrency: must be an integer, not a string`},
		{"duration not a string", "[dedup]\nwindow = 48\n",
			`feeds.toml:2:10: dedup.window: must be a string, not an integer`},
		{"table as value", "fetch = 3\n",
			`feeds.toml:1:9: fetch: must be a table, not an integer`},
		{"source id missing", "[[source]]\nurl = \"https://a.example/\"\n",
			`feeds.toml:1:1: source[1].id: is required`},
		{"source id not a slug", "[[source]]\nid = \"BBC News\"\nurl = \"https://a.example/\"\n",
			`feeds.toml:2:6: source[1].id: "BBC News" is not a valid id (lower-case letters, digits, '-' and '_', at most 64, starting with a letter or digit)`},
		{"source url", src + "\n[[source]]\nid = \"b\"\nurl = \"htp://x\"\n",
			`feeds.toml:8:7: source[2].url: "htp://x" is not an absolute http(s) URL`},
		{"source url no host", "[[source]]\nid = \"b\"\nurl = \"https:///feed\"\n",
			`feeds.toml:3:7: source[1].url: "https:///feed" is not an absolute http(s) URL`},
		{"source url password redacted", "[[source]]\nid = \"b\"\nurl = \"ftp://u:pw@x/\"\n",
			`feeds.toml:3:7: source[1].url: "ftp://u:xxxxx@x/" is not an absolute http(s) URL`},
		{"unparsable source url password redacted", "[[source]]\nid = \"b\"\nurl = \"http://u:pw-secret@x/%zz\"\n",
			`feeds.toml:3:7: source[1].url: "http://u:xxxxx@x/%zz" is not an absolute http(s) URL`},
		{"duplicate id", src + "[[source]]\nid = \"a\"\nurl = \"https://b.example/\"\n",
			`feeds.toml:6:6: source[2].id: "a" is already the id of source[1]`},
		{"duplicate url after canonicalizing", src + "[[source]]\nid = \"b\"\nurl = \"HTTPS://A.example:443/feed#top\"\n",
			`feeds.toml:7:7: source[2].url: "HTTPS://A.example:443/feed#top" is already the URL of source[1] (a)`},
		{"source schedule", "[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\nschedule = \"61 * * * *\"\n",
			`feeds.toml:4:12: source[1].schedule: invalid cron spec "61 * * * *": end of range (61) above maximum (59): 61`},
		{"source tag", "[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\ntags = [\"ok\", \"Not OK\"]\n",
			`feeds.toml:4:15: source[1].tags[2]: "Not OK" is not a valid tag (lower-case letters, digits, '-' and '_', at most 64)`},
		{"source regexp", "[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\nexclude = [\n  \"fine\",\n  \"(bad\",\n]\n",
			"feeds.toml:6:3: source[1].exclude[2]: invalid regexp \"(bad\": missing closing ): `(bad`"},
		{"source timeout", "[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\ntimeout = \"-1s\"\n",
			`feeds.toml:4:11: source[1].timeout: invalid duration "-1s": a duration must not carry a sign`},
		{"source enabled type", "[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\nenabled = \"yes\"\n",
			`feeds.toml:4:11: source[1].enabled: must be true or false, not a string`},
		{"output id", src + "[[output]]\nid = \"-x\"\n",
			`feeds.toml:6:6: output[1].id: "-x" is not a valid id (lower-case letters, digits, '-' and '_', at most 64, starting with a letter or digit)`},
		{"output id duplicate", src + "[[output]]\nid = \"x\"\n[[output]]\nid = \"x\"\n",
			`feeds.toml:8:6: output[2].id: "x" is already the id of output[1]`},
		{"output mode", src + "[[output]]\nid = \"x\"\nmode = \"poems\"\n",
			`feeds.toml:7:8: output[1].mode: "poems" is not one of headlines, articles`},
		{"output unknown source", src + "[[output]]\nid = \"x\"\nsources = [\"a\", \"zz\"]\n",
			`feeds.toml:7:17: output[1].sources[2]: no source has id "zz"`},
		{"output unmatched tag", src + "[[output]]\nid = \"x\"\ntags = [\"sport\"]\n",
			`feeds.toml:7:9: output[1].tags[1]: no source has tag "sport"`},
		{"output limit", src + "[[output]]\nid = \"x\"\nlimit = 1001\n",
			`feeds.toml:7:9: output[1].limit: must be between 1 and 1000, got 1001`},
		{"output max_age", src + "[[output]]\nid = \"x\"\nmax_age = \"1y\"\n",
			`feeds.toml:7:11: output[1].max_age: invalid duration "1y": unknown unit "y" (units: ns, us, ms, s, m, h, d, w)`},
		{"sources as a table", "[source]\nid = \"x\"\n",
			`feeds.toml:1:1: source: must be an array of tables ([[source]] blocks), not a table`},
		{"syntax error", "[server]\nlisten = \"127.0.0.1:8080\"\nbase_url = http://x/\n",
			`feeds.toml:3:12: expected value but found "http" instead`},
		{"unterminated string", "[log]\nlevel = \"info\n",
			`feeds.toml:2:14: strings cannot contain newlines`},
		{"duplicate key", "[log]\nlevel = \"info\"\nlevel = \"debug\"\n",
			`feeds.toml:3:1: Key 'log.level' has already been defined.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrors(t, tt.doc)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("Parse errors =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), tt.want)
			}
		})
	}
}

// TestUnknownKeys checks that strictness covers every level and points at
// the key.
func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"top level", "titel = \"x\"\n", `feeds.toml:1:1: titel: unknown key "titel"`},
		{"unknown table", "\n[metrics]\nport = 9\n", `feeds.toml:2:1: metrics: unknown key "metrics"`},
		{"in a table", "[fetch]\nconcurrency = 2\n  per_hots = 1\n", `feeds.toml:3:3: fetch.per_hots: unknown key "per_hots"`},
		{"dotted", "fetch.retries = 2\n", `feeds.toml:1:7: fetch.retries: unknown key "retries"`},
		{"in the second source", src + "[[source]]\nid = \"b\"\nurl = \"https://b.example/\"\ncolour = \"blue\"\n",
			`feeds.toml:8:1: source[2].colour: unknown key "colour"`},
		{"in an inline table", "server = { listen = \"127.0.0.1:1\", lissen = \"x\" }\n",
			`feeds.toml:1:36: server.lissen: unknown key "lissen"`},
		{"in an array of inline tables", "source = [\n  { id = \"a\", url = \"https://a.example/\" },\n  { id = \"b\", url = \"https://b.example/\", x = 1 },\n]\n",
			`feeds.toml:3:43: source[2].x: unknown key "x"`},
		{"sub-table of a source", src + "[source.options]\nx = 1\n",
			`feeds.toml:5:1: source[1].options: unknown key "options"`},
		{"quoted", "[log]\n\"my key\" = 1\n", `feeds.toml:2:1: log."my key": unknown key "my key"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrors(t, tt.doc)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("Parse errors =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), tt.want)
			}
		})
	}
}

func TestParseManyErrors(t *testing.T) {
	_, err := Load("testdata/many_errors.toml")
	var got []string
	for _, e := range Errors(err) {
		got = append(got, e.Error())
	}
	want := []string{
		`testdata/many_errors.toml:4:12: server.listen: "localhost" is not host:port`,
		`testdata/many_errors.toml:5:12: server.base_url: "ftp://example.org" is not an absolute http(s) URL`,
		`testdata/many_errors.toml:8:9: log.level: "loud" is not one of debug, info, warn, error`,
		`testdata/many_errors.toml:11:15: fetch.concurrency: must be at least 1, got 0`,
		`testdata/many_errors.toml:12:15: fetch.max_body: invalid size "10 parsecs": unknown unit "parsecs" (B, KB, MB, GB, KiB, MiB, GiB)`,
		`testdata/many_errors.toml:15:7: source[1].id: "Bad ID" is not a valid id (lower-case letters, digits, '-' and '_', at most 64, starting with a letter or digit)`,
		`testdata/many_errors.toml:16:7: source[1].url: "htp://x" is not an absolute http(s) URL`,
		`testdata/many_errors.toml:21:12: source[2].schedule: invalid cron spec "every tuesday": expected exactly 5 fields, found 2: [every tuesday]`,
		"testdata/many_errors.toml:22:13: source[2].include[1]: invalid regexp \"(unclosed\": missing closing ): `(unclosed`",
		`testdata/many_errors.toml:23:1: source[2].colour: unknown key "colour"`,
		`testdata/many_errors.toml:27:11: output[1].mode: "poems" is not one of headlines, articles`,
		`testdata/many_errors.toml:28:12: output[1].sources[1]: no source has id "missing"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Load errors:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestPositionsTrickySyntax(t *testing.T) {
	data, err := os.ReadFile("testdata/tricky_syntax.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data, "tricky.toml"); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	idx := indexPositions(data)
	tests := []struct {
		key       string
		atKey     bool
		line, col int
	}{
		{"log", true, 4, 1},
		{"log.format", true, 4, 7},
		{"log.format", false, 4, 16},
		{"server.listen", false, 5, 21},
		{"server.base_url", true, 5, 39},
		{"source[1]", true, 7, 1},
		{"source[1].title", false, 10, 9},
		{"source[1].tags[2]", false, 16, 3},
		{"source[2]", true, 19, 1},
		{"source[2].url", false, 21, 7},
		{"source[2].headers", true, 23, 1},
		{"source[2].headers.X-Api-Key", true, 24, 1},
		{"source[2].nothing", false, 19, 1}, // falls back to the block
		{"output[1].tags[1]", false, 28, 9},
		{"nowhere", false, 0, 0},
	}
	for _, tt := range tests {
		line, col := idx.lookup(tt.key, tt.atKey)
		if line != tt.line || col != tt.col {
			t.Errorf("lookup(%q, %v) = %d:%d, want %d:%d", tt.key, tt.atKey, line, col, tt.line, tt.col)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Load("testdata/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = "testdata/minimal.toml"
	want.Sources = []SourceConfig{{ID: "example", URL: "https://example.org/feed.xml", Enabled: true}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(minimal) =\n%+v\nwant\n%+v", c, want)
	}
	if got, want := c.Outputs[0], (OutputConfig{ID: "all", Title: "All sources", Mode: "headlines", Limit: 50, ShowSourceURLs: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("implicit output = %+v, want %+v", got, want)
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Server.Listen, "127.0.0.1:8080"},
		{"base_url", c.Server.BaseURL, "http://localhost:8080/"},
		{"shutdown_timeout", c.Server.ShutdownTimeout.String(), "30s"},
		{"cache_max_age", c.Server.CacheMaxAge.String(), "5m"},
		{"read_header_timeout", c.Server.ReadHeaderTimeout.String(), "10s"},
		{"read_timeout", c.Server.ReadTimeout.String(), "30s"},
		{"write_timeout", c.Server.WriteTimeout.String(), "1m"},
		{"idle_timeout", c.Server.IdleTimeout.String(), "2m"},
		{"max_header_bytes", c.Server.MaxHeaderBytes.String(), "64KB"},
		{"publish_opml", c.Server.PublishOPML, false},
		{"trusted_proxies", len(c.Server.TrustedProxies), 0},
		{"websub_hubs", len(c.Server.WebSubHubs), 0},
		{"websub_ping_delay", c.Server.WebSubPingDelay.String(), "10s"},
		{"log.format", c.Log.Format, "text"},
		{"log.level", c.Log.Level, "info"},
		{"storage.path", c.Storage.Path, "syndic.db"},
		{"max_items_per_source", c.Storage.MaxItemsPerSource, 1000},
		{"storage.max_age", c.Storage.MaxAge.String(), "90d"},
		{"prune_schedule", c.Storage.PruneSchedule, "@every 1h"},
		{"optimize_schedule", c.Storage.OptimizeSchedule, "@every 24h"},
		{"checkpoint_schedule", c.Storage.CheckpointSchedule, "@every 10m"},
		{"fetch.schedule", c.Fetch.Schedule, "*/30 * * * *"},
		{"fetch.timeout", c.Fetch.Timeout.String(), "30s"},
		{"connect_timeout", c.Fetch.ConnectTimeout.String(), "10s"},
		{"concurrency", c.Fetch.Concurrency, 16},
		{"per_host", c.Fetch.PerHost, 2},
		{"host_interval", c.Fetch.HostInterval.String(), "1s"},
		{"max_body", c.Fetch.MaxBody, Size(10 << 20)},
		{"max_items", c.Fetch.MaxItems, 5000},
		{"max_redirects", c.Fetch.MaxRedirects, 10},
		{"user_agent", c.Fetch.UserAgent, ""},
		{"respect_cache_headers", c.Fetch.RespectCacheHeaders, true},
		{"max_backoff", c.Fetch.MaxBackoff.String(), "1d"},
		{"default_retry_after", c.Fetch.DefaultRetryAfter.String(), "10m"},
		{"deny_private_networks", c.Fetch.DenyPrivateNetworks, false},
		{"dedup.window", time.Duration(c.Dedup.Window), 48 * time.Hour},
		{"outputs", len(c.Outputs), 1},
	}
	for _, tt := range checks {
		if tt.got != tt.want {
			t.Errorf("Default() %s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestArrayEntryDefaults(t *testing.T) {
	c, err := Parse([]byte(src+`
[[source]]
id = "b"
url = "https://b.example/"
enabled = false

[[output]]
id = "x"

[[output]]
id = "y"
title = "Why"
show_source_urls = false
limit = 10
mode = "articles"
`), "feeds.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sources[0].Enabled || c.Sources[1].Enabled {
		t.Errorf("enabled = %v, %v; want true (absent), false", c.Sources[0].Enabled, c.Sources[1].Enabled)
	}
	x, y := c.Outputs[0], c.Outputs[1]
	if x.Title != "x" || x.Mode != ModeHeadlines || x.Limit != 50 || !x.ShowSourceURLs {
		t.Errorf("output x = %+v, want title x, headlines, limit 50, show_source_urls", x)
	}
	if y.Title != "Why" || y.Mode != ModeArticles || y.Limit != 10 || y.ShowSourceURLs {
		t.Errorf("output y = %+v, want the values set", y)
	}
	if len(c.Outputs) != 2 {
		t.Errorf("outputs = %d, want 2 (no implicit all)", len(c.Outputs))
	}
	if got := c.EnabledSources(); len(got) != 1 || got[0].ID != "a" {
		t.Errorf("EnabledSources() = %+v, want only a", got)
	}
}

func TestBaseURLNormalized(t *testing.T) {
	c, err := Parse([]byte("[server]\nbase_url = \"https://news.example/feeds\"\n"), "feeds.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Server.BaseURL, "https://news.example/feeds/"; got != want {
		t.Errorf("base_url = %q, want %q", got, want)
	}
}

// TestHeaderValuesNeverPrinted sets header problems whose values are
// secrets and checks no message reveals them.
func TestHeaderValuesNeverPrinted(t *testing.T) {
	doc := `[[source]]
id = "a"
url = "https://a.example/"
headers = { "Bad Name" = "s3cret-one", Authorization = "Bearer s3cret-two\u0000", X = 7 }
`
	got := parseErrors(t, doc)
	want := []string{
		`feeds.toml:4:13: source[1].headers."Bad Name": is not a valid HTTP header name`,
		`feeds.toml:4:56: source[1].headers.Authorization: value contains a control character`,
		`feeds.toml:4:87: source[1].headers.X: must be a string, not an integer`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	for _, line := range got {
		if strings.Contains(line, "s3cret") {
			t.Errorf("error reveals a header value: %s", line)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Load(missing) error = %v, want it to start with the file name", err)
	}
}

func TestValidateWithoutPositions(t *testing.T) {
	c := Default()
	c.Path = "feeds.toml"
	c.Fetch.Concurrency = 0
	c.Sources = append(c.Sources, SourceConfig{ID: "a", URL: "htp://x", Enabled: true})
	err := c.Validate()
	want := "feeds.toml: fetch.concurrency: must be at least 1, got 0\n" +
		`feeds.toml: source[1].url: "htp://x" is not an absolute http(s) URL`
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want\n%s", err, want)
	}
}

func TestExampleFile(t *testing.T) {
	c, err := Load("../feeds.example.toml")
	if err != nil {
		t.Fatalf("Load(feeds.example.toml):\n%v", err)
	}
	if got, want := len(c.Sources), 8; got != want {
		t.Errorf("sources = %d, want %d", got, want)
	}
	if got, want := len(c.EnabledSources()), 7; got != want {
		t.Errorf("enabled sources = %d, want %d", got, want)
	}
	if got, want := len(c.Outputs), 3; got != want {
		t.Errorf("outputs = %d, want %d", got, want)
	}
	// The example shows the defaults: they must be the real ones.
	d := Default()
	if !reflect.DeepEqual(c.Server, d.Server) || c.Log != d.Log || c.Storage != d.Storage || c.Fetch != d.Fetch || c.Dedup != d.Dedup {
		t.Errorf("example tables differ from Default():\n%+v\n%+v", c, d)
	}
	if got, want := c.OutputSources(c.Outputs[0]), []string{"bbc-world", "npr-news", "guardian-world", "aljazeera"}; !reflect.DeepEqual(got, want) {
		t.Errorf("world output sources = %v, want %v", got, want)
	}
	if got, want := c.StoragePath(), filepath.Join("..", "syndic.db"); got != want {
		t.Errorf("StoragePath() = %q, want %q", got, want)
	}
}

// TestScannerCompletes checks that the position scanner reads every
// shipped file to the end; a file it gave up on would lose positions.
func TestScannerCompletes(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.toml")
	files = append(files, "../feeds.example.toml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		s := &scanner{b: data, spans: map[string]span{}, arrays: map[string]int{}}
		s.document()
		if s.failed || s.i < len(data) {
			t.Errorf("%s: scanner stopped at byte %d of %d", name, s.i, len(data))
		}
	}
}

func TestTrustedProxyPrefixes(t *testing.T) {
	s := ServerConfig{TrustedProxies: []string{"127.0.0.1", " 10.1.2.3/8 ", "::1", "fd00::/8", "::ffff:192.168.0.0/112", "::ffff:172.16.0.1", "bad"}}
	var got []string
	for _, p := range s.TrustedProxyPrefixes() {
		got = append(got, p.String())
	}
	want := []string{"127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8", "192.168.0.0/16", "172.16.0.1/32"}
	if !slices.Equal(got, want) {
		t.Errorf("TrustedProxyPrefixes() = %q, want %q", got, want)
	}
}
