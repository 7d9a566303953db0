package probe

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
	return &TokenStats{Samples: a.Samples, Alphabet: a.Alphabet, EffectiveBits: a.Bits,
		WantedBits: strongBits, Summary: a.String(), Positions: a.positions}
}
