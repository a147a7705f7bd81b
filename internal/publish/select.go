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

// selection is an output's complete entry list, computed once per
// invalidation and shared by every format and page.
type selection struct {
	entries      []entry
	lastModified time.Time
	// views memoizes the format-independent rendering of each entry
	// (sanitized HTML, texts); guarded by outputState.build.
	views []*entryView
}

// entry is one selected item and the other sources that carried its story.
type entry struct {
	item   model.Item
	alsoIn []string // titles of the other sources, in store order
}

// storyOf returns the story an item belongs to; an item without one is its
// own story.
func storyOf(it *model.Item) string {
	if it.StoryID != "" {
		return it.StoryID
	}
	return it.ID
}

// filterRule returns "" when the item passes the source's and the output's
// include/exclude patterns, else the rule that dropped it.
func filterRule(it *model.Item, out *model.Output, srcs map[string]model.SourceInfo) string {
	text := it.Title + " " + it.Summary
	if s, ok := srcs[it.SourceID]; ok {
		if r := matchRule(text, "source "+s.ID, s.Include, s.Exclude); r != "" {
			return r
		}
	}
	return matchRule(text, "output", out.Include, out.Exclude)
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
func earlier(a, b *model.Item) bool {
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
func newestFirst(a, b model.Item) int {
	if c := b.Published.Compare(a.Published); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
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
	// An output without sources is empty; an empty SourceIDs query would
	// select every source instead.
	if len(out.SourceIDs) > 0 {
		items, err := p.st.Items(ctx, p.query(out, now))
		if err != nil {
			return nil, fmt.Errorf("select items of output %q: %w", out.ID, err)
		}
		sel.entries, err = p.dedupe(ctx, out, srcs, filterItems(items, out, srcs))
		if err != nil {
			return nil, err
		}
	}
	for i := range sel.entries {
		if c := sel.entries[i].item.Changed; c.After(sel.lastModified) {
			sel.lastModified = c
		}
	}
	if sel.lastModified.IsZero() {
		sel.lastModified = now
	}
	// HTTP dates have second precision; keeping more would make
	// If-Modified-Since never match.
	sel.lastModified = sel.lastModified.UTC().Truncate(time.Second)
	sel.views = make([]*entryView, len(sel.entries))
	return sel, nil
}

// filterItems keeps the items the source and output patterns let through.
// The store already applied hidden, curated and max_age; they are checked
// again so a store that ignores a query field cannot leak items.
func filterItems(items []model.Item, out *model.Output, srcs map[string]model.SourceInfo) []model.Item {
	kept := items[:0:0]
	for i := range items {
		it := &items[i]
		if it.Hidden || (out.Curated && !it.Featured) {
			continue
		}
		if !slices.Contains(out.SourceIDs, it.SourceID) {
			continue
		}
		if filterRule(it, out, srcs) != "" {
			continue
		}
		kept = append(kept, *it)
	}
	return kept
}

// dedupe keeps one item per story (the earliest seen), orders the result
// and names the other sources that carried each story.
func (p *Publisher) dedupe(ctx context.Context, out *model.Output, srcs map[string]model.SourceInfo, items []model.Item) ([]entry, error) {
	best := map[string]int{}
	for i := range items {
		s := storyOf(&items[i])
		if j, ok := best[s]; !ok || earlier(&items[i], &items[j]) {
			best[s] = i
		}
	}
	kept := make([]model.Item, 0, len(best))
	for i := range items {
		if best[storyOf(&items[i])] == i {
			kept = append(kept, items[i])
		}
	}
	slices.SortFunc(kept, newestFirst)
	var storyIDs []string
	for i := range kept {
		if kept[i].StoryID != "" {
			storyIDs = append(storyIDs, kept[i].StoryID)
		}
	}
	var carriers map[string][]string
	if len(storyIDs) > 0 {
		var err error
		carriers, err = p.st.StorySources(ctx, storyIDs)
		if err != nil {
			return nil, fmt.Errorf("select story sources of output %q: %w", out.ID, err)
		}
	}
	entries := make([]entry, len(kept))
	for i, it := range kept {
		entries[i] = entry{item: it, alsoIn: alsoIn(it.SourceID, carriers[storyOf(&it)], srcs)}
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
	sel, v, err := p.currentSelection(ctx, st)
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
	shown := map[string]*model.Item{} // story -> the entry that represents it
	selected := map[string]bool{}
	for i := range sel.entries {
		it := &sel.entries[i].item
		shown[storyOf(it)] = it
		selected[it.ID] = true
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
			if r := filterRule(it, &out, srcs); r != "" {
				d.Rule = r
				break
			}
			if selected[it.ID] {
				d.Kept, d.Rule = true, "kept"
				break
			}
			if rep := shown[storyOf(it)]; rep != nil {
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
