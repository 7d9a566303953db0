package auth

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The list of common passwords: see commonpasswords/README.md.
//
//go:embed commonpasswords/passwords.txt
var commonPasswordsText string

// CommonPasswordsLicence is the licence of the list of common passwords,
// which is built into the program together with the list.
//
//go:embed commonpasswords/LICENSE.txt
var CommonPasswordsLicence string

// commonPasswords maps each listed password to true and, where it differs,
// its folded form to false. Folding takes a folded string to itself, so a
// folded key finds a listed password with the same folded form.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, 64<<10)
	for p := range strings.Lines(commonPasswordsText) {
		p = strings.TrimSuffix(p, "\n")
		if p == "" {
			continue
		}
		m[p] = true
		if f := fold(p); f != p {
			if _, ok := m[f]; !ok {
				m[f] = false
			}
		}
	}
	return m
})

// fold lowercases s and maps the characters that people swap for look-alike
// ones onto a single letter each: @ and 4 to a, 3 to e, 1, !, | and l to i,
// 0 to o, $ and 5 to s, 7 and + to t. Every rune maps to one rune, so s and
// fold(s) have their runes at the same positions.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r = unicode.ToLower(r); r {
		case '@', '4':
			return 'a'
		case '3':
			return 'e'
		case '1', '!', '|', 'l':
			return 'i'
		case '0':
			return 'o'
		case '$', '5':
			return 's'
		case '7', '+':
			return 't'
		}
		return r
	}, s)
}

// isFiller reports whether r is what people put around a password to meet
// a rule: digits, punctuation, symbols, spaces.
func isFiller(r rune) bool {
	return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// guessability is why a password would be among an attacker's first
// guesses.
type guessability int

const (
	notCommon guessability = iota
	listed                 // on the list, in any case
	variant                // a listed password with look-alikes swapped in, filler around it, or backwards
	pattern                // a repeat, a run or a date
)

// commonness checks pw (in NFC) against the list of common passwords and
// the simplest patterns. A few dozen map lookups at most: the map is built
// once.
func commonness(pw string) guessability {
	m := commonPasswords()
	lower := strings.ToLower(pw)
	if m[lower] {
		return listed
	}
	if isRepeatOrRun(lower) || isDate(lower) {
		return pattern
	}
	// Filler is cut off in every amount up to a few characters, and
	// whole, so that a filler character that stands for a letter ($ in
	// $uperman1) is also kept.
	r := []rune(lower)
	lead := len(r) - utf8.RuneCountInString(strings.TrimLeftFunc(lower, isFiller))
	trail := len(r) - utf8.RuneCountInString(strings.TrimRightFunc(lower, isFiller))
	for _, i := range cuts(lead) {
		for _, j := range cuts(trail) {
			if i+j >= len(r) {
				continue
			}
			if _, ok := m[fold(string(r[i:len(r)-j]))]; ok {
				return variant
			}
		}
	}
	base := strings.TrimFunc(lower, isFiller)
	for _, s := range []string{lower, base} {
		if _, ok := m[reverse(fold(s))]; ok && s != "" {
			return variant
		}
	}
	if utf8.RuneCountInString(base) >= 3 && isRepeatOrRun(base) {
		return pattern
	}
	return notCommon
}

// cuts returns how many filler characters to cut from one end of a
// password that has n there: none, each amount up to 4, and all.
func cuts(n int) []int {
	c := make([]int, 0, 6)
	for i := 0; i <= min(n, 4); i++ {
		c = append(c, i)
	}
	if n > 4 {
		c = append(c, n)
	}
	return c
}

// isRepeatOrRun reports whether s is a unit over and over that would not
// do as a password on its own ("aaaaaaaa", "éééééééé", "12121212",
// "19871987", "passwordpassword"), or, in ASCII, a run of neighbouring
// characters ("abcdefgh", "87654321", "1234567890"). These are what the
// list leaves out (see commonpasswords/README.md).
func isRepeatOrRun(s string) bool {
	r := []rune(s)
	n := len(r)
	if n < 2 {
		return false
	}
	for u := 1; u <= n/2; u++ {
		repeats := true
		for i := u; i < n && repeats; i++ {
			repeats = r[i] == r[i-u]
		}
		if repeats {
			return u < MinPassword || commonness(string(r[:u])) != notCommon
		}
	}
	if !isASCII(s) {
		return false
	}
	step := func(a, b rune) rune {
		if '0' <= a && a <= '9' && '0' <= b && b <= '9' {
			return ((b-a)%10+10+1)%10 - 1 // 9 then 0 is a step of 1
		}
		return b - a
	}
	d := step(r[0], r[1])
	if d != 1 && d != -1 {
		return false
	}
	for i := 2; i < n; i++ {
		if step(r[i-1], r[i]) != d {
			return false
		}
	}
	return true
}

// isDate reports whether s is a date written with digits and perhaps
// separators: 8 digits (day, month and a year from 1900 to 2099 in any of
// the usual orders) or 6 (a two-digit year).
func isDate(s string) bool {
	var d []int
	for _, r := range s {
		switch {
		case '0' <= r && r <= '9':
			d = append(d, int(r-'0'))
		case isFiller(r):
		default:
			return false
		}
	}
	num := func(ds ...int) int {
		n := 0
		for _, x := range ds {
			n = 10*n + x
		}
		return n
	}
	dm := func(day, month int) bool { return 1 <= day && day <= 31 && 1 <= month && month <= 12 }
	switch len(d) {
	case 8:
		y1, y2 := num(d[4:]...), num(d[:4]...)
		return (19 <= y1/100 && y1/100 <= 20) && (dm(num(d[0], d[1]), num(d[2], d[3])) || dm(num(d[2], d[3]), num(d[0], d[1]))) ||
			(19 <= y2/100 && y2/100 <= 20) && dm(num(d[6], d[7]), num(d[4], d[5]))
	case 6:
		a, b, c := num(d[0], d[1]), num(d[2], d[3]), num(d[4], d[5])
		return dm(a, b) || dm(b, a) || dm(c, b)
	}
	return false
}

// A contextWord is a word a password must not be built from.
type contextWord struct {
	word []rune // folded
	site bool   // the site's name, not the username
}

// contextWords returns the folded username, its parts between underscores
// (of 3 characters or more), and "connectbook", each also backwards.
func contextWords(username string) []contextWord {
	var ws []contextWord
	add := func(w string, site bool) {
		if utf8.RuneCountInString(w) >= 3 {
			f := fold(w)
			ws = append(ws, contextWord{[]rune(f), site}, contextWord{[]rune(reverse(f)), site})
		}
	}
	add("connectbook", true)
	if username != "" {
		add(username, false)
		if parts := strings.Split(username, "_"); len(parts) > 1 {
			for _, p := range parts {
				add(p, false)
			}
		}
	}
	return ws
}

// builtFrom reports whether pw (in NFC) contains the username or the site's
// name (folded, also backwards) and what is left without them would not do
// as a password on its own: shorter than MinPassword, nothing but digits
// and symbols, or common. It returns which word was found.
func builtFrom(pw, username string) (found bool, site bool) {
	lower := []rune(strings.ToLower(pw))
	folded := []rune(fold(pw))
	removed := make([]bool, len(folded))
	for _, w := range contextWords(username) {
		n := len(w.word)
		for i := 0; i+n <= len(folded); i++ {
			if !runesEqual(folded[i:i+n], w.word) {
				continue
			}
			for j := i; j < i+n; j++ {
				removed[j] = true
			}
			if !found {
				found, site = true, w.site
			}
		}
	}
	if !found {
		return false, false
	}
	var rest strings.Builder
	for i, r := range lower {
		if !removed[i] {
			rest.WriteRune(r)
		}
	}
	s := rest.String()
	if utf8.RuneCountInString(s) < MinPassword || strings.TrimFunc(s, isFiller) == "" || commonness(s) != notCommon {
		return true, site
	}
	return false, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func runesEqual(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
