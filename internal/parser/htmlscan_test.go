package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

// htmlSeeds are fragments at the corners of HTML tokenizing: every kind
// of comment and bogus comment, tags cut off by the end, quoted and
// unquoted attribute values, duplicate and empty attribute names,
// self-closing tags, raw text and hidden elements, entities, carriage
// returns, NUL bytes and invalid UTF-8.
var htmlSeeds = []string{
	"", "plain", "  plain   text\n", "<p>One</p><p>Two</p>", "<b>bo</b>ld", "line<br>break",
	"Tom &amp; Jerry &eacute; &#8217; &amp &notit; &#0; &#x110000; &#128;", "a < b and c > d", "a<", "a</", "a</>b", "a</ b>c", "a</1>c",
	"<script>var x = '<p>';</script>after<style>p{}</style>", "<noscript>fallback</noscript>shown",
	"<ul><li>a</li><li>b</li></ul>", "unclosed <b", "ctrl\x01chars\u200b", "<p", "<p ", "<p a", "<p a=", "<p a='", "<p a=\"x", "<p a=x",
	"<!-- c -->x", "<!-- a -> b -->x", "<!--a--b-->x", "<!--a-!>b-->x", "<!---->x", "<!-->x", "<!--->x", "<!-- a --!>x", "<!-- a --!-->x", "<!-- a --!", "<!--", "<!-", "<!", "<!>x", "<!->x",
	"<!DOCTYPE html>x", "<!doctype", "<!DOCTYPE", "<![CDATA[x]]>y", "<?xml version='1.0'?>x", "<?", "a<?b",
	"<a href=\"/about\">x</a>", "<A HREF='/About' Href=\"/dup\">x</A>", "<a href=/x>y</a>", "<a href=/>y</a>", "<p a=/>x",
	"<br/>", "<br />", "<img src=a.png/>", "<img src=\"a.png\"/>", "<img src='a.png' />", "<img alt=\"a>b\" src=x>",
	"<a =b>x</a>", "<a ==b>x</a>", "<a b = c d = 'e' f>x", "<a/b/c>x", "<a\tb\n=\r'c'\fd>x", "<a\vb>x",
	"<svg>hidden<p>x</p></svg>shown", "<svg/>shown", "<template>t</template>x", "<object><p>o</p></object>x",
	"<head><title>t</title></head>x", "<math>m</math>x", "</svg>x", "<textarea>a<b>c</textarea>d", "<xmp><b></xmp>",
	"<title/>x</title>y", "<iframe src=/v></iframe>x", "<plaintext>a<b>", "<noembed>e</noembed>", "<noframes>f</noframes>",
	"<p>\x00nul</p>", "<p a=\"\x00\">x", "<p\x00>x", "<a href=\"/\x00\">x</a>", "<a href='/x?a=1&amp;b=2'>x</a>", "<a href='&#47;x'>x</a>",
	"<a href=\"/x\r\n\">x</a>", "x\r\ny\rz", "\xff<p>\xfe</p>\xc3<b>\xa9</b>", "<p>\xed\xa0\x80</p>", "é<ü>ö",
	"<img srcset=\"a.jpg 1x,b.jpg 2x\">", "<img srcset=\"https://x/a.jpg 1x\">", "<video poster=p.jpg src=v.mp4></video>",
	"<a href=\"#top\">t</a>", "<a href=\"mailto:x@y\">m</a>", "<a href=\"javascript:void(0)\">j</a>", "<a href=\":x\">c</a>",
	"<a href=\" /pad \">p</a>", "<a href=\"\">e</a>", "<form action=send>f</form>", "<q cite=\"q.html\">q</q>",
	"<a href=\"h\" b=1 c=2 d=3 e=4 f=5 g=6 h=7 i=8 j=9 src=\"s\">many</a>", "<a HREF=/x Href=/y>dup</a>",
	"<img a=1 b c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 l=12 m=13 n=14 o=15 src=/16>x", "<img a b c d e f g h i j k l m n o p q>x",
	"<img a a a a a a a a a a a a a a a a a a a a a src=/x>x", "<img a b c d e f g h i j k l m n o p q",
	"<svg a=1 a=/>x</svg>y", "<svg a b/>x", "<svg a=\"\"/>x",
	"<p class=\"a\" id=b>&lt;b&gt;escaped&lt;/b&gt;</p>", "&lt;b&gt;bold&lt;/b&gt;", "<div>a</div>\u00a0<div>b</div>\u2003",
	"<P>Upper</P><BR><H1>h</H1>", "<blockquotex>a</blockquotex>b", "<figcaption>c</figcaption>", "\ufeffbom\ufffe\uffff",
}

// entitySeeds are character references that commonEntity decodes and
// some near them that it leaves to the Tokenizer.
var entitySeeds = []string{
	"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&nbsp;", "&lsquo;", "&rsquo;", "&ldquo;", "&rdquo;",
	"&ndash;", "&mdash;", "&hellip;", "&AMP;", "&amp", "&ampx;", "&Amp;", "&hellip", "&notin;", "&not;x",
	"&#65;", "&#x41;", "&#X41;", "&#0065;", "&#8217;", "&#x2019;", "&#xd800;", "&#0;", "&#128;", "&#x9f;",
	"&#1114111;", "&#1114112;", "&#x10FFFF;", "&#x110000;", "&#12345678;", "&#xFFFFFFFF;", "&#;", "&#x;",
	"&#65", "&#x41", "&#6a;", "&#xg;", "&", "&;", "& amp;", "&&amp;", "a&amp;b&lt;c&#62;d&unknown;e&amp",
}

func TestCommonEntities(t *testing.T) {
	for _, s := range entitySeeds {
		for _, in := range []string{s, "x" + s + "y", s + s, s + "&#32;"} {
			if got, want := string(appendUnescaped(nil, in)), xhtml.UnescapeString(in); got != want {
				t.Errorf("appendUnescaped(%q) = %q, xhtml.UnescapeString %q", in, got, want)
			}
		}
	}
}

// TestHTMLScannerMatchesTokenizer runs the scanner and the Tokenizer over
// the seeds and the fixtures' content and compares every token.
func TestHTMLScannerMatchesTokenizer(t *testing.T) {
	for _, s := range htmlSeeds {
		checkScanner(t, s)
	}
	for _, d := range farmDocs(t)[:6] {
		feed, err := Parse(d.body, d.contentType, d.url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range feed.Items {
			checkScanner(t, it.ContentHTML)
		}
	}
	checkScanner(t, string(benchFeed(3)))
}

func FuzzHTMLScanner(f *testing.F) {
	for _, s := range htmlSeeds {
		f.Add(s)
	}
	f.Fuzz(checkScanner)
}

// checkScanner compares htmlScanner's tokens of s with the Tokenizer's.
func checkScanner(t *testing.T, s string) {
	t.Helper()
	z := xhtml.NewTokenizer(strings.NewReader(s))
	sc := htmlScanner{s: s}
	for n := 0; ; n++ {
		tt := z.Next()
		k := sc.next()
		raw := string(z.Raw())
		where := fmt.Sprintf("token %d of %q", n, s)
		switch k {
		case tokEOF:
			if tt != xhtml.ErrorToken {
				t.Fatalf("%s: scanner at the end, Tokenizer has %v %q", where, tt, raw)
			}
			return
		case tokCutTag:
			if tt != xhtml.ErrorToken {
				t.Fatalf("%s: scanner cut tag %q, Tokenizer has %v %q", where, s[sc.tok.start:], tt, raw)
			}
			return
		}
		if k == tokUnsupported {
			// Raw text follows the tag, or the tag has too many attributes
			// and may be cut off: the scanner goes no further.
			if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken && tt != xhtml.ErrorToken {
				t.Fatalf("%s: scanner gives up, Tokenizer has %v", where, tt)
			}
			return
		}
		if got := s[sc.tok.start:sc.tok.end]; got != raw {
			t.Fatalf("%s: scanner kind %d raw %q, Tokenizer %v raw %q", where, k, got, tt, raw)
		}
		want := map[xhtml.TokenType]tokenKind{
			xhtml.TextToken: tokText, xhtml.StartTagToken: tokStartTag, xhtml.SelfClosingTagToken: tokSelfClosingTag,
			xhtml.EndTagToken: tokEndTag, xhtml.CommentToken: tokComment, xhtml.DoctypeToken: tokComment,
		}[tt]
		if k != want {
			t.Fatalf("%s: scanner kind %d, Tokenizer %v (raw %q)", where, k, tt, raw)
		}
		if k != tokStartTag && k != tokSelfClosingTag && k != tokEndTag {
			continue
		}
		tok := z.Token()
		name := s[sc.name.start:sc.name.end]
		if got := lowerASCIIString(strings.ReplaceAll(name, "\x00", "\uFFFD")); got != tok.Data {
			t.Fatalf("%s: scanner name %q, Tokenizer %q", where, got, tok.Data)
		}
		if a := sc.atom(); a != 0 && a.String() != tok.Data {
			t.Fatalf("%s: scanner atom %v, Tokenizer name %q", where, a, tok.Data)
		}
		if k == tokEndTag {
			continue
		}
		if sc.nAttrs != len(tok.Attr) {
			t.Fatalf("%s: scanner has %d attributes, Tokenizer %d: %q", where, sc.nAttrs, len(tok.Attr), tok.Attr)
		}
		for i, a := range sc.attrs() {
			key, val := s[a.key.start:a.key.end], s[a.val.start:a.val.end]
			if got := lowerASCIIString(strings.ReplaceAll(key, "\x00", "\uFFFD")); got != tok.Attr[i].Key {
				t.Fatalf("%s: attribute %d: scanner key %q, Tokenizer %q", where, i, got, tok.Attr[i].Key)
			}
			if !strings.ContainsAny(val, "&\r\x00") && val != tok.Attr[i].Val {
				t.Fatalf("%s: attribute %d: scanner value %q, Tokenizer %q", where, i, val, tok.Attr[i].Val)
			}
		}
	}
}

// TestScannedPathsMatchReference compares plainText and resolveHTML with
// the reference copies, and checks that the seeds reach both the scanned
// and the Tokenizer paths.
func TestScannedPathsMatchReference(t *testing.T) {
	scanned, tokenized := 0, 0
	for _, s := range htmlSeeds {
		checkTextFunctions(t, s)
		if _, ok := appendHTMLText(nil, s); ok {
			scanned++
		} else {
			tokenized++
		}
	}
	if scanned == 0 || tokenized == 0 {
		t.Errorf("seeds take the scanned path %d times and the Tokenizer %d times; want both", scanned, tokenized)
	}
}

var resolveBases = []string{"https://example.org/blog/post", "http://news.example/farm-0001/", "https://h.example"}

// checkTextFunctions compares every rewritten text function with its
// reference on s.
func checkTextFunctions(t *testing.T, s string) {
	t.Helper()
	if got, want := string(appendUnescaped(nil, s)), xhtml.UnescapeString(s); got != want {
		t.Fatalf("appendUnescaped(%q) = %q, xhtml.UnescapeString %q", s, got, want)
	}
	if got, want := plainText(s), refPlainText(s); got != want {
		t.Fatalf("plainText(%q) = %q, reference %q", s, got, want)
	}
	if got, want := cleanTitle(s), refCleanTitle(s); got != want {
		t.Fatalf("cleanTitle(%q) = %q, reference %q", s, got, want)
	}
	if got, want := collapseSpace(s), refCollapseSpace(s); got != want {
		t.Fatalf("collapseSpace(%q) = %q, reference %q", s, got, want)
	}
	if got, want := collapseBytes([]byte(s)), refCollapseSpace(s); got != want {
		t.Fatalf("collapseBytes(%q) = %q, reference %q", s, got, want)
	}
	for _, n := range []int{0, 1, 5, 80} {
		if got, want := truncate(s, n), refTruncate(s, n); got != want {
			t.Fatalf("truncate(%q, %d) = %q, reference %q", s, n, got, want)
		}
	}
	for _, b := range resolveBases {
		base, _ := url.Parse(b)
		if got, want := resolveHTML(s, base), refResolveHTML(s, base); got != want {
			t.Fatalf("resolveHTML(%q, %s) = %q, reference %q", s, b, got, want)
		}
		if got, want := resolveRef(base, s), refResolveRef(base, s); got != want {
			t.Fatalf("resolveRef(%s, %q) = %q, reference %q", b, s, got, want)
		}
	}
}

func FuzzTextFunctions(f *testing.F) {
	for _, s := range htmlSeeds {
		f.Add(s)
	}
	for _, s := range entitySeeds {
		f.Add("<p>" + s + "</p>" + s)
	}
	f.Fuzz(checkTextFunctions)
}

func BenchmarkPlainText(b *testing.B) {
	s := string(bytes.Repeat([]byte(`<p>At the meeting of the U.S. Coalition regarding the fight against ISIS, various foreign ministers noted that the fight is <a href="/more">not yet done</a>. After &ldquo;hearing&rdquo; the remarks, the ministers released a statement.</p>`), 8))
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		plainText(s)
	}
}

func BenchmarkResolveHTML(b *testing.B) {
	base, _ := url.Parse("https://bench.example.org/")
	s := string(bytes.Repeat([]byte(`<p>At the meeting of the U.S. Coalition regarding the fight against ISIS, various foreign ministers noted that the fight is <a href="https://bench.example.org/more">not yet done</a>.</p>`), 8)) + `<img src="/img/a.jpg">`
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		resolveHTML(s, base)
	}
}

func BenchmarkCollapseSpace(b *testing.B) {
	s := strings.Repeat("At the meeting of the U.S. Coalition,\n  various foreign ministers noted that the fight is not yet done. ", 10)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		collapseSpace(s)
	}
}

func BenchmarkCollapseBytes(b *testing.B) {
	s := strings.Repeat("At the meeting of the U.S. Coalition,\n  various foreign ministers noted that the fight is not yet done. ", 20)
	buf := make([]byte, len(s))
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		copy(buf, s)
		collapseBytes(buf)
	}
}

// TestKeptRunEnd compares the eight-bytes-at-a-time keptRunEnd with the
// bytewise loop on random text over the bytes that decide a run's end:
// kept ASCII at both ends of the range, spaces, other white space,
// controls, DEL and bytes of UTF-8.
func TestKeptRunEnd(t *testing.T) {
	alphabet := []byte("a~! \n\t\x00\x1f\x7f\x80\xc3\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, 1+rng.IntN(40))
		for j := range b {
			// Mostly kept bytes and spaces, as in text.
			switch r := rng.IntN(10); {
			case r < 5:
				b[j] = 'a'
			case r < 7:
				b[j] = ' '
			default:
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		b[0] = 'x' // keptRunEnd's caller has seen a kept byte
		if got, want := keptRunEnd(b, 1), keptRunEndBytewise(b, 1); got != want {
			t.Fatalf("keptRunEnd(%q, 1) = %d, bytewise %d", b, got, want)
		}
	}
}
