package auth

import (
	"strings"
	"unicode"
)

// Invisible reports whether r changes or hides what people read without
// being seen itself: bidirectional controls (U+202A–U+202E, U+2066–U+2069,
// U+200E, U+200F, U+061C), zero-width and other format characters
// (category Cf: U+200B, U+2060, U+FEFF, the soft hyphen…), and letters
// that render as blank space (the Hangul fillers, the blank Braille
// pattern). The zero-width joiner is allowed: emoji sequences need it.
func Invisible(r rune) bool {
	switch r {
	case '\u200d':
		return false
	case '\u115f', '\u1160', '\u3164', '\uffa0', '\u2800':
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// Printable returns s with control and invisible characters (see
// Invisible) replaced by U+FFFD, for showing text that came from anyone
// in a terminal or a log line.
func Printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || Invisible(r) }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || Invisible(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}
