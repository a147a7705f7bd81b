package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/syndic-dev/syndic/internal/model"
)

var words = strings.Fields(`the of and to in a is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
government minister election storm market report said year people new police court health climate city
president officials announced week company data energy water school security talks council budget`)

// text returns n bytes or so of deterministic prose.
func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// realisticItem is shaped like a news item: long permalinks used as
// guid, link and canonical URL, 1–3 KB of HTML, a bounded summary and two
// story keys.
func realisticItem(r *rand.Rand, source string, n int, published time.Time) model.Item {
	slug := strings.ReplaceAll(text(r, 40), " ", "-")
	link := fmt.Sprintf("https://www.%s-news.example/world/2025/03/01/%s-%d", source, slug, n)
	title := text(r, 70)
	var html strings.Builder
	for size := 1000 + r.IntN(2000); html.Len() < size; {
		fmt.Fprintf(&html, "<p>%s</p>\n", text(r, 300))
	}
	summary := text(r, 280)
	sum := sha256.Sum256([]byte(title + summary))
	return model.Item{
		ID:           model.ItemID(source, "guid:"+link),
		SourceID:     source,
		Key:          "guid:" + link,
		GUID:         link,
		GUIDIsLink:   true,
		Link:         link,
		CanonicalURL: link,
		Title:        title,
		Author:       "Staff reporter",
		ContentHTML:  html.String(),
		Summary:      summary,
		Categories:   []string{"world", "politics"},
		Published:    published,
		ContentHash:  hex.EncodeToString(sum[:]),
		StoryKeys:    []string{"url:" + link, "title:" + hex.EncodeToString(sum[:8])},
	}
}

func TestBytesPerItem(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a database")
	}
	ctx := context.Background()
	s := openStore(t)
	r := rand.New(rand.NewPCG(1, 2))
	const sources, perSource = 20, 100
	var htmlBytes int
	for i := range sources {
		src := fmt.Sprint("source-", i)
		var items []model.Item
		for n := range perSource {
			it := realisticItem(r, src, n, t0.Add(-time.Duration(n)*time.Hour))
			htmlBytes += len(it.ContentHTML)
			items = append(items, it)
		}
		mustSave(t, s, update(src, t0, items...))
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	size, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.ItemCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != sources*perSource {
		t.Fatalf("ItemCount() = %d, want %d", n, sources*perSource)
	}
	// Where the bytes go, by table and index (dbstat is compiled in).
	rows, err := s.reader.QueryContext(ctx, `
		SELECT name, sum(pgsize)
		FROM dbstat
		GROUP BY name
		ORDER BY 2 DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for rows.Next() {
		var name string
		var b int64
		if err := rows.Scan(&name, &b); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", name, b/int64(n)))
	}
	rows.Close()
	perItem := size / int64(n)
	t.Logf("%d items, %d bytes of HTML per item: database %d bytes = %d bytes per item (%s)",
		n, htmlBytes/n, size, perItem, strings.Join(parts, " "))
	if limit := int64(htmlBytes/n + 1600); perItem > limit {
		t.Errorf("%d bytes per item, want at most %d (HTML + 1.6 KB)", perItem, limit)
	}
}

// benchFeed builds the items of one fetch: 50 new ones per round.
func benchFeed(r *rand.Rand, source string, round int) []model.Item {
	items := make([]model.Item, 50)
	for i := range items {
		items[i] = realisticItem(r, source, round*50+i, t0.Add(time.Duration(round*50+i)*time.Second))
	}
	return items
}

func BenchmarkSaveFetch(b *testing.B) {
	s := openStore(b)
	r := rand.New(rand.NewPCG(1, 2))
	round := 0
	var feeds [][]model.Item
	for range 64 {
		feeds = append(feeds, benchFeed(r, "bench", 0))
	}
	b.ReportAllocs()
	for b.Loop() {
		// Fresh keys every round: a growing database of new items.
		items := feeds[round%len(feeds)]
		for i := range items {
			items[i].Key = fmt.Sprint("guid:", round, "-", i)
			items[i].ID = model.ItemID("bench", items[i].Key)
		}
		u := update(fmt.Sprint("src", round%20), t0.Add(time.Duration(round)*time.Minute), items...)
		for i := range u.Items {
			u.Items[i].SourceID = u.SourceID
			u.Items[i].ID = model.ItemID(u.SourceID, items[i].Key)
		}
		res, err := s.SaveFetch(context.Background(), u)
		if err != nil {
			b.Fatal(err)
		}
		if res.New != 50 {
			b.Fatalf("New = %d, want 50", res.New)
		}
		round++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(round*50), "ns/item")
}

func BenchmarkSaveFetchUnchanged(b *testing.B) {
	s := openStore(b)
	r := rand.New(rand.NewPCG(1, 2))
	// A source with history, and a feed of its 50 newest items.
	for round := range 20 {
		mustSave(b, s, update("bench", t0, benchFeed(r, "bench", round)...))
	}
	feed := benchFeed(rand.New(rand.NewPCG(1, 2)), "bench", 19)
	r = rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		feed = benchFeed(r, "bench", round)
	}
	u := update("bench", t0.Add(time.Hour), feed...)
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.SaveFetch(context.Background(), u)
		if err != nil {
			b.Fatal(err)
		}
		if res.Unchanged != 50 {
			b.Fatalf("Unchanged = %d, want 50", res.Unchanged)
		}
	}
}
