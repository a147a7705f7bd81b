package feedfarm

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ExpectedItem is what a feed reader should read from one item of a
// source's document.
type ExpectedItem struct {
	GUID      string    `json:"guid"` // RSS guid, Atom id and JSON Feed id alike
	Link      string    `json:"link"`
	Title     string    `json:"title"`
	Published time.Time `json:"published"`
	// DuplicateOf is the GUID of the item in another source that tells the
	// same story, or "" when this item is an original. The two links are
	// equal once utm_* parameters are removed.
	DuplicateOf string `json:"duplicate_of,omitempty"`
}

// item is one published item with its body. Serial numbers count a
// source's items from its oldest: the document of generation g holds
// serials [g*Churn, g*Churn+Items), newest first, so an item keeps its
// serial, GUID and body across generations.
type item struct {
	ExpectedItem
	storySource int // the source whose story this item tells (itself unless a duplicate)
}

// Streams separate the independent decisions drawn for one (source,
// serial) so that, say, changing DupShare never changes a title.
const (
	streamTitle uint64 = iota + 1
	streamBody
	streamDup
	streamDupSource
	streamDupVariant
	streamBroken
)

// mix is splitmix64's finalizer: a cheap bijective hash whose output bits
// all depend on every input bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (f *Farm) hash(stream uint64, source, serial int) uint64 {
	h := mix(uint64(f.opts.Seed) ^ 0x9e3779b97f4a7c15)
	h = mix(h ^ stream)
	h = mix(h ^ uint64(source))
	return mix(h ^ uint64(serial))
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

func (f *Farm) rng(stream uint64, source, serial int) *rand.Rand {
	h := f.hash(stream, source, serial)
	return rand.New(rand.NewPCG(h, mix(h)))
}

// SourceID returns the syndic source id of source i, such as "farm-0007".
func SourceID(i int) string { return fmt.Sprintf("farm-%04d", i) }

// storyLink is the canonical article link of a story.
func storyLink(source, serial int) string {
	return "http://news.example/" + SourceID(source) + "/" + strconv.Itoa(serial)
}

func guid(source, serial int) string {
	return "tag:news.example,2026:" + SourceID(source) + "/" + strconv.Itoa(serial)
}

// published dates run back from the epoch ten minutes per serial; each
// source is offset by a few seconds so that sources do not share dates.
// Items added by churn lie after the epoch.
func (f *Farm) published(source, serial int) time.Time {
	minutes := serial - (f.opts.Items - 1)
	return f.opts.Epoch.Add(time.Duration(minutes)*10*time.Minute - time.Duration(source%600)*time.Second)
}

// dupCandidate reports whether the decision stream makes (source, serial)
// a duplicate. Only a candidate that finds an original becomes one.
func (f *Farm) dupCandidate(source, serial int) bool {
	return f.opts.DupShare > 0 && unit(f.hash(streamDup, source, serial)) < f.opts.DupShare
}

// original returns the source whose story (source, serial) repeats, or
// source itself. The original is the same serial in a healthy source that
// is not a duplicate itself, so both items are in their documents at the
// same time and chains never form.
func (f *Farm) original(source, serial int) int {
	if !f.dupCandidate(source, serial) || len(f.healthy) < 2 {
		return source
	}
	start := int(f.hash(streamDupSource, source, serial) % uint64(len(f.healthy)))
	for k := range f.healthy {
		o := f.healthy[(start+k)%len(f.healthy)]
		if o != source && !f.dupCandidate(o, serial) {
			return o
		}
	}
	return source
}

func (f *Farm) title(storySource, serial int) string {
	return headline(f.rng(streamTitle, storySource, serial))
}

// meta returns the identity of an item without its body, cheaply enough
// for ExpectedItems.
func (f *Farm) meta(source, serial int) item {
	it := item{
		ExpectedItem: ExpectedItem{
			GUID:      guid(source, serial),
			Published: f.published(source, serial),
		},
		storySource: f.original(source, serial),
	}
	title := f.title(it.storySource, serial)
	if it.storySource == source {
		it.Link = storyLink(source, serial)
		it.Title = title
		return it
	}
	it.DuplicateOf = guid(it.storySource, serial)
	// Aggregators and newsletters re-share a story with their own
	// campaign parameters; the canonical link stays the original's.
	it.Link = storyLink(it.storySource, serial) +
		"?utm_source=" + SourceID(source) + "&utm_medium=feed&utm_campaign=farm-" + strconv.Itoa(serial%7)
	switch f.hash(streamDupVariant, source, serial) % 4 {
	case 0:
		it.Title = title
	case 1:
		it.Title = "BREAKING: " + title
	case 2:
		it.Title = titleCase(title)
	default:
		it.Title = strings.ToLower(title)
	}
	return it
}

func titleCase(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[n:]
	}
	return strings.Join(words, " ")
}

// window returns the serials of the document of generation gen, newest
// first.
func (f *Farm) window(gen int) (newest, oldest int) {
	oldest = gen * f.opts.Churn
	return oldest + f.opts.Items - 1, oldest
}

func (f *Farm) items(source, gen int) []ExpectedItem {
	newest, oldest := f.window(gen)
	out := make([]ExpectedItem, 0, f.opts.Items)
	for s := newest; s >= oldest; s-- {
		out = append(out, f.meta(source, s).ExpectedItem)
	}
	return out
}

// body returns the HTML of a story: paragraphs of sampled prose with an
// emphasized phrase, a link and sometimes a relative image. Its length is
// drawn from Options.ContentBytes; it exceeds the maximum only when one
// sentence is longer than the whole range.
func (f *Farm) body(storySource, serial int) string {
	r := f.rng(streamBody, storySource, serial)
	lo, hi := f.opts.ContentBytes[0], f.opts.ContentBytes[1]
	target := lo + r.IntN(hi-lo+1)
	var b, s strings.Builder
	b.Grow(hi + 256)
	if r.IntN(3) == 0 {
		b.WriteString(`<p><img src="/img/x.png" alt="Photo" width="640" height="360"></p>`)
	}
	// Paragraphs hold one to three sentences. A sentence that would push
	// the body past the maximum (allowing for the markup decorate adds)
	// is left out once the minimum is met.
	const markupSlack = len("<p></p><em></em>") + len(`<a href=""></a>`) + 48
	var para strings.Builder
	marks, sentences, paraLen := 0, 0, 1+r.IntN(3)
	flush := func() {
		if para.Len() == 0 {
			return
		}
		b.WriteString("<p>")
		b.WriteString(decorate(para.String(), &marks, storySource, serial, r))
		b.WriteString("</p>")
		para.Reset()
		sentences, paraLen = 0, 1+r.IntN(3)
	}
	for b.Len()+para.Len() < target {
		s.Reset()
		f.prose.sentence(&s, r)
		size := b.Len() + para.Len()
		if size+1+s.Len()+markupSlack > hi && size >= lo {
			break
		}
		if sentences > 0 {
			para.WriteByte(' ')
		}
		para.WriteString(s.String())
		if sentences++; sentences == paraLen {
			flush()
		}
	}
	flush()
	return b.String()
}

// decorate marks up a paragraph: the first one long enough gets an
// emphasized phrase, the next a link to a related story, the way news
// bodies do. marks counts the marks made so far. Words in sampled prose
// are separated by single spaces.
func decorate(para string, marks *int, source, serial int, r *rand.Rand) string {
	n := strings.Count(para, " ") + 1
	if n < 6 || *marks > 1 {
		return para
	}
	first, span := 1+r.IntN(n-4), 2
	open, closing := "<em>", "</em>"
	if *marks == 1 {
		span = 3
		open, closing = `<a href="`+storyLink(source, serial)+`/related">`, "</a>"
	}
	*marks++
	start := wordOffset(para, first)
	end := wordOffset(para, first+span) - 1 // before the space
	return para[:start] + open + para[start:end] + closing + para[end:]
}

// wordOffset returns the byte offset of word k (from 0) of s, or len(s)+1
// past the last word, so that the caller's -1 lands on len(s).
func wordOffset(s string, k int) int {
	off := 0
	for range k {
		j := strings.IndexByte(s[off:], ' ')
		if j < 0 {
			return len(s) + 1
		}
		off += j + 1
	}
	return off
}
