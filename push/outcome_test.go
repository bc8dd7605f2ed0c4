package push

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"30":                            30 * time.Second,
		"7200":                          time.Hour, // capped
		"-5":                            0,
		"soon":                          0,
		"Mon, 30 Nov 2026 02:01:00 GMT": time.Minute,
		"Mon, 30 Nov 2026 01:59:00 GMT": 0, // in the past
		"99999999999999999999":          0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	for o := Delivered; o <= Dropped; o++ {
		if o.String() == "" || o.String()[0] == 'o' {
			t.Errorf("outcome %d has no name", o)
		}
	}
	if Outcome(200).String() != "outcome(200)" {
		t.Error("unknown outcome")
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Mon, 30 Nov 2026 02:01:00 GMT", "", "1e9", "Sunday, 06-Nov-94 08:49:37 GMT"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("%q: %v", s, d)
		}
	})
}
