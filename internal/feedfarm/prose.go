package feedfarm

import (
	_ "embed"
	"math/rand/v2"
	"strconv"
	"strings"
)

// proseText is a few paragraphs of invented local news written for the
// farm. Item bodies are sampled from it, so the farm needs no file at run
// time and its text looks like the news syndic reads: long sentences, curly
// quotes and apostrophes, an ellipsis inside a quotation.
//
//go:embed prose.txt
var proseText string

// sampler draws news-like sentences from a first-order Markov chain over
// the words of proseText. Successor lists keep the order of the text, so a
// seeded generator yields the same sentence on every run and platform.
type sampler struct {
	words  []string
	next   [][]int32 // successors of words[i], in text order
	starts []int32   // words that begin a sentence
}

func newSampler(text string) *sampler {
	s := &sampler{}
	index := map[string]int32{}
	prev := int32(-1)
	// The text is one chain across paragraphs, so that only its very last
	// word has no successor.
	for _, w := range strings.Fields(text) {
		cur, ok := index[w]
		if !ok {
			cur = int32(len(s.words))
			index[w] = cur
			s.words = append(s.words, w)
			s.next = append(s.next, nil)
		}
		if prev < 0 || endsSentence(s.words[prev]) {
			s.starts = append(s.starts, cur)
		}
		if prev >= 0 {
			s.next[prev] = append(s.next[prev], cur)
		}
		prev = cur
	}
	return s
}

func endsSentence(w string) bool {
	w = strings.TrimRight(w, "”’\"')")
	return strings.HasSuffix(w, ".") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, "!")
}

// sentence appends one sentence to b. Past maxWords the sentence ends at
// the next full stop, or is cut at hardMax, because a first-order chain
// can wander for a long time.
func (s *sampler) sentence(b *strings.Builder, r *rand.Rand) {
	const minWords, maxWords, hardMax = 8, 30, 45
	w := s.starts[r.IntN(len(s.starts))]
	for n := 1; ; n++ {
		word := s.words[w]
		succ := s.next[w]
		ends := endsSentence(word)
		if len(succ) == 0 || n >= hardMax || (ends && n >= minWords) {
			if !ends {
				word = endSentence(word)
			}
			b.WriteString(word)
			return
		}
		b.WriteString(word)
		b.WriteByte(' ')
		// Near the limit, prefer a successor that ends the sentence.
		next := succ[r.IntN(len(succ))]
		if n >= maxWords {
			for _, c := range succ {
				if endsSentence(s.words[c]) {
					next = c
					break
				}
			}
		}
		w = next
	}
}

// endSentence puts a full stop on a word cut from the middle of a
// sentence, inside any closing quotation mark: `clear,”` becomes `clear.”`.
func endSentence(word string) string {
	core := strings.TrimRight(word, "”’\"')")
	closing := word[len(core):]
	return strings.TrimRight(core, ",;:") + "." + closing
}

// Headline vocabulary. The slots multiply to more than 10^11 headlines, so
// titles drawn independently for tens of thousands of items practically
// never collide (the tests check a 500 x 50 farm), while deliberate
// duplicates reuse their original's title.
var (
	headSubjects = []string{
		"Council members", "City officials", "Port workers", "State lawmakers",
		"Health officials", "Transit planners", "University researchers",
		"Local businesses", "School trustees", "Weather forecasters", "Harbor police",
		"Library trustees", "Ferry operators", "Housing advocates", "Fire crews",
		"Hospital staff", "Club owners", "Dairy farmers", "Water engineers",
		"Museum curators", "Airport managers", "Neighborhood groups", "Park rangers",
		"Energy regulators", "County judges", "Rail unions", "Tenant groups",
		"Election officials", "Tourism chiefs", "Coastal towns",
	}
	headSubjectAdjectives = []string{
		"", "", "", "Local", "Veteran", "Rural", "Senior", "Angry", "Frustrated",
		"Regional", "Independent", "Volunteer",
	}
	headVerbs = []string{
		"approve", "reject", "delay", "unveil", "question", "expand", "cut",
		"defend", "review", "postpone", "announce", "debate", "back", "criticize",
		"launch", "scrap", "revise", "investigate", "celebrate", "fund", "test",
		"extend", "pause", "weigh", "outline",
	}
	headAdjectives = []string{
		"new", "revised", "controversial", "delayed", "ambitious", "costly",
		"temporary", "long-awaited", "expanded", "emergency", "modest", "sweeping",
		"overdue", "disputed", "experimental", "regional", "citywide", "seasonal",
		"overnight", "limited",
	}
	headObjects = []string{
		"transit plan", "rent relief program", "flood defenses", "bus routes",
		"budget proposal", "school calendar", "parking rules", "harbor project",
		"vaccine drive", "housing scheme", "tree planting effort", "water rates",
		"ferry timetable", "library renovation", "stadium lease", "noise limits",
		"bike lanes", "heat plan", "recycling contract", "port agreement",
		"tax break", "night market", "bridge repairs", "zoning changes",
		"youth program", "energy tariff", "street festival", "data policy",
		"hiring freeze", "clinic hours",
	}
	headPrepositions = []string{"in", "near", "across", "for", "outside"}
	headPlaces       = []string{
		"Harbor District", "the northern suburbs", "Old Town", "the river valley",
		"East End", "the market district", "Westfield", "the coastal towns",
		"Millbrook", "the university quarter", "Southgate", "Lake Shore",
		"the industrial zone", "Hillcrest", "Bay Point", "the city center",
		"Riverside", "North Bank", "Cedar Park", "the airport corridor",
	}
	headTails = []string{
		"", "after heated debate", "amid budget worries", "as costs rise",
		"despite protests", "ahead of winter", "after storm damage",
		"as turnout falls", "following complaints", "before key vote",
		"amid staff shortages", "as prices climb", "after long delay",
		"ahead of elections", "despite legal challenge", "amid record demand",
	}
)

func pick(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }

// headline returns a sentence-case headline of at least seven words.
func headline(r *rand.Rand) string {
	var b strings.Builder
	if adj := pick(r, headSubjectAdjectives); adj != "" {
		b.WriteString(adj)
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(pick(r, headSubjects)))
	} else {
		b.WriteString(pick(r, headSubjects))
	}
	for _, w := range []string{
		pick(r, headVerbs), pick(r, headAdjectives), pick(r, headObjects),
		pick(r, headPrepositions), pick(r, headPlaces),
	} {
		b.WriteByte(' ')
		b.WriteString(w)
	}
	// A third of the tails carry numbers, the way real headlines report
	// votes and durations; they widen the space of distinct titles.
	switch r.IntN(3) {
	case 0:
		b.WriteString(" in ")
		b.WriteString(strconv.Itoa(5 + r.IntN(9)))
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(r.IntN(5)))
		b.WriteString(" vote")
	case 1:
		b.WriteString(" after ")
		b.WriteString(strconv.Itoa(2 + r.IntN(14)))
		b.WriteString("-hour meeting")
	default:
		if t := pick(r, headTails); t != "" {
			b.WriteByte(' ')
			b.WriteString(t)
		}
	}
	return b.String()
}
