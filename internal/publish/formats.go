package publish

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"time"

	"github.com/gorilla/feeds"
)

// The feed documents below build on gorilla/feeds' XML and JSON structs and
// fix their gaps by shadowing fields: encoding/xml and encoding/json let a
// field of the outer struct win over an embedded one with the same name.
// gorilla's own constructors are not used: they keep one Atom link, write
// categories as text, invent ids when an item has none and drop RSS guids
// and JSON ids.

const atomNS = "http://www.w3.org/2005/Atom"

// atomFeed adds what feeds.AtomFeed lacks: several links (self, alternate
// and RFC 5005 paging), a generator, and entries with real categories.
type atomFeed struct {
	feeds.AtomFeed
	Links     []feeds.AtomLink
	Generator *atomGenerator `xml:"generator"`
	Entries   []*atomEntry   `xml:"entry"`
}

type atomGenerator struct {
	URI  string `xml:"uri,attr,omitempty"`
	Name string `xml:",chardata"`
}

// atomEntry replaces feeds.AtomEntry's text category and source with the
// elements RFC 4287 defines.
type atomEntry struct {
	feeds.AtomEntry
	Categories []atomCategory `xml:"category"`
	Source     *atomSource    `xml:"source"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

// atomSource names the feed an entry came from (RFC 4287 section 4.2.11).
type atomSource struct {
	Title string `xml:"title"`
	Links []feeds.AtomLink
}

func renderAtom(d *doc) ([]byte, error) {
	title := d.title()
	f := &atomFeed{
		AtomFeed: feeds.AtomFeed{
			Xmlns:    atomNS,
			Title:    title,
			Id:       d.pageURL(FormatAtom, 1),
			Updated:  atomTime(d.lastModified),
			Subtitle: d.description(),
			// A feed-level author keeps every entry valid even if one lacked
			// its own.
			Author: &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: title}},
		},
		Links: []feeds.AtomLink{
			{Rel: "self", Href: d.pageURL(FormatAtom, d.page), Type: "application/atom+xml"},
			{Rel: "alternate", Href: d.base, Type: "text/html"},
		},
		Generator: &atomGenerator{URI: generatorURI, Name: generatorName},
		Entries:   make([]*atomEntry, 0, len(d.entries)),
	}
	for _, l := range d.paging() {
		f.Links = append(f.Links, feeds.AtomLink{Rel: l.rel, Href: l.href, Type: "application/atom+xml"})
	}
	for _, h := range d.hubs {
		f.Links = append(f.Links, feeds.AtomLink{Rel: "hub", Href: h})
	}
	for _, v := range d.entries {
		e := &atomEntry{AtomEntry: feeds.AtomEntry{
			Title:     v.title,
			Id:        v.id,
			Updated:   atomTime(v.updated),
			Published: atomTime(v.published),
			Author:    &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: v.author}},
		}}
		if v.link != "" {
			e.Links = []feeds.AtomLink{{Rel: "alternate", Href: v.link, Type: "text/html"}}
		}
		if articles(d.out) {
			e.Content = &feeds.AtomContent{Type: "html", Content: v.html}
			if v.summary != "" {
				e.Summary = &feeds.AtomSummary{Type: "text", Content: v.summary}
			}
		} else {
			e.Summary = &feeds.AtomSummary{Type: "text", Content: v.text}
			if v.link == "" {
				// RFC 4287 4.1.1.1: an entry without an alternate link must
				// have content.
				e.Content = &feeds.AtomContent{Type: "text", Content: v.text}
			}
		}
		for _, c := range v.categories {
			e.Categories = append(e.Categories, atomCategory{Term: c})
		}
		e.Source = &atomSource{Title: v.sourceTitle}
		if v.sourceURL != "" {
			e.Source.Links = append(e.Source.Links, feeds.AtomLink{Rel: "self", Href: v.sourceURL})
		}
		if v.sourceSite != "" {
			e.Source.Links = append(e.Source.Links, feeds.AtomLink{Rel: "alternate", Href: v.sourceSite, Type: "text/html"})
		}
		f.Entries = append(f.Entries, e)
	}
	return marshalXML(f)
}

func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rssDoc is the <rss> root with the namespaces syndic uses: atom for self
// and paging links, dc for authors (RSS's own <author> must be an email
// address).
type rssDoc struct {
	XMLName xml.Name `xml:"rss"`
	Version string   `xml:"version,attr"`
	AtomNS  string   `xml:"xmlns:atom,attr"`
	DCNS    string   `xml:"xmlns:dc,attr"`
	Channel *rssChannel
}

// rssChannel puts the atom:links first so a naive reader that keeps the
// last <link> it sees still gets the channel's own.
type rssChannel struct {
	AtomLinks []rssAtomLink `xml:"atom:link"`
	feeds.RssFeed
	Items []*rssItem `xml:"item"`
}

type rssAtomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
}

// rssItem fixes feeds.RssItem: an empty link is left out, categories
// repeat, the author is dc:creator and <source> carries its required url.
type rssItem struct {
	feeds.RssItem
	Link       string     `xml:"link,omitempty"`
	Creator    string     `xml:"dc:creator,omitempty"`
	Categories []string   `xml:"category"`
	Source     *rssSource `xml:"source"`
}

type rssSource struct {
	URL   string `xml:"url,attr"`
	Title string `xml:",chardata"`
}

func renderRSS(d *doc) ([]byte, error) {
	ch := &rssChannel{
		RssFeed: feeds.RssFeed{
			Title:         d.title(),
			Link:          d.base,
			Description:   d.description(),
			LastBuildDate: rssTime(d.lastModified),
			Generator:     generatorName,
		},
		AtomLinks: []rssAtomLink{{Rel: "self", Href: d.pageURL(FormatRSS, d.page), Type: "application/rss+xml"}},
		Items:     make([]*rssItem, 0, len(d.entries)),
	}
	for _, l := range d.paging() {
		ch.AtomLinks = append(ch.AtomLinks, rssAtomLink{Rel: l.rel, Href: l.href, Type: "application/rss+xml"})
	}
	for _, h := range d.hubs {
		ch.AtomLinks = append(ch.AtomLinks, rssAtomLink{Rel: "hub", Href: h})
	}
	for _, v := range d.entries {
		it := &rssItem{
			RssItem: feeds.RssItem{
				Title:   v.title,
				Guid:    &feeds.RssGuid{Id: v.id, IsPermaLink: "false"},
				PubDate: rssTime(v.published),
			},
			Link:       v.link,
			Creator:    v.author,
			Categories: v.categories,
		}
		if articles(d.out) {
			it.Description = v.html
		} else {
			// Readers treat description as HTML: escape the plain text so
			// it shows as written, and keep the note on its own line.
			it.Description = textToHTML(v.text)
		}
		if v.sourceURL != "" {
			it.Source = &rssSource{URL: v.sourceURL, Title: v.sourceTitle}
		}
		ch.Items = append(ch.Items, it)
	}
	return marshalXML(&rssDoc{
		Version: "2.0",
		AtomNS:  atomNS,
		DCNS:    "http://purl.org/dc/elements/1.1/",
		Channel: ch,
	})
}

// rssTime is RFC 822 with a four-digit year, as RSS 2.0 requires.
func rssTime(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func marshalXML(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

const jsonFeedVersion = "https://jsonfeed.org/version/1.1"

// jsonFeed keeps "items" even when empty (the spec requires it;
// feeds.JSONFeed omits an empty list).
type jsonFeed struct {
	feeds.JSONFeed
	Items []*jsonItem `json:"items"`
}

// jsonItem keeps content_html or content_text even when empty (the spec
// requires one) and adds syndic's extension.
type jsonItem struct {
	feeds.JSONItem
	ContentHTML *string    `json:"content_html,omitempty"`
	ContentText *string    `json:"content_text,omitempty"`
	Syndic      *syndicExt `json:"_syndic"`
}

// syndicExt is the "_syndic" JSON Feed extension object.
type syndicExt struct {
	Source      string   `json:"source"`
	SourceTitle string   `json:"source_title"`
	SourceURL   string   `json:"source_url,omitempty"` // only with show_source_urls
	AlsoIn      []string `json:"also_in"`              // titles of other sources with the story
	Story       string   `json:"story"`
}

func renderJSON(d *doc) ([]byte, error) {
	title := d.title()
	f := &jsonFeed{
		JSONFeed: feeds.JSONFeed{
			Version:     jsonFeedVersion,
			Title:       title,
			HomePageUrl: d.base,
			FeedUrl:     d.pageURL(FormatJSON, d.page),
			Description: d.description(),
			Authors:     []*feeds.JSONAuthor{{Name: title}},
		},
		Items: make([]*jsonItem, 0, len(d.entries)),
	}
	if d.page < d.pages {
		f.NextUrl = d.pageURL(FormatJSON, d.page+1)
	}
	for _, h := range d.hubs {
		f.Hubs = append(f.Hubs, &feeds.JSONHub{Type: "WebSub", Url: h})
	}
	for _, v := range d.entries {
		published, updated := v.published, v.updated
		it := &jsonItem{
			JSONItem: feeds.JSONItem{
				Id:            v.id,
				Url:           v.link,
				Title:         v.title,
				Summary:       v.summary,
				PublishedDate: &published,
				ModifiedDate:  &updated,
				Tags:          v.categories,
			},
			Syndic: &syndicExt{
				Source:      v.sourceID,
				SourceTitle: v.sourceTitle,
				SourceURL:   v.sourceURL,
				AlsoIn:      v.alsoIn,
				Story:       v.story,
			},
		}
		if it.Syndic.AlsoIn == nil {
			it.Syndic.AlsoIn = []string{}
		}
		if v.author != "" {
			it.Authors = []*feeds.JSONAuthor{{Name: v.author}}
		}
		if articles(d.out) {
			it.ContentHTML = &v.html
		} else {
			it.ContentText = &v.text
		}
		f.Items = append(f.Items, it)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
