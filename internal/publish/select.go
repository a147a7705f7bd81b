package publish

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

// selection is an output's entry list, computed once per invalidation and
// shared by every format and page. An output that no pattern filters
// learns only its newest entries at first: the store counts the others,
// and tail reads them when a page needs them.
type selection struct {
	// entries are the output's newest entries, newest first: all of them
	// once tail is nil.
	entries      []entry
	total        int // entries of the output
	lastModified time.Time
	tail         *tail
	// views memoizes the format-independent rendering of each entry
	// (sanitized HTML, texts) by item id; guarded by outputState.build,
	// like tail and entries.
	views map[string]*entryView
}

// entry is one selected item and the other sources that carried its story.
// Only the item's head is kept: a render reads the items of its page.
type entry struct {
	head   *model.ItemHead
	alsoIn []string // titles of the other sources, in store order
}

// tail holds what a selection needs to learn more of its entries: the
// items alone in their story, each an entry, are read newest first from
// the store and merged with the entries of the shared stories, which are
// all known from the start.
type tail struct {
	output string          // the output's id
	q      model.ItemQuery // selects the output's items
	alone  []entry         // the items alone in their story read so far
	nAlone int             // how many the store counted
	shared []entry         // the entries of the shared stories, newest first
}

// merge returns the entries whose place is known: every item read so far
// and the shared stories' entries newer than the oldest of them, or all
// of those once every item is read.
func (t *tail) merge() []entry {
	out := make([]entry, 0, len(t.alone)+len(t.shared))
	complete := len(t.alone) >= t.nAlone
	i, j := 0, 0
	for i < len(t.alone) || j < len(t.shared) {
		if i < len(t.alone) && (j == len(t.shared) || newestFirst(t.alone[i], t.shared[j]) < 0) {
			out = append(out, t.alone[i])
			i++
			continue
		}
		if i == len(t.alone) && !complete {
			break
		}
		out = append(out, t.shared[j])
		j++
	}
	return out
}

// extend makes sure the selection knows its first n entries (or all of
// them). It reads at least as many items as it has read before, so that
// walking every page costs as much as reading every item once.
func (p *Publisher) extend(ctx context.Context, sel *selection, n int) error {
	for len(sel.entries) < min(n, sel.total) && sel.tail != nil {
		t := sel.tail
		q := t.q
		if k := len(t.alone); k > 0 {
			last := t.alone[k-1].head
			q.Before = &model.Cursor{Published: last.Published, ID: last.ID}
		}
		heads, err := p.st.AloneHeads(ctx, q, max(n-len(sel.entries), len(t.alone)))
		if err != nil {
			return fmt.Errorf("select more items of output %q: %w", t.output, err)
		}
		for i := range heads {
			t.alone = append(t.alone, entry{head: &heads[i]})
		}
		if len(heads) == 0 {
			// The store lost items since it counted them.
			t.nAlone = len(t.alone)
		}
		sel.entries = t.merge()
		if len(t.alone) >= t.nAlone {
			sel.tail = nil
		}
	}
	return nil
}

// storyOf returns the story an item belongs to; an item without one is its
// own story.
func storyOf(id, storyID string) string {
	if storyID != "" {
		return storyID
	}
	return id
}

// filterRule returns "" when an item of source with title and summary
// passes the source's and the output's include/exclude patterns, else the
// rule that dropped it.
func filterRule(source, title, summary string, out *model.Output, srcs map[string]model.SourceInfo) string {
	s, ok := srcs[source]
	if !hasPatterns(out.Include, out.Exclude) && (!ok || !hasPatterns(s.Include, s.Exclude)) {
		return ""
	}
	text := title + " " + summary
	if ok {
		if r := matchRule(text, "source "+s.ID, s.Include, s.Exclude); r != "" {
			return r
		}
	}
	return matchRule(text, "output", out.Include, out.Exclude)
}

func hasPatterns(include, exclude []*regexp.Regexp) bool {
	return len(include) > 0 || len(exclude) > 0
}

// needsText reports whether the output or one of its sources filters by
// pattern, so that its selection must read titles and summaries.
func needsText(out *model.Output, srcs map[string]model.SourceInfo) bool {
	if hasPatterns(out.Include, out.Exclude) {
		return true
	}
	return slices.ContainsFunc(out.SourceIDs, func(id string) bool {
		s := srcs[id]
		return hasPatterns(s.Include, s.Exclude)
	})
}

func matchRule(text, who string, include, exclude []*regexp.Regexp) string {
	if len(include) > 0 && !slices.ContainsFunc(include, func(re *regexp.Regexp) bool { return re.MatchString(text) }) {
		return fmt.Sprintf("%s include %s did not match", who, joinRegexps(include))
	}
	for _, re := range exclude {
		if re.MatchString(text) {
			return fmt.Sprintf("%s exclude %s matched", who, re)
		}
	}
	return ""
}

func joinRegexps(res []*regexp.Regexp) string {
	s := make([]string, len(res))
	for i, re := range res {
		s[i] = re.String()
	}
	return strings.Join(s, ", ")
}

// earlier orders the items of one story: the one seen first represents it.
func earlier(a, b *model.ItemHead) bool {
	if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
		return c < 0
	}
	if c := a.Published.Compare(b.Published); c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// newestFirst is the published order: newest first by Published, ties by ID
// descending (the store's order).
func newestFirst(a, b entry) int {
	if c := b.head.Published.Compare(a.head.Published); c != 0 {
		return c
	}
	return cmp.Compare(b.head.ID, a.head.ID)
}

// query returns the store query that fetches an output's candidate items.
func (p *Publisher) query(out *model.Output, now time.Time) model.ItemQuery {
	q := model.ItemQuery{SourceIDs: out.SourceIDs, FeaturedOnly: out.Curated}
	if out.MaxAge > 0 {
		q.Since = now.Add(-out.MaxAge)
	}
	return q
}

// selectEntries computes an output's entry list from the store.
func (p *Publisher) selectEntries(ctx context.Context, out *model.Output, srcs map[string]model.SourceInfo) (*selection, error) {
	now := p.now()
	sel := &selection{}
	var err error
	switch {
	case len(out.SourceIDs) == 0:
		// An output without sources is empty; an empty SourceIDs query
		// would select every source instead.
	case needsText(out, srcs):
		sel, err = p.selectAll(ctx, out, srcs, now)
	default:
		sel, err = p.selectNewest(ctx, out, srcs, now)
	}
	if err != nil {
		return nil, err
	}
	if sel.lastModified.IsZero() {
		sel.lastModified = now
	}
	// HTTP dates have second precision; keeping more would make
	// If-Modified-Since never match.
	sel.lastModified = sel.lastModified.UTC().Truncate(time.Second)
	sel.views = map[string]*entryView{}
	return sel, nil
}

// selectAll selects an output whose patterns must see the title and
// summary of every item: all its entries at once.
func (p *Publisher) selectAll(ctx context.Context, out *model.Output, srcs map[string]model.SourceInfo, now time.Time) (*selection, error) {
	heads, err := p.st.ItemHeads(ctx, p.query(out, now), true)
	if err != nil {
		return nil, fmt.Errorf("select items of output %q: %w", out.ID, err)
	}
	entries, err := p.dedupe(ctx, out, srcs, filterHeads(heads, out, srcs))
	if err != nil {
		return nil, err
	}
	return &selection{entries: entries, total: len(entries), lastModified: latestChange(entries)}, nil
}

// selectNewest selects an output that no pattern filters: the store
// counts the items alone in their story and returns the newest of them,
// enough for the first page; the stories that other items joined are read
// whole, so that the earliest seen item represents each.
func (p *Publisher) selectNewest(ctx context.Context, out *model.Output, srcs map[string]model.SourceInfo, now time.Time) (*selection, error) {
	q := p.query(out, now)
	s, err := p.st.Selection(ctx, q, pageSize(out))
	if err != nil {
		return nil, fmt.Errorf("select items of output %q: %w", out.ID, err)
	}
	shared, err := p.dedupe(ctx, out, srcs, filterHeads(s.Shared, out, srcs))
	if err != nil {
		return nil, err
	}
	t := &tail{output: out.ID, q: q, nAlone: s.Alone, shared: shared}
	for i := range s.Newest {
		t.alone = append(t.alone, entry{head: &s.Newest[i]})
	}
	sel := &selection{total: s.Alone + len(shared), tail: t, lastModified: latestChange(shared)}
	if s.AloneChanged.After(sel.lastModified) {
		sel.lastModified = s.AloneChanged
	}
	sel.entries = t.merge()
	if len(t.alone) >= t.nAlone {
		sel.tail = nil
	}
	return sel, nil
}

// latestChange returns the latest Changed of entries, zero for none.
func latestChange(entries []entry) time.Time {
	var latest time.Time
	for i := range entries {
		if c := entries[i].head.Changed; c.After(latest) {
			latest = c
		}
	}
	return latest
}

// pageSize returns the number of entries on a page of the output.
func pageSize(out *model.Output) int {
	if out.Limit <= 0 {
		return defaultLimit
	}
	return out.Limit
}

// filterHeads keeps, in place, the items the source and output patterns
// let through. The store already applied hidden, curated and max_age;
// they are checked again so a store that ignores a query field cannot leak
// items.
func filterHeads(heads []model.ItemHead, out *model.Output, srcs map[string]model.SourceInfo) []model.ItemHead {
	sources := make(map[string]bool, len(out.SourceIDs))
	for _, id := range out.SourceIDs {
		sources[id] = true
	}
	kept := heads[:0]
	for i := range heads {
		h := &heads[i]
		if h.Hidden || (out.Curated && !h.Featured) || !sources[h.SourceID] {
			continue
		}
		if filterRule(h.SourceID, h.Title, h.Summary, out, srcs) != "" {
			continue
		}
		kept = append(kept, *h)
	}
	return kept
}

// dedupe keeps one item per story (the earliest seen), orders the result
// and names the other sources that carried each story.
func (p *Publisher) dedupe(ctx context.Context, out *model.Output, srcs map[string]model.SourceInfo, heads []model.ItemHead) ([]entry, error) {
	// An item alone in its story represents it; only the few shared
	// stories need a choice, and only they can have other sources.
	best := map[string]*model.ItemHead{}
	for i := range heads {
		h := &heads[i]
		if !h.Shared {
			continue
		}
		s := storyOf(h.ID, h.StoryID)
		if b, ok := best[s]; !ok || earlier(h, b) {
			best[s] = h
		}
	}
	entries := make([]entry, 0, len(heads))
	storyIDs := make([]string, 0, len(best))
	for i := range heads {
		h := &heads[i]
		if h.Shared {
			s := storyOf(h.ID, h.StoryID)
			if best[s] != h {
				continue
			}
			storyIDs = append(storyIDs, s)
		}
		entries = append(entries, entry{head: h})
	}
	slices.SortFunc(entries, newestFirst)
	if len(storyIDs) == 0 {
		return entries, nil
	}
	slices.Sort(storyIDs)
	carriers, err := p.st.StorySources(ctx, storyIDs)
	if err != nil {
		return nil, fmt.Errorf("select story sources of output %q: %w", out.ID, err)
	}
	for i := range entries {
		if h := entries[i].head; h.Shared {
			entries[i].alsoIn = alsoIn(h.SourceID, carriers[storyOf(h.ID, h.StoryID)], srcs)
		}
	}
	return entries, nil
}

// alsoIn turns the sources that carried a story into the titles of those
// other than the one shown, without repeats.
func alsoIn(shown string, carriers []string, srcs map[string]model.SourceInfo) []string {
	var titles []string
	seen := map[string]bool{shown: true}
	for _, id := range carriers {
		if seen[id] {
			continue
		}
		seen[id] = true
		titles = append(titles, sourceTitle(srcs, id))
	}
	return titles
}

// Decision is Preview's verdict on one item: whether the output keeps it
// and the rule that decided.
type Decision struct {
	Item model.Item
	Kept bool
	Rule string
}

// Preview explains the output's selection for the most recent items of its
// sources (limit of them; 50 when limit <= 0): which are kept and which
// rule dropped the others.
func (p *Publisher) Preview(ctx context.Context, outputID string, limit int) ([]Decision, error) {
	st, err := p.lookup(outputID)
	if err != nil {
		return nil, fmt.Errorf("preview output: %w", err)
	}
	if limit <= 0 {
		limit = 50
	}
	sel, v, err := p.wholeSelection(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("preview output %q: %w", outputID, err)
	}
	out, srcs := v.out, v.srcs
	if len(out.SourceIDs) == 0 {
		return nil, nil
	}
	items, err := p.st.Items(ctx, model.ItemQuery{SourceIDs: out.SourceIDs, IncludeHidden: true, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("preview output %q: %w", outputID, err)
	}
	shown := map[string]*model.ItemHead{} // story -> the entry that represents it
	selected := map[string]bool{}
	for i := range sel.entries {
		h := sel.entries[i].head
		shown[storyOf(h.ID, h.StoryID)] = h
		selected[h.ID] = true
	}
	since := time.Time{}
	if out.MaxAge > 0 {
		since = p.now().Add(-out.MaxAge)
	}
	decisions := make([]Decision, 0, len(items))
	for i := range items {
		it := &items[i]
		d := Decision{Item: *it}
		switch {
		case it.Hidden:
			d.Rule = "hidden"
		case !since.IsZero() && it.Published.Before(since):
			d.Rule = "older than max_age"
		case out.Curated && !it.Featured:
			d.Rule = "not featured (curated output)"
		default:
			if r := filterRule(it.SourceID, it.Title, it.Summary, &out, srcs); r != "" {
				d.Rule = r
				break
			}
			if selected[it.ID] {
				d.Kept, d.Rule = true, "kept"
				break
			}
			if rep := shown[storyOf(it.ID, it.StoryID)]; rep != nil {
				d.Rule = "duplicate of story shown from " + sourceTitle(srcs, rep.SourceID)
				break
			}
			// The store changed between the selection and this query.
			d.Rule = "not in the current selection (changed since; try again)"
		}
		decisions = append(decisions, d)
	}
	return decisions, nil
}
