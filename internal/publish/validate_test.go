package publish

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// Validation helpers: Go checks of every element the specs require, which
// run everywhere, plus the RELAX NG and JSON Schema checks when the schema
// files (shared/specs beside the repository) and a validator are present.

// specsDir finds shared/specs by walking up from the working directory to
// the directory that holds the repository.
func specsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		cand := filepath.Join(dir, "shared", "specs")
		if _, err := os.Stat(filepath.Join(cand, "rfc4287.rng")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// wellFormed decodes every token of an XML document.
func wellFormed(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "")
}

type xAtomLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
	Type string `xml:"type,attr"`
}

type xAtomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

type xAtomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Authors []string    `xml:"author>name"`
	Links   []xAtomLink `xml:"link"`
	Entries []struct {
		ID         string      `xml:"id"`
		Title      string      `xml:"title"`
		Updated    string      `xml:"updated"`
		Published  string      `xml:"published"`
		Authors    []string    `xml:"author>name"`
		Links      []xAtomLink `xml:"link"`
		Content    *xAtomText  `xml:"content"`
		Summary    *xAtomText  `xml:"summary"`
		Categories []struct {
			Term *string `xml:"term,attr"`
			Text string  `xml:",chardata"`
		} `xml:"category"`
		Source *struct {
			Title string      `xml:"title"`
			Links []xAtomLink `xml:"link"`
		} `xml:"source"`
	} `xml:"entry"`
}

func linkRel(links []xAtomLink, rel string) string {
	for _, l := range links {
		if l.Rel == rel || rel == "alternate" && l.Rel == "" {
			return l.Href
		}
	}
	return ""
}

// checkAtom verifies what RFC 4287 requires beyond the schema, and parses
// the document.
func checkAtom(t *testing.T, body []byte) *xAtomFeed {
	t.Helper()
	if err := wellFormed(body); err != nil {
		t.Fatalf("atom not well-formed: %v", err)
	}
	var f xAtomFeed
	if err := xml.Unmarshal(body, &f); err != nil {
		t.Fatalf("decode atom: %v", err)
	}
	if !absoluteURI(f.ID) {
		t.Errorf("feed id %q is not an absolute URI", f.ID)
	}
	if f.Title == "" {
		t.Error("feed title empty")
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Errorf("feed updated: %v", err)
	}
	if self := linkRel(f.Links, "self"); !absoluteURI(self) {
		t.Errorf("feed self link %q not absolute", self)
	}
	seen := map[string]bool{}
	for i, e := range f.Entries {
		if !absoluteURI(e.ID) || seen[e.ID] {
			t.Errorf("entry %d id %q: not an absolute URI or repeated", i, e.ID)
		}
		seen[e.ID] = true
		for _, d := range []string{e.Updated, e.Published} {
			if _, err := time.Parse(time.RFC3339, d); err != nil {
				t.Errorf("entry %d date: %v", i, err)
			}
		}
		if len(e.Authors) == 0 && len(f.Authors) == 0 {
			t.Errorf("entry %d has no author and neither has the feed", i)
		}
		if linkRel(e.Links, "alternate") == "" && e.Content == nil {
			t.Errorf("entry %d has neither an alternate link nor content", i)
		}
		for _, c := range e.Categories {
			if c.Term == nil || *c.Term == "" || c.Text != "" {
				t.Errorf("entry %d category without term attribute or with text", i)
			}
		}
	}
	return &f
}

// validateAtomSchema checks the document against RFC 4287's RELAX NG
// schema with jing, or xmllint when jing is missing.
func validateAtomSchema(t *testing.T, body []byte) {
	t.Helper()
	dir := specsDir(t)
	if dir == "" {
		t.Skip("shared/specs/rfc4287.rng not found beside the repository; RELAX NG check skipped")
	}
	file := filepath.Join(t.TempDir(), "feed.atom")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if jing, err := exec.LookPath("jing"); err == nil {
		cmd = exec.Command(jing, "-c", filepath.Join(dir, "rfc4287.rnc"), file)
	} else if xmllint, err := exec.LookPath("xmllint"); err == nil {
		cmd = exec.Command(xmllint, "--noout", "--relaxng", filepath.Join(dir, "rfc4287.rng"), file)
	} else {
		t.Skip("neither jing nor xmllint installed (apt-get install jing libxml2-utils); RELAX NG check skipped")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("RFC 4287 RELAX NG validation failed: %v\n%s\n%s", err, out, body)
	}
}

type xRSS struct {
	XMLName xml.Name `xml:"rss"`
	Version string   `xml:"version,attr"`
	Channel struct {
		// AtomLinks comes first: encoding/xml gives an element to the first
		// field whose name matches, and "link" matches any namespace.
		AtomLinks     []xAtomLink `xml:"http://www.w3.org/2005/Atom link"`
		Title         string      `xml:"title"`
		Link          string      `xml:"link"`
		Description   string      `xml:"description"`
		LastBuildDate string      `xml:"lastBuildDate"`
		Items         []struct {
			Title       string `xml:"title"`
			Link        string `xml:"link"`
			Description string `xml:"description"`
			GUID        struct {
				IsPermaLink string `xml:"isPermaLink,attr"`
				ID          string `xml:",chardata"`
			} `xml:"guid"`
			PubDate    string   `xml:"pubDate"`
			Creator    string   `xml:"http://purl.org/dc/elements/1.1/ creator"`
			Categories []string `xml:"category"`
			Source     *struct {
				URL   *string `xml:"url,attr"`
				Title string  `xml:",chardata"`
			} `xml:"source"`
		} `xml:"item"`
	} `xml:"channel"`
}

// checkRSS verifies RSS 2.0's required elements and the Best Practices
// Profile's advice syndic follows.
func checkRSS(t *testing.T, body []byte) *xRSS {
	t.Helper()
	if err := wellFormed(body); err != nil {
		t.Fatalf("rss not well-formed: %v", err)
	}
	var f xRSS
	if err := xml.Unmarshal(body, &f); err != nil {
		t.Fatalf("decode rss: %v", err)
	}
	ch := &f.Channel
	if f.Version != "2.0" {
		t.Errorf("rss version %q", f.Version)
	}
	if ch.Title == "" || !absoluteURI(ch.Link) || ch.Description == "" {
		t.Errorf("channel title %q, link %q, description %q: all required", ch.Title, ch.Link, ch.Description)
	}
	if _, err := time.Parse(time.RFC1123Z, ch.LastBuildDate); err != nil {
		t.Errorf("lastBuildDate: %v", err)
	}
	if self := linkRel(ch.AtomLinks, "self"); !absoluteURI(self) {
		t.Errorf("atom:link rel=self %q", self)
	}
	seen := map[string]bool{}
	for i, it := range ch.Items {
		if it.Title == "" && it.Description == "" {
			t.Errorf("item %d has neither title nor description", i)
		}
		if it.GUID.IsPermaLink != "false" || !absoluteURI(it.GUID.ID) || seen[it.GUID.ID] {
			t.Errorf("item %d guid %q isPermaLink %q", i, it.GUID.ID, it.GUID.IsPermaLink)
		}
		seen[it.GUID.ID] = true
		if _, err := time.Parse(time.RFC1123Z, it.PubDate); err != nil {
			t.Errorf("item %d pubDate: %v", i, err)
		}
		if it.Source != nil && (it.Source.URL == nil || !absoluteURI(*it.Source.URL)) {
			t.Errorf("item %d source without url", i)
		}
	}
	return &f
}

// checkJSON verifies JSON Feed 1.1's requirements, and returns the
// document as generic JSON.
func checkJSON(t *testing.T, body []byte) map[string]any {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("invalid JSON:\n%s", body)
	}
	var f map[string]any
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatal(err)
	}
	if f["version"] != "https://jsonfeed.org/version/1.1" {
		t.Errorf("version %v", f["version"])
	}
	if s, _ := f["title"].(string); s == "" {
		t.Error("title missing")
	}
	for _, k := range []string{"home_page_url", "feed_url"} {
		if s, _ := f[k].(string); !absoluteURI(s) {
			t.Errorf("%s %q not absolute", k, s)
		}
	}
	items, ok := f["items"].([]any)
	if !ok {
		t.Fatalf("items missing or not an array")
	}
	seen := map[string]bool{}
	for i, raw := range items {
		it := raw.(map[string]any)
		id, _ := it["id"].(string)
		if id == "" || seen[id] {
			t.Errorf("item %d id %q empty or repeated", i, id)
		}
		seen[id] = true
		_, hasHTML := it["content_html"].(string)
		_, hasText := it["content_text"].(string)
		if !hasHTML && !hasText {
			t.Errorf("item %d has neither content_html nor content_text", i)
		}
		for _, k := range []string{"date_published", "date_modified"} {
			if s, ok := it[k].(string); ok {
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					t.Errorf("item %d %s: %v", i, k, err)
				}
			}
		}
	}
	return f
}

// validateJSONSchema checks the document against the JSON Feed 1.1 JSON
// Schema with Python's jsonschema, the validator available here.
func validateJSONSchema(t *testing.T, body []byte) {
	t.Helper()
	dir := specsDir(t)
	if dir == "" {
		t.Skip("shared/specs not found beside the repository; JSON Schema check skipped")
	}
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import jsonschema").Run() != nil {
		t.Skip("python3 with the jsonschema module not available; JSON Schema check skipped")
	}
	file := filepath.Join(t.TempDir(), "feed.json")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(json.load(open(sys.argv[2])))`
	if out, err := exec.Command(py, "-c", script, filepath.Join(dir, "jsonfeed-v1.1.schema.json"), file).CombinedOutput(); err != nil {
		t.Errorf("JSON Feed schema validation failed: %v\n%s", err, out)
	}
}

// checkFormat runs the Go checks of a format.
func checkFormat(t *testing.T, format string, body []byte) {
	t.Helper()
	switch format {
	case FormatAtom:
		checkAtom(t, body)
	case FormatRSS:
		checkRSS(t, body)
	case FormatJSON:
		checkJSON(t, body)
	}
}

// validateSchema runs the external schema check of a format, if any.
func validateSchema(t *testing.T, format string, body []byte) {
	t.Helper()
	switch format {
	case FormatAtom:
		validateAtomSchema(t, body)
	case FormatJSON:
		validateJSONSchema(t, body)
	default:
		t.Skip("RSS 2.0 has no official schema; checkRSS covers it")
	}
}

// parseBack parses a rendered feed with gofeed, as a reader would.
func parseBack(t *testing.T, body []byte) *gofeed.Feed {
	t.Helper()
	f, err := gofeed.NewParser().ParseString(string(body))
	if err != nil {
		t.Fatalf("gofeed cannot parse the feed: %v\n%s", err, body)
	}
	return f
}

func hasPrefixAll(ids []string, prefix string) bool {
	for _, id := range ids {
		if !strings.HasPrefix(id, prefix) {
			return false
		}
	}
	return true
}
