package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that it returns a
// config or an error but not both, and that every message starts with the
// file name.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	seeds = append(seeds, "../feeds.example.toml")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.toml")
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one", c, err)
		}
		if err == nil {
			return
		}
		for _, e := range Errors(err) {
			if !strings.HasPrefix(e.Error(), "fuzz.toml:") {
				t.Errorf("error does not start with the file name: %q", e.Error())
			}
		}
		if len(Errors(err)) == 0 {
			t.Errorf("error holds no *Error: %v", err)
		}
	})
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile("../feeds.example.toml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse(data, "feeds.example.toml"); err != nil {
			b.Fatal(err)
		}
	}
}
