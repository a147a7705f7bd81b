// Package model holds the plain data types that syndic's packages pass to
// each other: parsed feeds, stored items, per-source fetch state, outputs and
// queries. It has no behaviour beyond small helpers and imports nothing
// outside the standard library, so every package may depend on it.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"time"
)

// Feed is one parsed and normalized feed document.
type Feed struct {
	Title       string
	SiteURL     string // the feed's home page (RSS channel link, Atom alternate link)
	Description string
	Format      string        // "rss", "atom" or "json"
	TTL         time.Duration // RSS <ttl>, zero when absent
	Items       []Item        // in document order
	// Skipped counts items beyond the per-feed item limit that were not
	// read.
	Skipped int
}

// Item is one entry, either as parsed (Key, content fields) or as stored
// (every field).
type Item struct {
	// ID is the public, stable id: ItemID(SourceID, Key). It is the same in
	// every output format and survives a rebuilt database.
	ID       string
	SourceID string
	// Key is the identity of the item within its source: "guid:" + the
	// feed's id when usable, else "link:" + the canonical link, else
	// "hash:" + a content hash. Set by the parser.
	Key  string
	GUID string // the id the feed gave, if any ("" when none)
	// GUIDIsLink reports whether GUID is itself a permalink URL (RSS
	// isPermaLink true, or an Atom/JSON id that is an http(s) URL).
	GUIDIsLink   bool
	Link         string // absolute link as published
	CanonicalURL string // dedup.CanonicalURL(Link), "" without a link
	Title        string // decoded, whitespace collapsed, never empty once parsed
	Author       string
	ContentHTML  string // the item's HTML as received (relative URLs resolved)
	Summary      string // plain text derived from the content, bounded length
	Categories   []string
	// Published is the feed's date in UTC; zero when the feed gave none (the
	// store then uses the first-seen time and keeps it stable).
	Published time.Time
	// Updated is when syndic saw the content really change (first seen, or
	// the last content change). Volatile changes do not move it.
	Updated   time.Time
	FirstSeen time.Time
	// Changed is the last time anything publishable about the row changed:
	// insert, content update, feature/hide. Outputs derive Last-Modified
	// from it.
	Changed time.Time
	// ContentHash is dedup.ContentHash(Title, text): a change means a real
	// content update.
	ContentHash string
	// StoryKeys are the dedup index keys for cross-source story matching
	// (dedup.StoryKeys). Set before saving; not read back from the store.
	StoryKeys []string
	// TitleSketch summarizes the title's words for FetchUpdate.MaySameStory
	// (dedup.TitleSketch); 0 says nothing. Set before saving and stored
	// with the story keys; not read back into an Item.
	TitleSketch int64
	// StoryID is the ID of the first item of the story this item belongs
	// to; equal to ID for an item that started its own story.
	StoryID  string
	Featured bool
	Hidden   bool
	// RawHash is a hash of the parts of the feed's item that ContentHash
	// derives from, taken before any conversion (0: unknown). When it
	// matches the stored item's, the parser skips converting the item.
	RawHash int64
	// Unconverted marks an item the parser did not convert because the
	// store holds it with the same RawHash: only Key, ID, SourceID,
	// RawHash and ContentHash (the stored one) are set. The store counts
	// it unchanged and never writes it.
	Unconverted bool
}

// KnownItem is what the parser needs of a stored item to skip converting
// it again.
type KnownItem struct {
	RawHash     int64
	ContentHash string
}

// ItemID derives the public id of an item from its source and identity key.
// It never depends on a database row, so it is stable across rebuilds.
func ItemID(sourceID, key string) string {
	sum := sha256.Sum256([]byte(sourceID + "\x00" + key))
	return sourceID + ":" + hex.EncodeToString(sum[:8])
}

// Fetch outcomes recorded on a source and reported by `syndic fetch`.
const (
	StatusOK          = "ok"           // 200, items processed
	StatusNotModified = "not_modified" // 304
	StatusError       = "error"
)

// Error classes recorded on a source when a fetch fails.
const (
	ErrClassDNS       = "dns"
	ErrClassConnect   = "connect"
	ErrClassTimeout   = "timeout"
	ErrClassTLS       = "tls"
	ErrClassHTTP      = "http_status"
	ErrClassTooLarge  = "too_large"
	ErrClassRedirect  = "redirect"
	ErrClassParse     = "parse"
	ErrClassNotAFeed  = "not_a_feed"
	ErrClassDenied    = "denied" // private network refused
	ErrClassStorage   = "storage"
	ErrClassCancelled = "cancelled"
	ErrClassOther     = "other"
)

// Reasons for a deferred next fetch.
const (
	DeferRetryAfter     = "retry-after"
	DeferHostRetryAfter = "host-retry-after"
	DeferCacheControl   = "cache-control"
	DeferExpires        = "expires"
	DeferTTL            = "ttl"
	DeferBackoff        = "backoff"
)

// SourceState is what syndic remembers about a source between fetches.
type SourceState struct {
	SourceID string
	URL      string // URL used by the last fetch
	// FeedTitle and SiteURL are the feed's own title and home page.
	FeedTitle string
	SiteURL   string
	// Conditional-GET validators from the last 200 response.
	ETag         string
	LastModified string
	LastFetch    time.Time // last attempt (zero: never)
	LastSuccess  time.Time // last 200 or 304
	Status       string    // StatusOK, StatusNotModified, StatusError, "" never fetched
	ErrorClass   string    // ErrClass*, "" when the last fetch succeeded
	Error        string    // message of the last error, secrets removed
	// ConsecutiveErrors counts failures since the last success.
	ConsecutiveErrors int
	// NextFetch is the earliest time the source may be fetched again; zero
	// means no restriction. NextFetchReason says why (Defer*).
	NextFetch       time.Time
	NextFetchReason string
	// RedirectURL is the target of a permanent redirect (301/308) seen on
	// the last fetch; the configured URL stays authoritative.
	RedirectURL string
	// Alternates lists feed URLs an HTML page advertised (not_a_feed).
	Alternates []string
	Orphaned   bool // no longer in the config
	Items      int  // stored items (read only, filled by queries)
	// Version increases whenever the source's published content changes
	// (items new, updated, pruned, featured, hidden). Caches compare it.
	Version int64
}

// FetchUpdate is everything one fetch of one source produced. The store
// applies it in a single transaction: the items and the new state land
// together or not at all.
type FetchUpdate struct {
	SourceID string
	Now      time.Time
	State    SourceState // the complete new state (Items, Version ignored)
	Items    []Item      // parsed items, nil for 304 and errors
	// DedupWindow is how far back cross-source story matching looks.
	DedupWindow time.Duration
	// SameStory confirms a cross-source candidate found by canonical URL or
	// story key. Nil means every candidate matches. The candidate carries
	// only its ID, SourceID, Title, Summary, CanonicalURL, FirstSeen and
	// StoryID; the item may have lost its ContentHTML to compression.
	SameStory func(candidate, item *Item) bool
	// MaySameStory, when set, lets the store skip reading a candidate
	// found by a story key that is not a canonical URL ("u:"): given the
	// candidate's and the item's TitleSketch, it must be true whenever
	// SameStory could accept the candidate (dedup.MaySameStory). The store
	// keeps sketches in the database, so the rule must not loosen between
	// releases without a migration that forgets them.
	MaySameStory func(candidate, item int64) bool
	// NeverStored says the caller knows the source has no stored items:
	// it never had a successful fetch, the only kind that stores them.
	// The store then skips looking the items up before the write
	// transaction, where it checks them anyway.
	NeverStored bool
}

// SaveResult counts what a FetchUpdate did to the items.
type SaveResult struct {
	New       int // items stored for the first time
	Updated   int // content really changed
	Unchanged int // already stored, same content (or tombstoned)
	Duplicate int // new items that joined a story started by another source
	NewIDs    []string
}

// ItemQuery selects stored items. Results are ordered newest first by
// Published, ties broken by ID descending.
type ItemQuery struct {
	SourceIDs     []string  // empty: all sources
	Since         time.Time // Published >= Since when not zero
	Before        *Cursor   // strictly older than this position
	Limit         int       // 0: no limit
	FeaturedOnly  bool
	IncludeHidden bool
	Search        string // SQLite FTS5 query over title and summary; "" none
}

// Cursor is a position in the newest-first item order.
type Cursor struct {
	Published time.Time
	ID        string
}

// Output is one curated, published feed (see config.OutputConfig).
type Output struct {
	ID             string
	Title          string
	Description    string
	Mode           string   // OutputModeHeadlines or OutputModeArticles
	SourceIDs      []string // resolved: the sources the output selects
	Include        []*regexp.Regexp
	Exclude        []*regexp.Regexp
	MaxAge         time.Duration // 0: no limit
	Limit          int           // entries per page
	Curated        bool
	ShowSourceURLs bool
}

// Output modes.
const (
	OutputModeHeadlines = "headlines"
	OutputModeArticles  = "articles"
)

// SourceInfo is what publishing needs to know about a configured source.
type SourceInfo struct {
	ID      string
	Title   string // config override, else the feed's own title, else ID
	URL     string // the feed URL
	SiteURL string
	Tags    []string
	Include []*regexp.Regexp
	Exclude []*regexp.Regexp
}
