package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "", want: 0},
		{in: "0", want: 0},
		{in: "0s", want: 0},
		{in: "15m", want: 15 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "1w", want: 7 * 24 * time.Hour},
		{in: "1w2d", want: 9 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "0.5d", want: 12 * time.Hour},
		{in: "-5m", wantErr: "must not carry a sign"},
		{in: "5", wantErr: "missing unit"},
		{in: "5x", wantErr: `unknown unit "x"`},
		{in: "d", wantErr: "expected a number"},
		{in: "1d 2h", wantErr: `unknown unit "d "`},
		{in: "99999999999999w", wantErr: "too large"},
		{in: "3000000h", wantErr: "too large"},
		{in: "2562047h2562047h", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if time.Duration(got) != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, time.Duration(got), tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{90 * 24 * time.Hour, "90d"},
		{15 * time.Minute, "15m"},
		{90 * time.Minute, "1h30m"},
		{36 * time.Hour, "1d12h"},
		{30 * time.Second, "30s"},
		{time.Minute + 1500*time.Millisecond, "1m1.5s"},
		{250 * time.Millisecond, "250ms"},
		{-15 * time.Minute, "-15m"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Duration(tt.in).String(); got != tt.want {
				t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
			}
			if tt.in < 0 {
				return
			}
			back, err := ParseDuration(tt.want)
			if err != nil || time.Duration(back) != tt.in {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v (round trip)", tt.want, time.Duration(back), err, tt.in)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "1024", want: 1024},
		{in: "100B", want: 100},
		{in: "64KB", want: 64 << 10},
		{in: "512KiB", want: 512 << 10},
		{in: "10MB", want: 10 << 20},
		{in: "10mb", want: 10 << 20},
		{in: "10 MiB", want: 10 << 20},
		{in: "1GB", want: 1 << 30},
		{in: "2GiB", want: 2 << 30},
		{in: "1.5MB", want: 3 << 19},
		{in: "", wantErr: "expected a number"},
		{in: "MB", wantErr: "expected a number"},
		{in: "-1MB", wantErr: "expected a number"},
		{in: "10 parsecs", wantErr: `unknown unit "parsecs"`},
		{in: "10TB", wantErr: `unknown unit "TB"`},
		{in: "99999999999GB", wantErr: "too large"},
		{in: "1.2.3MB", wantErr: "bad number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSize(%q): %v", tt.in, err)
			}
			if int64(got) != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1000, "1000B"},
		{64 << 10, "64KB"},
		{10 << 20, "10MB"},
		{3 << 30, "3GB"},
		{1536 << 10, "1536KB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if back, err := ParseSize(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (round trip)", tt.want, back, err, tt.in)
		}
	}
}

func TestRegexp(t *testing.T) {
	var r Regexp
	if got := r.String(); got != "" {
		t.Errorf("zero Regexp.String() = %q, want \"\"", got)
	}
	if err := r.UnmarshalText([]byte(`(?i)\bgo\b`)); err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), `(?i)\bgo\b`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !r.MatchString("Learning Go today") {
		t.Error("compiled expression does not match")
	}
	err := r.UnmarshalText([]byte("(abc"))
	if err == nil || err.Error() != "invalid regexp \"(abc\": missing closing ): `(abc`" {
		t.Errorf("UnmarshalText(\"(abc\") error = %v", err)
	}
	if got := Regexps([]Regexp{r, {}}); len(got) != 1 || got[0] != r.Regexp {
		t.Errorf("Regexps = %v, want the one compiled expression", got)
	}
	if got := Regexps(nil); got != nil {
		t.Errorf("Regexps(nil) = %v, want nil", got)
	}
}
