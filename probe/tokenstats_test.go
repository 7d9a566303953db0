package probe

import (
	"math"
	"testing"
)

// The chart's positions add up to the weak-token check's estimate, for
// tokens that are not numbers in a small range.
func TestTokenStatsAddUp(t *testing.T) {
	for _, sample := range [][]string{
		{"sess_a1f3", "sess_b7c2", "sess_09de", "sess_4b4b"},
		{"AAAA", "AAAB", "AAAC"},
		{"x9Kq2LmP0aZ7", "Qw3Er5Ty7Ui9", "Zx1Cv3Bn5Mm7", "Lk9Jh7Gf5Ds3"},
	} {
		s := newTokenStats(sample)
		sum := 0.0
		for _, p := range s.Positions {
			sum += p.Bits
		}
		if want := analyzeTokens(sample).Bits; math.Abs(sum-want) > 1e-9 || s.EffectiveBits != want {
			t.Errorf("%v: positions add to %.2f, effective %.2f, want %.2f", sample, sum, s.EffectiveBits, want)
		}
		for _, p := range s.Positions {
			fixed := true
			for _, tok := range sample {
				fixed = fixed && tok[p.Position-1] == sample[0][p.Position-1]
			}
			if fixed && (p.Bits != 0 || p.Passed) {
				t.Errorf("%v: fixed position %+v", sample, p)
			}
		}
	}
	if newTokenStats(nil) != nil {
		t.Error("stats without a sample")
	}
}
