package model

import "time"

// ItemHead is the part of a stored item that choosing an output's entries
// needs: identity, story, dates and flags. It has no content, so that a
// selection over every stored item stays cheap; Title and Summary are
// filled only when asked for, to match include/exclude patterns.
type ItemHead struct {
	ID       string
	SourceID string
	// StoryID is the story the item belongs to: ID itself for an item that
	// started its own story, as in Item.
	StoryID string
	// Shared reports that at least one stored item joined the item's story
	// (hidden or not), so other sources may have carried it. False means
	// the item is alone in its story.
	Shared    bool
	Title     string
	Summary   string
	Published time.Time
	FirstSeen time.Time
	Changed   time.Time
	Featured  bool
	Hidden    bool
}

// Selection is what choosing the entries of an output needs from the
// store when no pattern filters its items: every item of a story that
// other items joined, for the earliest seen to represent the story, and
// of the other items, each alone in its story and so an entry of its own,
// only the count, the latest change and the newest few.
type Selection struct {
	Shared []ItemHead // items of shared stories, in no particular order
	// Alone counts the items alone in their story; AloneChanged is the
	// latest Changed among them, zero when there are none.
	Alone        int
	AloneChanged time.Time
	// Newest are the newest items alone in their story, newest first by
	// Published, ties broken by ID descending: as many as asked for, or
	// all of them.
	Newest []ItemHead
}
