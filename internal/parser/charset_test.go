package parser

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestToUTF8(t *testing.T) {
	tests := []struct {
		name        string
		in          []byte
		contentType string
		want        string
	}{
		{"plain utf-8", []byte("<rss>café</rss>"), "", "<rss>café</rss>"},
		{"utf-8 bom stripped", []byte("\xef\xbb\xbf<rss/>"), "", "<rss/>"},
		{"utf-16le bom", []byte("\xff\xfe<\x00a\x00/\x00>\x00"), "", "<a/>"},
		{"utf-16be bom", []byte("\xfe\xff\x00<\x00a\x00/\x00>"), "", "<a/>"},
		{"utf-16le without bom", []byte("<\x00?\x00x\x00"), "", "<?x"},
		{"utf-16be without bom", []byte("\x00<\x00?\x00x"), "", "<?x"},
		{"bom beats header", []byte("\xef\xbb\xbfcaf\xc3\xa9"), "text/xml; charset=iso-8859-1", "café"},
		{"header latin-1", []byte("caf\xe9"), "text/xml; charset=ISO-8859-1", "café"},
		{"header quoted", []byte("caf\xe9"), `application/rss+xml; charset="windows-1252"`, "café"},
		{"header beats declaration", []byte(`<?xml version="1.0" encoding="koi8-r"?>` + "\xf0\xd2\xc9\xd7\xc5\xd4"),
			"text/xml; charset=windows-1251", `<?xml version="1.0" encoding="UTF-8"?>` + "рТЙЧЕФ"},
		{"declaration windows-1251", []byte(`<?xml version="1.0" encoding="windows-1251"?>` + "\xcf\xf0\xe8\xe2\xe5\xf2"), "",
			`<?xml version="1.0" encoding="UTF-8"?>Привет`},
		{"declaration koi8-r single quotes", []byte(`<?xml version='1.0' encoding='KOI8-R' standalone='yes'?>` + "\xf0\xd2\xc9\xd7\xc5\xd4"), "",
			`<?xml version='1.0' encoding='UTF-8' standalone='yes'?>Привет`},
		{"declaration after whitespace", []byte("\n <?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\xe9"), "",
			"\n <?xml version=\"1.0\" encoding=\"UTF-8\"?>é"},
		{"unknown header label falls through", []byte(`<?xml version="1.0" encoding="iso-8859-1"?>` + "\xe9"), "text/xml; charset=x-bogus",
			`<?xml version="1.0" encoding="UTF-8"?>é`},
		{"unknown declaration label read as utf-8", []byte(`<?xml version="1.0" encoding="x-bogus"?>é`), "", `<?xml version="1.0" encoding="UTF-8"?>é`},
		{"utf-16 label on ascii ignored", []byte(`<?xml version="1.0" encoding="UTF-16"?><a>é</a>`), "",
			`<?xml version="1.0" encoding="UTF-8"?><a>é</a>`},
		{"invalid utf-8 replaced", []byte("a\xffb\xc3"), "", "a\uFFFDb\uFFFD"},
		{"control characters dropped", []byte("a\x00b\x01c\x0bd\x0ce\x1bf\tg\nh\ri"), "", "abcdef\tg\nh\ri"},
		{"noncharacters dropped", []byte("a\uFFFEb\uFFFFc"), "", "abc"},
		{"unpaired surrogate in utf-16", []byte("\xff\xfea\x00\x00\xd8b\x00"), "", "a\uFFFDb"},
		{"odd utf-16 length", []byte("\xff\xfea\x00b"), "", "a\uFFFD"},
		{"empty", nil, "", ""},
		{"bad content type ignored", []byte("caf\xc3\xa9"), "text/xml; charset", "café"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := toUTF8(tt.in, tt.contentType)
			if err != nil {
				t.Fatalf("toUTF8: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("toUTF8(%q, %q) = %q, want %q", tt.in, tt.contentType, got, tt.want)
			}
		})
	}
}

func TestDropIllegalXMLCharsKeepsClean(t *testing.T) {
	in := []byte("clean text\twith\nnewlines")
	if got := dropIllegalXMLChars(in); &got[0] != &in[0] {
		t.Error("dropIllegalXMLChars copied a clean document")
	}
}

func FuzzToUTF8(f *testing.F) {
	for _, c := range goldenCases {
		f.Add(readFixture(f, c.file), c.contentType)
	}
	f.Add([]byte("\xff\xfe<\x00"), "")
	f.Add([]byte(`<?xml version="1.0" encoding="shift_jis"?>`+"\x82\xa0"), "text/xml; charset=gb18030")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		out, err := toUTF8(body, contentType)
		if err != nil {
			return
		}
		if !utf8.Valid(out) {
			t.Fatalf("toUTF8 output is not valid UTF-8: %q", out)
		}
		for _, r := range string(out) {
			if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF {
				t.Fatalf("toUTF8 output holds illegal XML character %U: %q", r, out)
			}
		}
		if again, err := toUTF8(out, ""); err == nil && !bytes.Equal(again, out) && !bytes.HasPrefix(out, []byte("\xef\xbb\xbf")) {
			// Once UTF-8 with a UTF-8 declaration, a document stays as it is,
			// unless it merely looks like UTF-16 now.
			if len(out) < 2 || (out[0] != 0 && out[1] != 0) {
				t.Fatalf("toUTF8 not stable on its output: %q -> %q", out, again)
			}
		}
	})
}

func BenchmarkToUTF8(b *testing.B) {
	body := benchFeed(50)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := toUTF8(body, "application/rss+xml"); err != nil {
			b.Fatal(err)
		}
	}
}
