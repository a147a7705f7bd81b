package opml

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syndic-dev/syndic/config"
)

// A config whose every byte must survive: comments, odd spacing, a
// trailing comment and no final newline.
const commentedConfig = "# syndic config — hand edited\n\n[server]\nlisten   =   \"127.0.0.1:9090\"   # odd spacing kept\n\n[[source]]\nid  = \"bbc-world\"   # the first\nurl = 'https://feeds.bbci.co.uk/news/world/rss.xml'\n# trailing comment, no newline"

func writeConfig(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feeds.toml")
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	// WriteFile is subject to the umask; set the mode exactly.
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkNoTempFiles fails when anything but the named files is left in dir.
func checkNoTempFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("directory holds %q, want %q", names, want)
	}
}

func TestAppendToConfigKeepsContent(t *testing.T) {
	tests := []struct {
		name, orig, sep string
	}{
		{"no final newline", commentedConfig, "\n\n"},
		{"final newline", commentedConfig + "\n", "\n"},
		{"final blank line", commentedConfig + "\n\n", ""},
		{"empty file", "", ""},
		{"crlf", strings.ReplaceAll(commentedConfig, "\n", "\r\n") + "\r\n", "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.orig, 0o640)
			existing, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			res := Import(existing, []Feed{
				{URL: "https://go.dev/blog/feed.atom", Title: `The "Go" Blog`, Tags: []string{"tech"}},
				{URL: "https://feeds.bbci.co.uk/news/world/rss.xml/", Title: "dup"},
			})
			if err := AppendToConfig(path, res.Blocks); err != nil {
				t.Fatalf("AppendToConfig: %v", err)
			}
			got := readFile(t, path)
			blocks := res.Blocks
			if strings.Contains(tt.orig, "\r\n") {
				blocks = strings.ReplaceAll(blocks, "\n", "\r\n")
			}
			if want := tt.orig + tt.sep + blocks; got != want {
				t.Errorf("file =\n%q\nwant\n%q", got, want)
			}
			c, err := config.Load(path)
			if err != nil {
				t.Fatalf("config.Load after append: %v", err)
			}
			if s, ok := c.Source("the-go-blog"); !ok || s.Title != `The "Go" Blog` {
				t.Errorf("imported source = %+v, %v", s, ok)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info.Mode().Perm(), os.FileMode(0o640); got != want {
				t.Errorf("mode = %v, want %v", got, want)
			}
			checkNoTempFiles(t, filepath.Dir(path), "feeds.toml")
		})
	}
}

// A reader holding the file open while the sources are appended keeps
// reading the old file whole: the new one is put in place by rename, not
// written over the old one.
func TestAppendToConfigReplacesByRename(t *testing.T) {
	path := writeConfig(t, commentedConfig, 0o600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := Import(nil, []Feed{{URL: "https://n.example/feed", Title: "N"}})
	if err := AppendToConfig(path, res.Blocks); err != nil {
		t.Fatal(err)
	}
	old, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != commentedConfig {
		t.Errorf("open reader saw %q, want the old content", old)
	}
	if !strings.HasSuffix(readFile(t, path), res.Blocks) {
		t.Errorf("file does not end with the blocks")
	}
}

func TestAppendToConfigRejectsInvalid(t *testing.T) {
	tests := []struct {
		name, orig, blocks, wantKey string
	}{
		{"duplicate id", commentedConfig, "[[source]]\nid = \"bbc-world\"\nurl = \"https://other.example/feed\"\n", "source[2].id"},
		{"bad tag", commentedConfig, "[[source]]\nid = \"x\"\nurl = \"https://x.example/feed\"\ntags = [\"Not A Slug\"]\n", "source[2].tags[1]"},
		{"toml syntax", commentedConfig, "[[source]\nid = \"x\"\n", ""},
		{"already invalid", "[fetch]\nconcurrency = 0\n", "[[source]]\nid = \"x\"\nurl = \"https://x.example/feed\"\n", "fetch.concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.orig, 0o644)
			err := AppendToConfig(path, tt.blocks)
			if !errors.Is(err, ErrInvalidResult) {
				t.Fatalf("AppendToConfig = %v, want ErrInvalidResult", err)
			}
			errs := config.Errors(err)
			if len(errs) == 0 {
				t.Fatalf("no config errors inside %v", err)
			}
			if errs[0].File != path || errs[0].Line == 0 {
				t.Errorf("config error %q does not place the problem in %s", errs[0], path)
			}
			if tt.wantKey != "" && errs[0].Key != tt.wantKey {
				t.Errorf("config error key = %q, want %q", errs[0].Key, tt.wantKey)
			}
			if got := readFile(t, path); got != tt.orig {
				t.Errorf("file changed to %q", got)
			}
			checkNoTempFiles(t, filepath.Dir(path), "feeds.toml")
		})
	}
}

func TestAppendToConfigSymlink(t *testing.T) {
	target := writeConfig(t, commentedConfig, 0o644)
	link := filepath.Join(t.TempDir(), "link.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	res := Import(nil, []Feed{{URL: "https://n.example/feed", Title: "N"}})
	if err := AppendToConfig(link, res.Blocks); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link is no longer a symlink (%v)", err)
	}
	if got := readFile(t, target); !strings.HasPrefix(got, commentedConfig) || !strings.HasSuffix(got, res.Blocks) {
		t.Errorf("target = %q, want old content then the blocks", got)
	}
}

func TestAppendToConfigNothingOrMissing(t *testing.T) {
	path := writeConfig(t, commentedConfig, 0o644)
	if err := AppendToConfig(path, " \n"); err != nil {
		t.Errorf("AppendToConfig(empty) = %v", err)
	}
	if got := readFile(t, path); got != commentedConfig {
		t.Errorf("empty blocks changed the file to %q", got)
	}
	missing := filepath.Join(t.TempDir(), "nope.toml")
	err := AppendToConfig(missing, "[[source]]\n")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("AppendToConfig(missing) = %v, want a not-exist error naming the file", err)
	}
}

func TestAppendBlocks(t *testing.T) {
	tests := []struct{ orig, blocks, want string }{
		{"", "a\n", "a\n"},
		{"x", "a", "x\n\na\n"},
		{"x\n", "\n\na\n", "x\n\na\n"},
		{"x\n\n\n", "a\n", "x\n\n\na\n"},
		{"x\r\ny", "a\nb\n", "x\r\ny\r\n\r\na\r\nb\r\n"},
	}
	for _, tt := range tests {
		if got := string(appendBlocks([]byte(tt.orig), tt.blocks)); got != tt.want {
			t.Errorf("appendBlocks(%q, %q) = %q, want %q", tt.orig, tt.blocks, got, tt.want)
		}
	}
}
