package parser

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPlainText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  plain   text\n", "plain text"},
		{"<p>One</p><p>Two</p>", "One Two"},
		{"<b>bo</b>ld", "bold"},
		{"line<br>break", "line break"},
		{"Tom &amp; Jerry &eacute; &#8217;", "Tom & Jerry é ’"},
		{"a < b and c > d", "a < b and c > d"},
		{"<script>var x = '<p>';</script>after<style>p{}</style>", "after"},
		{"<noscript>fallback</noscript>shown", "shown"},
		{"<ul><li>a</li><li>b</li></ul>", "a b"},
		{"unclosed <b", "unclosed"},
		{"ctrl\x01chars\u200b", "ctrlchars\u200b"},
	}
	for _, tt := range tests {
		if got := plainText(tt.in); got != tt.want {
			t.Errorf("plainText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"cut at a word boundary please", 12, "cut at a…"},
		{"punctuation, before the cut", 13, "punctuation…"},
		{"Supercalifragilisticexpialidocious", 10, "Supercalif…"},
		{"ünïcödé wörds everywhere", 10, "ünïcödé…"},
	}
	for _, tt := range tests {
		got := truncate(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if utf8.RuneCountInString(got) > tt.n+1 {
			t.Errorf("truncate(%q, %d) = %q, too long", tt.in, tt.n, got)
		}
	}
}

func TestResolveHTML(t *testing.T) {
	base, _ := url.Parse("https://example.org/blog/post")
	tests := []struct{ in, want string }{
		{`<p>No links</p>`, `<p>No links</p>`},
		{`<a href="/about">x</a>`, `<a href="https://example.org/about">x</a>`},
		{`<a href="next">x</a>`, `<a href="https://example.org/blog/next">x</a>`},
		{`<a href="//cdn.example.net/x">x</a>`, `<a href="https://cdn.example.net/x">x</a>`},
		{`<a href="#top">x</a>`, `<a href="#top">x</a>`},
		{`<a href="mailto:a@b.c">x</a>`, `<a href="mailto:a@b.c">x</a>`},
		{`<A HREF='https://abs.example/'>x</A>`, `<A HREF='https://abs.example/'>x</A>`},
		{`<img src="a.png" alt="A &amp; B">`, `<img src="https://example.org/blog/a.png" alt="A &amp; B">`},
		{`<video poster="p.jpg" src="v.mp4"></video>`, `<video poster="https://example.org/blog/p.jpg" src="https://example.org/blog/v.mp4"></video>`},
		{`<img srcset="a.png 1x, /b.png 2x">`, `<img srcset="https://example.org/blog/a.png 1x, https://example.org/b.png 2x">`},
		{`<p class=x>keep <b>this</b> &nbsp; as is</p><a href="r">`, `<p class=x>keep <b>this</b> &nbsp; as is</p><a href="https://example.org/blog/r">`},
	}
	for _, tt := range tests {
		if got := resolveHTML(tt.in, base); got != tt.want {
			t.Errorf("resolveHTML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := resolveHTML(`<a href="x">`, nil); got != `<a href="x">` {
		t.Errorf("resolveHTML without base = %q", got)
	}
}

func TestLooksLikeHTML(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"<!DOCTYPE html><html>", true},
		{"<!doctype HTML>", true},
		{"<html lang=en>", true},
		{"<!-- generated --><html>", true},
		{`<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">`, true},
		{`<?xml version="1.0"?><rss version="2.0">`, false},
		{`<!-- <html> --><rss>`, false},
		{`{"version": "https://jsonfeed.org/version/1.1"}`, false},
		{`<feed xmlns="http://www.w3.org/2005/Atom"><content type="html">&lt;html&gt;`, false},
	}
	for _, tt := range tests {
		if got := looksLikeHTML([]byte(tt.in)); got != tt.want {
			t.Errorf("looksLikeHTML(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAlternatesIgnoresNonHTTP(t *testing.T) {
	page := `<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">` +
		`<link rel="alternate" type="application/rss+xml" href="feed:https://x.example/rss">` +
		`<link rel="alternate home" type="application/rss+xml; charset=utf-8" href="rss.xml">`
	got := alternates([]byte(page), "https://x.example/dir/")
	if want := "https://x.example/dir/rss.xml"; len(got) != 1 || got[0] != want {
		t.Errorf("alternates = %q, want [%q]", got, want)
	}
	if got := alternates([]byte(strings.Repeat("<link ", 1000)), "::bad"); len(got) != 0 {
		t.Errorf("alternates of junk = %q", got)
	}
}
