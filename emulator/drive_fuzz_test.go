package emulator

import (
	"strings"
	"testing"
)

// FuzzParseSingleRange checks that any Range header yields a range inside
// the file or none, and never panics.
func FuzzParseSingleRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=10-", "bytes=5-2", "bytes=0-1,3-4", "bytes=-0", "bytes=99999999999999999999-", "items=1-2", "bytes= 1 - 2 "} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		start, n, ok, satisfiable := parseSingleRange(h, size)
		if !ok || !satisfiable {
			return
		}
		if start < 0 || n <= 0 || start+n > size {
			t.Fatalf("%q on %d: start %d length %d", h, size, start, n)
		}
	})
}

// FuzzParseSearchLiteral checks the q='…' parser: an accepted literal has
// its quotes doubled in the source and no '/'.
func FuzzParseSearchLiteral(f *testing.F) {
	for _, s := range []string{"q='x'", "q='O''Brien'", "q='a'b'", "q=''", "q='", "q=\"x\"", "q='a/b'", "x='y'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		q, gerr := parseSearchLiteral(key)
		if gerr != nil {
			return
		}
		if strings.Contains(q, "/") {
			t.Fatalf("%q accepted with a slash", key)
		}
		if want := "q='" + strings.ReplaceAll(q, "'", "''") + "'"; want != key {
			t.Fatalf("%q parsed to %q, which quotes back as %q", key, q, want)
		}
	})
}

func TestRFC5987(t *testing.T) {
	for in, want := range map[string]string{
		"a b.txt":         "a%20b.txt",
		"O'Brien (1).pdf": "O%27Brien%20%281%29.pdf",
		"Résumé":          "R%C3%A9sum%C3%A9",
		"a+b=c;d":         "a+b%3Dc%3Bd",
	} {
		if got := rfc5987(in); got != want {
			t.Errorf("rfc5987(%q) = %q, want %q", in, got, want)
		}
	}
}
