package opml

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/syndic-dev/syndic/config"
)

// ImportResult is what Import made of a list of feeds.
type ImportResult struct {
	// Blocks holds one [[source]] block per added feed, ready for
	// AppendToConfig; "" when nothing was added.
	Blocks string
	Added  []Feed
	// IDs are the source ids given to Added, in the same order.
	IDs []string
	// Skipped lists the feeds not added, in input order, with the reason.
	Skipped []Skip
}

// Skip is a feed Import left out and why.
type Skip struct {
	Feed   Feed
	Reason string
}

// Skip reasons other than an existing source.
const (
	ReasonDuplicate = "duplicate in the OPML file"
	ReasonNotHTTP   = "not an http(s) URL"
)

// Import builds [[source]] blocks for the feeds whose URL existing does
// not already configure. URLs are compared canonically (scheme and host
// case, default port, fragment and trailing slashes do not count); a feed
// already configured, listed twice, or without an absolute http(s) URL is
// skipped with the reason.
//
// Each added feed gets a new unique id: the slug of its title, else of
// its host and path ("www." dropped), ASCII-folded, at most 48 characters,
// with "-2", "-3", ... appended when it clashes with a configured id or one
// generated before it. Its tags are the feed's tags as slugs; those that
// cannot be made valid are left out. Each block starts with a comment
// "# imported from OPML: <title>" and every value is a TOML basic string,
// escaped. existing may be nil.
func Import(existing *config.Config, feeds []Feed) ImportResult {
	return NewSources(existing, feeds, "imported from OPML")
}

// NewSources is Import with the blocks' comment of the caller's choice:
// each block starts with "# " + note + ": <title>".
func NewSources(existing *config.Config, feeds []Feed, note string) ImportResult {
	urls := map[string]string{} // canonical URL -> configured source id
	ids := map[string]bool{}
	if existing != nil {
		for _, s := range existing.Sources {
			ids[s.ID] = true
			if cu, ok := canonicalURL(s.URL); ok {
				urls[cu] = s.ID
			}
		}
	}

	var res ImportResult
	var b strings.Builder
	seen := map[string]bool{}
	for _, f := range feeds {
		raw := strings.TrimSpace(f.URL)
		cu, ok := canonicalURL(raw)
		switch {
		case !ok:
			res.Skipped = append(res.Skipped, Skip{Feed: f, Reason: ReasonNotHTTP})
			continue
		case urls[cu] != "":
			res.Skipped = append(res.Skipped, Skip{Feed: f, Reason: fmt.Sprintf("already configured as source %q", urls[cu])})
			continue
		case seen[cu]:
			res.Skipped = append(res.Skipped, Skip{Feed: f, Reason: ReasonDuplicate})
			continue
		}
		seen[cu] = true

		title := cleanText(f.Title)
		id := uniqueID(baseID(title, raw), ids)
		ids[id] = true
		var tags []string
		for _, t := range f.Tags {
			tags = appendTag(tags, tagSlug(t))
		}

		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		writeBlock(&b, note, id, raw, title, tags)
		res.Added = append(res.Added, Feed{URL: raw, Title: title, SiteURL: strings.TrimSpace(f.SiteURL), Tags: tags})
		res.IDs = append(res.IDs, id)
	}
	res.Blocks = b.String()
	return res
}

// baseID is the id a feed would get without clashes.
func baseID(title, rawURL string) string {
	if id := idSlug(title); id != "" {
		return id
	}
	if u, err := url.Parse(rawURL); err == nil {
		host := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
		if id := idSlug(host + " " + u.Path); id != "" {
			return id
		}
	}
	return "feed"
}

// uniqueID returns base, or base with the smallest suffix "-N" (N >= 2)
// that taken does not hold.
func uniqueID(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for n := 2; ; n++ {
		id := base + "-" + strconv.Itoa(n)
		if !taken[id] {
			return id
		}
	}
}

func writeBlock(b *strings.Builder, note, id, rawURL, title string, tags []string) {
	b.WriteString("# " + note + ": ")
	if title != "" {
		b.WriteString(title)
	} else {
		b.WriteString(cleanText(rawURL))
	}
	b.WriteString("\n[[source]]\n")
	b.WriteString("id    = " + tomlString(id) + "\n")
	b.WriteString("url   = " + tomlString(rawURL) + "\n")
	if title != "" {
		b.WriteString("title = " + tomlString(title) + "\n")
	}
	if len(tags) > 0 {
		q := make([]string, len(tags))
		for i, t := range tags {
			q[i] = tomlString(t)
		}
		b.WriteString("tags  = [" + strings.Join(q, ", ") + "]\n")
	}
}

// tomlString quotes s as a TOML basic string. Besides '"' and '\', TOML
// forbids every control character but tab inside one, DEL included; those
// are escaped. Invalid UTF-8 becomes U+FFFD, since a TOML file must be
// valid UTF-8.
func tomlString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
