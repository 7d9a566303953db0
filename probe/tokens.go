package probe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
)

// strongBits is the least estimated entropy a session token should have.
const strongBits = 128

// tokenAnalysis is what a sample of fresh tokens shows.
type tokenAnalysis struct {
	Samples      int
	Alphabet     string
	AlphabetSize int
	MinLen       int
	MaxLen       int
	SharedPrefix int
	SharedSuffix int
	Duplicates   int
	// Bits estimates the entropy of one token: for every position, the
	// bits of the alphabet when the position varies about as much as a
	// random one would over the sample, fewer when it varies less, none
	// when it does not vary.
	Bits float64
	// Counter is set when the varying part of the tokens is a number that
	// moves by small steps.
	Counter string
	Numeric bool
	// varies marks the positions that differ across the sample.
	varies []bool
	// positions are the bits each position counts for.
	positions []PositionStat
}

// Weak reports whether the tokens are guessable, and why.
func (a tokenAnalysis) Weak() []string {
	var why []string
	if a.Duplicates > 0 {
		why = append(why, fmt.Sprintf("%d duplicate tokens among %d", a.Duplicates, a.Samples))
	}
	if a.Counter != "" {
		why = append(why, a.Counter)
	}
	// The estimate moves in steps (a position counts in full or by the
	// values it showed), so it is judged as it is printed: rounded.
	if math.Round(a.Bits) < strongBits {
		why = append(why, fmt.Sprintf("under %d bits of entropy", strongBits))
	}
	return why
}

func (a tokenAnalysis) String() string {
	length := fmt.Sprintf("%d", a.MinLen)
	if a.MaxLen != a.MinLen {
		length = fmt.Sprintf("%d to %d", a.MinLen, a.MaxLen)
	}
	s := fmt.Sprintf("%d fresh tokens of %s characters (varying part: %s)", a.Samples, length, a.Alphabet)
	if a.SharedPrefix > 0 {
		s += fmt.Sprintf(", a shared prefix of %d characters", a.SharedPrefix)
	}
	if a.SharedSuffix > 0 {
		s += fmt.Sprintf(", a shared suffix of %d characters", a.SharedSuffix)
	}
	if a.Numeric {
		s += ", numeric"
	}
	return s + fmt.Sprintf(": an estimated %.0f bits of entropy (at least %d wanted)", a.Bits, strongBits)
}

var alphabets = []struct {
	name  string
	chars string
}{
	{"decimal digits", "0123456789"},
	{"lowercase hex", "0123456789abcdef"},
	{"uppercase hex", "0123456789ABCDEF"},
	{"lowercase letters and digits", "abcdefghijklmnopqrstuvwxyz0123456789"},
	{"letters and digits", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"},
	{"base64url", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"},
	{"base64", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="},
}

// alphabetOf names the smallest usual alphabet that holds every character
// of the tokens, or counts the characters seen.
func alphabetOf(tokens []string) (string, int) {
	seen := map[rune]bool{}
	for _, t := range tokens {
		for _, r := range t {
			seen[r] = true
		}
	}
	for _, a := range alphabets {
		all := true
		for r := range seen {
			if !strings.ContainsRune(a.chars, r) {
				all = false
				break
			}
		}
		if all {
			return a.name, len(a.chars)
		}
	}
	return "mixed characters", max(len(seen), 2)
}

// analyzeTokens estimates how guessable the tokens are.
func analyzeTokens(tokens []string) tokenAnalysis {
	a := tokenAnalysis{Samples: len(tokens)}
	if len(tokens) == 0 {
		return a
	}
	a.Alphabet, a.AlphabetSize = alphabetOf(tokens)
	a.MinLen, a.MaxLen = len(tokens[0]), len(tokens[0])
	seen := map[string]bool{}
	for _, t := range tokens {
		a.MinLen, a.MaxLen = min(a.MinLen, len(t)), max(a.MaxLen, len(t))
		if seen[t] {
			a.Duplicates++
		}
		seen[t] = true
	}
	a.SharedPrefix = sharedPrefix(tokens)
	rev := make([]string, len(tokens))
	for i, t := range tokens {
		rev[i] = reverse(t)
	}
	a.SharedSuffix = min(sharedPrefix(rev), a.MinLen-a.SharedPrefix)

	// Entropy, position by position. The alphabet is the smallest usual
	// one holding the characters of the positions that vary (so a hex
	// part after a fixed "sess_" counts 4 bits a character, not 6). A
	// position that varies about as a random one over that alphabet would
	// (a third of the distinct values expected is plenty) counts in full;
	// one that shows far fewer values counts only the values seen.
	counts := make([]int, a.MaxLen)
	a.varies = make([]bool, a.MaxLen)
	var varying []string
	for i := range counts {
		distinct := map[byte]bool{}
		for _, t := range tokens {
			c := byte(0) // shorter tokens count as another value
			if i < len(t) {
				c = t[i]
			}
			distinct[c] = true
		}
		counts[i] = len(distinct)
		a.varies[i] = len(distinct) > 1
		if len(distinct) > 1 {
			for c := range distinct {
				varying = append(varying, string(c))
			}
		}
	}
	if len(varying) > 0 {
		a.Alphabet, a.AlphabetSize = alphabetOf([]string{strings.Join(varying, "")})
	}
	n, size := float64(len(tokens)), float64(a.AlphabetSize)
	expected := size * (1 - math.Pow(1-1/size, n))
	for i, d := range counts {
		p := PositionStat{Position: i + 1}
		switch {
		case d <= 1:
		case float64(d) >= expected/3:
			p.Bits, p.Passed = math.Log2(size), true
		default:
			p.Bits = math.Log2(float64(d))
		}
		a.Bits += p.Bits
		a.positions = append(a.positions, p)
	}

	// A number in the varying middle: counters and small ranges.
	// (With tokens of different lengths a shared suffix may hold digits
	// of the number, so it is kept.)
	suffix := a.SharedSuffix
	if a.MinLen != a.MaxLen {
		suffix = 0
	}
	middles := make([]string, len(tokens))
	for i, t := range tokens {
		middles[i] = t[a.SharedPrefix : len(t)-suffix]
	}
	nums := make([]*big.Int, 0, len(tokens))
	for _, m := range middles {
		v, ok := new(big.Int).SetString(m, 10)
		if !ok || m == "" {
			nums = nil
			break
		}
		nums = append(nums, v)
	}
	if len(nums) == len(tokens) && len(nums) > 1 {
		a.Numeric = true
		slices.SortFunc(nums, func(x, y *big.Int) int { return x.Cmp(y) })
		span := new(big.Int).Sub(nums[len(nums)-1], nums[0])
		// The range the values could come from, at best: a numeric id
		// can never carry more bits than its span suggests.
		if bits := float64(span.BitLen()) + 1; bits < a.Bits {
			a.Bits = bits
		}
		if span.Cmp(big.NewInt(int64(10*len(nums)))) <= 0 {
			a.Counter = fmt.Sprintf("the tokens differ only in a number, and %d fresh ones fall within %s of each other (%s to %s): a counter or a tiny range",
				len(nums), span, nums[0], nums[len(nums)-1])
		}
	}
	return a
}

func sharedPrefix(ss []string) int {
	p := ss[0]
	for _, s := range ss[1:] {
		n := 0
		for n < len(p) && n < len(s) && p[n] == s[n] {
			n++
		}
		p = p[:n]
	}
	return len(p)
}

func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

func isJSON(part string) bool {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
	return err == nil && json.Valid(b) && len(b) > 0 && b[0] == '{'
}
