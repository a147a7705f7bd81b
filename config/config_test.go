package config

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestOutputSources(t *testing.T) {
	c := Default()
	c.Sources = []SourceConfig{
		{ID: "a", Tags: []string{"world"}},
		{ID: "b", Tags: []string{"tech"}},
		{ID: "c", Tags: []string{"world", "tech"}},
		{ID: "d"},
	}
	tests := []struct {
		name string
		o    OutputConfig
		want []string
	}{
		{"by ids in config order", OutputConfig{Sources: []string{"d", "a"}}, []string{"a", "d"}},
		{"by tag", OutputConfig{Tags: []string{"tech"}}, []string{"b", "c"}},
		{"union", OutputConfig{Sources: []string{"d"}, Tags: []string{"world"}}, []string{"a", "c", "d"}},
		{"neither takes every source", OutputConfig{}, []string{"a", "b", "c", "d"}},
		{"no match", OutputConfig{Tags: []string{"sport"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.OutputSources(tt.o); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("OutputSources() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStoragePath(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "x.db")
	tests := []struct {
		name, config, storage, want string
	}{
		{"relative to the config", filepath.Join("etc", "syndic", "feeds.toml"), "syndic.db", filepath.Join("etc", "syndic", "syndic.db")},
		{"config in the working directory", "feeds.toml", "data/s.db", filepath.Join("data", "s.db")},
		{"absolute", "/etc/feeds.toml", abs, abs},
		{"memory", "/etc/feeds.toml", ":memory:", ":memory:"},
		{"uri", "/etc/feeds.toml", "file:x.db?mode=ro", "file:x.db?mode=ro"},
		{"no config file", "", "syndic.db", "syndic.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Path, c.Storage.Path = tt.config, tt.storage
			if got := c.StoragePath(); got != tt.want {
				t.Errorf("StoragePath() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	c := Default()
	if got, want := c.UserAgent("1.2.0"), "syndic/1.2.0 (+https://github.com/syndic-dev/syndic)"; got != want {
		t.Errorf("UserAgent = %q, want %q", got, want)
	}
	c.Fetch.UserAgent = "mybot/1"
	if got, want := c.UserAgent("1.2.0"), "mybot/1"; got != want {
		t.Errorf("UserAgent = %q, want %q", got, want)
	}
}

func TestSourceLookups(t *testing.T) {
	c := Default()
	c.Sources = []SourceConfig{{ID: "a", Schedule: "@hourly"}, {ID: "b"}}
	s, ok := c.Source("a")
	if !ok || s.ID != "a" {
		t.Fatalf("Source(a) = %+v, %v", s, ok)
	}
	if _, ok := c.Source("zz"); ok {
		t.Error("Source(zz) found")
	}
	if got, want := s.ScheduleSpec("*/30 * * * *"), "@hourly"; got != want {
		t.Errorf("ScheduleSpec = %q, want %q", got, want)
	}
	if got, want := c.Sources[1].ScheduleSpec("*/30 * * * *"), "*/30 * * * *"; got != want {
		t.Errorf("ScheduleSpec = %q, want %q", got, want)
	}
	if o, ok := c.Output("all"); !ok || o.Title != "All sources" {
		t.Errorf("Output(all) = %+v, %v", o, ok)
	}
}

func TestCanonicalURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HTTPS://Example.ORG:443/Feed?a=1#x", "https://example.org/Feed?a=1"},
		{"http://example.org:80", "http://example.org/"},
		{"http://example.org:8080/f", "http://example.org:8080/f"},
		{"https://[::1]:443/f", "https://[::1]/f"},
	}
	for _, tt := range tests {
		if got := canonicalURL(tt.in); got != tt.want {
			t.Errorf("canonicalURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
