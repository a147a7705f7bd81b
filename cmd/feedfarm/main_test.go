package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesConfigAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // serve, then shut down at once
	config := filepath.Join(t.TempDir(), "farm.toml")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-n", "4", "-m", "2", "-listen", "127.0.0.1:0", "-config", config}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	base := strings.TrimSpace(stdout.String())
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("stdout %q, want the base URL", base)
	}
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "[[source]]"); got != 4 {
		t.Errorf("config has %d [[source]] blocks, want 4", got)
	}
	if !strings.Contains(string(data), base+"/s/3") {
		t.Errorf("config does not point at %s/s/3", base)
	}
}

func TestRunRejectsArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-n", "2", "extra"}, &stdout, &stderr); err == nil {
		t.Error("run with a stray argument: no error")
	}
}
