package dedup

import "math/bits"

// A title sketch lets the store turn down most candidates that share a
// story key with an item without reading them: story keys are parts of a
// headline, and formulaic headlines share parts ("... in the city center
// after 3-hour meeting") without telling the same story. At 10,000
// sources x 50 farm feeds, two candidates in three came by such a key,
// and reading them for SameStory was a fifth of a first ingest's CPU.
//
// The sketch is stored with every story key, so it must not change
// between releases; a change needs a migration that forgets the stored
// ones. Layout, from the low bit:
//
//   - bits 0-57: the title's words, each hashed (FNV-1a) to one bit;
//   - bits 58-63: the number of words, 63 standing for 63 or more.
//
// A sketch of 0 says nothing (a title without words, or unknown).
const (
	sketchWordBits = 58
	sketchWordMask = 1<<sketchWordBits - 1
	sketchMaxWords = 63
)

// TitleSketch returns the sketch of a title, as words and
// stripTitlePrefix see it, or 0 for a title without words.
func TitleSketch(title string) int64 {
	buf := bufPool.Get().(*[]byte)
	norm := appendNormalized((*buf)[:0], stripTitlePrefix(title), 0)
	s := sketchNormalized(norm)
	putBuf(buf, norm)
	return s
}

// sketchNormalized returns the sketch of a normalized title: words
// separated by single spaces.
func sketchNormalized(norm []byte) int64 {
	if len(norm) == 0 {
		return 0
	}
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	var set uint64
	n := 0
	h := uint64(offset64)
	for i := 0; i <= len(norm); i++ {
		if i == len(norm) || norm[i] == ' ' {
			set |= 1 << (h % sketchWordBits)
			n++
			h = offset64
			continue
		}
		h ^= uint64(norm[i])
		h *= prime64
	}
	return int64(uint64(min(n, sketchMaxWords))<<sketchWordBits | set)
}

// MaySameStory reports whether SameStory could join two items whose
// titles have sketches a and b when their canonical URLs differ. It is
// false only when SameStory would be: the titles differ in more words
// than SameStory allows. A zero sketch may always match.
//
// Two word sets A and B differ in |A∆B| words; every bit set in one
// sketch and not in the other needs a word of A∆B, so the bits that
// differ are at most |A∆B|. SameStory needs, for titles of 5 words or
// more, one word inserted, removed or replaced (|A∆B| <= 2) or a Jaccard
// index of 0.8: |A∩B| >= 0.8 (|A∩B| + |A∆B|), so |A∆B| <= |A∩B|/4 <=
// min(|A|, |B|)/4. Shorter titles need the same words (|A∆B| = 0). Word
// counts stand in for the set sizes, which they bound from above.
func MaySameStory(a, b int64) bool {
	if a == 0 || b == 0 {
		return true
	}
	na, nb := int(uint64(a)>>sketchWordBits), int(uint64(b)>>sketchWordBits)
	if na == sketchMaxWords || nb == sketchMaxWords {
		return true // the counts are capped, so the bound is unknown
	}
	diff := bits.OnesCount64(uint64(a^b) & sketchWordMask)
	if na < minLongTitleWords || nb < minLongTitleWords {
		return diff == 0
	}
	return diff <= max(2, min(na, nb)/4)
}
