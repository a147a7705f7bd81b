package opml

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/syndic-dev/syndic/config"
)

// ErrInvalidResult marks an AppendToConfig refused because the file
// would no longer load. The error also wraps the config errors, so
// config.Errors lists them.
var ErrInvalidResult = errors.New("the result would not be a valid config; file left unchanged")

// ErrChanged marks an AppendToConfig refused because the file changed
// while the new version was being written.
var ErrChanged = errors.New("file changed while appending; nothing written")

// AppendToConfig appends blocks to the config file at path. Every byte
// already in the file stays as it was; the blocks follow after a blank
// line (and with the file's CRLF line endings if it uses them).
//
// The new content is written to a temporary file in the same directory,
// synced, read back and parsed with the config package; only if it loads
// does it replace the file, by rename, with the original file mode. A
// reader therefore sees the old file or the new one, never a mix, and a
// crash leaves at worst a stray temporary file. When path is a symbolic
// link, its target is replaced. Empty blocks leave the file untouched.
func AppendToConfig(path string, blocks string) error {
	if strings.TrimSpace(blocks) == "" {
		return nil
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	info, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	orig, err := os.ReadFile(target)
	if err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	data := appendBlocks(orig, blocks)

	tmp, err := writeTemp(filepath.Dir(target), filepath.Base(target), data, info.Mode().Perm())
	if err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	committed := false
	defer func() {
		if !committed {
			os.Remove(tmp)
		}
	}()

	// Check what is on disk, not what was meant to be written; errors name
	// the real file, whose content it will be.
	written, err := os.ReadFile(tmp)
	if err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	if !bytes.Equal(written, data) {
		return fmt.Errorf("append sources to %s: temporary file %s reads back different", path, tmp)
	}
	if _, err := config.Parse(written, path); err != nil {
		return fmt.Errorf("append sources to %s: %w:\n%w", path, ErrInvalidResult, err)
	}

	// Someone editing the file meanwhile would otherwise lose their edit.
	now, err := os.ReadFile(target)
	if err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	if !bytes.Equal(now, orig) {
		return fmt.Errorf("append sources to %s: %w", path, ErrChanged)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("append sources to %s: %w", path, err)
	}
	committed = true
	// The rename is durable only once the directory is synced. Not every
	// system can sync a directory; the file is in place either way.
	if d, err := os.Open(filepath.Dir(target)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// appendBlocks returns orig followed by blocks, separated by one blank
// line, in orig's line-ending style, ending with a newline.
func appendBlocks(orig []byte, blocks string) []byte {
	nl := "\n"
	if bytes.Contains(orig, []byte("\r\n")) {
		nl = "\r\n"
	}
	blocks = strings.ReplaceAll(blocks, "\r\n", "\n")
	blocks = strings.TrimLeft(blocks, "\n")
	if !strings.HasSuffix(blocks, "\n") {
		blocks += "\n"
	}
	if nl != "\n" {
		blocks = strings.ReplaceAll(blocks, "\n", nl)
	}

	out := make([]byte, 0, len(orig)+len(blocks)+2*len(nl))
	out = append(out, orig...)
	if len(orig) > 0 {
		if !bytes.HasSuffix(orig, []byte("\n")) {
			out = append(out, nl...)
		}
		if !bytes.HasSuffix(out, []byte(nl+nl)) {
			out = append(out, nl...)
		}
	}
	return append(out, blocks...)
}

// writeTemp writes data to a new file in dir, synced and with mode perm,
// and returns its name.
func writeTemp(dir, base string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
