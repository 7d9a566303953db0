package probe

import (
	"fmt"
	"slices"
	"testing"
)

// The chart's positions are worked out by hand here: a fixed prefix counts
// nothing, a position that varies as a random hex digit counts 4 bits,
// one that shows only two values counts 1 bit.
func TestTokenStatsByHand(t *testing.T) {
	var sample []string
	for i := range 20 {
		// "sess_", a hex digit spread over 0-f, another over all 16, and
		// one that is only ever 'a' or 'b'.
		sample = append(sample, fmt.Sprintf("sess_%02x%c", i*13, 'a'+i%2))
	}
	s := newTokenStats(sample)
	var bits []float64
	for _, p := range s.Positions {
		bits = append(bits, p.Bits)
	}
	if want := []float64{0, 0, 0, 0, 0, 4, 4, 1}; !slices.Equal(bits, want) || s.EffectiveBits != 9 || s.Alphabet != "lowercase hex" {
		t.Errorf("bits %v, effective %.2f, alphabet %q; want %v, 9, lowercase hex", bits, s.EffectiveBits, s.Alphabet, want)
	}
	if !s.Positions[5].Passed || s.Positions[7].Passed || s.Positions[0].Passed {
		t.Errorf("passed marks %+v", s.Positions)
	}
	if newTokenStats(nil) != nil {
		t.Error("stats without a sample")
	}
}
