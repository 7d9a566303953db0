package probe

import "math"

// TokenStats is what the weak-token check's sample of fresh tokens shows,
// position by position, for a chart. It holds no token.
type TokenStats struct {
	Samples  int    `json:"samples"`
	Alphabet string `json:"alphabet"`
	// Positions estimate each character position's entropy.
	Positions []PositionStat `json:"positions"`
	// EffectiveBits estimates the entropy of a whole token: the sum of
	// the positions', or less where the tokens are numbers in a small
	// range.
	EffectiveBits float64 `json:"effective_bits"`
	// WantedBits is the least a token should have.
	WantedBits float64 `json:"wanted_bits"`
	// Summary describes the sample in a sentence fragment.
	Summary string `json:"summary"`
}

// PositionStat is one character position of the sample's tokens.
type PositionStat struct {
	// Position counts from 1.
	Position int `json:"position"`
	// Bits is the entropy the position counts for: the alphabet's bits
	// when it varies about as much as a random one would over the sample,
	// the bits of the values seen when it varies less, none when fixed.
	Bits float64 `json:"bits"`
	// Passed is set when the position varies like a random one.
	Passed bool `json:"passed"`
}

// newTokenStats describes a sample of fresh tokens, by the same measure
// as the weak-token check (analyzeTokens), or is nil without a sample.
func newTokenStats(tokens []string) *TokenStats {
	if len(tokens) == 0 {
		return nil
	}
	a := analyzeTokens(tokens)
	s := &TokenStats{Samples: a.Samples, Alphabet: a.Alphabet, EffectiveBits: a.Bits,
		WantedBits: strongBits, Summary: a.String()}
	n, size := float64(len(tokens)), float64(a.AlphabetSize)
	expected := size * (1 - math.Pow(1-1/size, n))
	for i := range a.MaxLen {
		distinct := map[byte]bool{}
		for _, t := range tokens {
			c := byte(0) // shorter tokens count as another value
			if i < len(t) {
				c = t[i]
			}
			distinct[c] = true
		}
		p := PositionStat{Position: i + 1}
		switch d := float64(len(distinct)); {
		case d <= 1:
		case d >= expected/3:
			p.Bits, p.Passed = math.Log2(size), true
		default:
			p.Bits = math.Log2(d)
		}
		s.Positions = append(s.Positions, p)
	}
	return s
}
