package probe

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Randomness tests in the manner of Burp Sequencer: the tokens' varying
// characters become bits, and the bits and characters are tested for
// what a uniform random source would not produce.
//
// Every test gives a p-value. With hundreds of tests some fail by chance
// at any fixed level, so each is held to Alpha/Tests (Bonferroni): a
// sample of truly random tokens fails any test at all with probability
// at most Alpha. Bonferroni is chosen over counting the expected number
// of false failures because the tests are of very different kinds and
// not independent, and because a single failing bit is then evidence
// enough to take that bit out of the entropy estimate.

// fipsBlock is the length of the bit stream FIPS 140-2 tests at a time.
const fipsBlock = 20000

// randomness is what the tests show about a sample of tokens.
type randomness struct {
	Samples int
	// Alpha is the significance level asked for; Level is what each of
	// the Tests single tests is held to (Alpha/Tests).
	Alpha float64
	Level float64
	Tests int
	// Alphabet is the alphabet of the varying characters in the order
	// of its encoding; each character gives BitsPerChar bits.
	Alphabet    string
	BitsPerChar int
	Length      int // characters compared: the shortest token's length
	// MaxBits is the entropy the varying positions could carry.
	// EffectiveBits is what Burp calls effective entropy: the bit
	// positions that pass, less what failing character-level tests
	// take away. With an alphabet of k characters, k not a power of
	// two, each tested bit stands for log2(k)/BitsPerChar bits, the
	// share of the character's entropy it speaks for (22 characters of
	// base62 carry 131 bits, not 110).
	MaxBits       float64
	EffectiveBits float64
	StreamBits    int // bits in the stream the FIPS tests read
	Stream        []bitTest
	Chars         []charPosition
	Bits          []bitPosition
	// DetectableBias is the least bias of one bit (0.1: set in 60% of
	// tokens) that this sample catches nine times in ten at Level; 0.5
	// or more means only bits that never vary can be seen.
	// NeededSamples is how many samples catch a bias of 0.1.
	DetectableBias float64
	NeededSamples  int
}

// bitTest is one FIPS 140-2 test of the bit stream.
type bitTest struct {
	Name  string  // monobit, poker, runs, long run
	Block int     // which 20,000-bit block, from 0
	Bits  int     // bits tested
	Stat  float64 // ones, poker X, runs chi-square, longest run
	P     float64
	// FIPS is set for a full 20,000-bit block, which FIPSPass judges
	// by the intervals of FIPS 140-2 (each about a 1e-4 level, with no
	// correction for the number of blocks).
	FIPS     bool
	FIPSPass bool
	Passed   bool // P at or above Level
}

// charPosition is what one character position shows.
type charPosition struct {
	Pos     int
	Varies  bool
	MaxBits int // bits the alphabet gives it (0 when it never varies)
	Bits    int // bits it adds to the effective entropy
	// Chi is the p-value of the chi-square test of its characters
	// against uniform; Serial of the test that it is independent of
	// the position before. NaN when not run.
	Chi    float64
	Serial float64
	// Seen counts the characters that occur; Support is the p-value of
	// the chi-square test of uniform over just those (how much a
	// failing position keeps: see judgeChar).
	Seen    int
	Support float64
	// Entropy is the observed Shannon entropy in bits, with the
	// Miller-Madow correction for the plug-in estimate's bias.
	Entropy    float64
	MutualInfo float64 // observed, with the position before, bits
	P          float64 // the least p-value of its tests and bits
	Passed     bool
}

// bitPosition is what one bit of one character position shows across
// the samples.
type bitPosition struct {
	Char, Bit int // Bit 0 is the most significant
	N, Ones   int // samples that gave the bit, and how many set it
	Fixed     bool
	// p-values, NaN when not run: the share of ones, the runs of equal
	// values in sample order, and a linear dependence on earlier bits.
	Monobit, Runs, Linear float64
	P                     float64
	Passed                bool
}

// randomVerdict says what the sample shows.
type randomVerdict int

const (
	tooFewToTell randomVerdict = iota // nothing failed, but the sample is small
	noWeakness                        // nothing failed with a sample large enough
	weakTokens                        // the tokens are guessable
)

// randomnessTests runs the tests on tokens at significance level alpha
// (0.01 when alpha is not between 0 and 1).
func randomnessTests(tokens []string, alpha float64) randomness {
	if !(alpha > 0 && alpha < 1) {
		alpha = 0.01
	}
	r := randomness{Samples: len(tokens), Alpha: alpha}
	if len(tokens) < 2 {
		return r
	}
	tb := toBits(tokens)
	r.Alphabet, r.BitsPerChar, r.Length = tb.alphabet, tb.b, tb.length
	r.Chars = charTests(tb)
	r.Bits = bitTests(tb)
	stream := tb.stream(r.Bits)
	r.StreamBits = len(stream)
	r.Stream = streamTests(stream)
	r.judge()
	return r
}

// tokenBits is the sample as character indexes.
//
// The mapping follows Burp Sequencer: every character of a varying
// position becomes its index in the alphabet, and the index gives
// b = floor(log2 k) bits for an alphabet of k characters. The alphabet
// is the smallest usual encoding holding every varying character (hex,
// base32, base64url, ...), in the encoding's own order, so that the bits
// tested are the bits the generator encoded; otherwise the characters
// seen, sorted. One alphabet serves all positions (Burp takes the
// characters seen at each position), so a position that only ever shows
// half of them fails instead of quietly counting one bit less.
// When k is not a power of two, an index of 2^b or more gives no bits:
// the bits of the other indexes are then exactly uniform for a uniform
// character, where keeping them would bias the top bit.
type tokenBits struct {
	alphabet string
	k, b     int
	length   int
	n        int
	// index[pos][sample] is the character's index; nil for a position
	// that never varies.
	index [][]int
}

func toBits(tokens []string) tokenBits {
	tb := tokenBits{n: len(tokens), length: len(tokens[0])}
	for _, t := range tokens {
		tb.length = min(tb.length, len(t))
	}
	tb.index = make([][]int, tb.length)
	var chars []byte
	for pos := range tb.length {
		seen := map[byte]bool{}
		for _, t := range tokens {
			seen[t[pos]] = true
		}
		if len(seen) > 1 {
			tb.index[pos] = []int{}
			for c := range seen {
				chars = append(chars, c)
			}
		}
	}
	if len(chars) == 0 {
		return tb
	}
	tb.alphabet = alphabetHolding(chars)
	tb.k = len(tb.alphabet)
	if tb.k > 1 {
		tb.b = bits.Len(uint(tb.k)) - 1
	}
	for pos, ix := range tb.index {
		if ix == nil {
			continue
		}
		for _, t := range tokens {
			ix = append(ix, strings.IndexByte(tb.alphabet, t[pos]))
		}
		tb.index[pos] = ix
	}
	return tb
}

// encodings are the usual token alphabets, in encoding order.
func encodings() []string {
	return []string{
		"0123456789",
		"0123456789abcdef",
		"0123456789ABCDEF",
		"abcdefghijklmnopqrstuvwxyz234567",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
		"0123456789abcdefghijklmnopqrstuvwxyz",
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
	}
}

// alphabetHolding is the smallest usual encoding holding chars, or the
// distinct chars sorted.
func alphabetHolding(chars []byte) string {
	for _, e := range encodings() {
		if !slices.ContainsFunc(chars, func(c byte) bool { return strings.IndexByte(e, c) < 0 }) {
			return e
		}
	}
	slices.Sort(chars)
	return string(slices.Compact(chars))
}

// bit is bit j (0 the most significant) of the character at pos in
// sample s: 0 or 1, or -1 when the index gives no bits.
func (tb tokenBits) bit(pos, j, s int) int8 {
	v := tb.index[pos][s]
	if v >= 1<<tb.b {
		return -1
	}
	return int8(v >> (tb.b - 1 - j) & 1)
}

// stream is the bits of every sample in turn, position by position,
// less the bit positions that never vary: they carry no entropy, the
// per-position tests already count them out, and left in they would
// fail the stream tests of tokens that are fine (the last character of
// 32 random bytes in base64url always has two zero bits).
func (tb tokenBits) stream(bitPos []bitPosition) []byte {
	out := make([]byte, 0, tb.n*len(bitPos))
	for s := range tb.n {
		for _, bp := range bitPos {
			if v := tb.bit(bp.Char, bp.Bit, s); !bp.Fixed && v >= 0 {
				out = append(out, byte(v))
			}
		}
	}
	return out
}

// judge sets the corrected level, what passes, the effective entropy
// and how much the sample can see.
func (r *randomness) judge() {
	r.Tests = len(r.Stream)
	for _, b := range r.Bits {
		r.Tests += ran(b.Monobit) + ran(b.Runs) + ran(b.Linear)
	}
	for _, c := range r.Chars {
		r.Tests += ran(c.Chi) + ran(c.Serial)
	}
	r.Level = r.Alpha / float64(max(r.Tests, 1))
	for i := range r.Stream {
		r.Stream[i].Passed = r.Stream[i].P >= r.Level
	}
	passing := make([]int, r.Length)
	for i := range r.Bits {
		b := &r.Bits[i]
		b.P = minP(b.Monobit, b.Runs, b.Linear)
		// A bit that never varies fails by its share of ones like any
		// other: ten samples cannot tell a stuck bit from chance.
		b.Passed = b.P >= r.Level
		if b.Passed {
			passing[b.Char]++
		}
	}
	perBit := 0.0
	if r.BitsPerChar > 0 {
		perBit = math.Log2(float64(len(r.Alphabet))) / float64(r.BitsPerChar)
	}
	for i := range r.Chars {
		c := &r.Chars[i]
		r.judgeChar(c, passing[i])
		r.MaxBits += float64(c.MaxBits) * perBit
		r.EffectiveBits += float64(c.Bits) * perBit
	}
	r.DetectableBias, r.NeededSamples = r.power()
}

// judgeChar counts a position's passing bits. When its characters are
// not uniform it keeps at most the whole bits of the characters it
// shows, if it shows them uniformly, else of its observed entropy (the
// entropy alone would round a uniform choice of 16 of 64 characters
// down to 3 bits half the time). When it depends on the position
// before, it loses one bit or its observed mutual information.
func (r *randomness) judgeChar(c *charPosition, passing int) {
	c.P = minP(c.Chi, c.Serial)
	for _, b := range r.Bits {
		if b.Char == c.Pos {
			c.P = min(c.P, b.P)
		}
	}
	c.Passed = c.Varies && c.P >= r.Level
	c.Bits = passing
	if c.Chi < r.Level && c.Support >= r.Level {
		c.Bits = min(c.Bits, bits.Len(uint(c.Seen))-1)
	} else if c.Chi < r.Level {
		c.Bits = min(c.Bits, int(c.Entropy))
	}
	if c.Serial < r.Level {
		c.Bits -= max(1, int(math.Ceil(c.MutualInfo)))
	}
	c.Bits = max(c.Bits, 0)
}

// power is the least bias of one bit caught nine times in ten at
// Level, and the samples needed to catch a bias of 0.1: for a bit set
// with probability 1/2+d, the monobit z grows as 2d*sqrt(n).
func (r randomness) power() (float64, int) {
	if r.BitsPerChar == 0 || r.Level == 0 {
		return 0.5, 0
	}
	z := math.Sqrt2*math.Erfcinv(r.Level) + math.Sqrt2*math.Erfinv(0.8)
	kept := float64(int(1)<<r.BitsPerChar) / float64(len(r.Alphabet))
	d := z / (2 * math.Sqrt(float64(r.Samples)*kept))
	return d, int(math.Ceil(math.Pow(z/0.2, 2) / kept))
}

// verdict says whether the sample shows the tokens weak, and why.
// A failure is evidence at any sample size (the level is corrected);
// passing means something only with enough samples.
func (r randomness) verdict() (randomVerdict, []string) {
	if r.Samples < 2 {
		return tooFewToTell, nil
	}
	// Judged as printed, rounded, as tokenAnalysis does.
	var why []string
	if math.Round(r.MaxBits) < strongBits {
		why = append(why, fmt.Sprintf("only %.0f bits vary", r.MaxBits))
	} else if math.Round(r.EffectiveBits) < strongBits {
		why = append(why, fmt.Sprintf("effective entropy about %.0f bits, under %d", r.EffectiveBits, strongBits))
	}
	why = append(why, r.streamFailures()...)
	switch {
	case len(why) > 0:
		return weakTokens, why
	case r.Samples >= r.NeededSamples:
		return noWeakness, nil
	}
	return tooFewToTell, nil
}

// streamFailures names the stream tests that failed, once each.
func (r randomness) streamFailures() []string {
	var why []string
	for _, name := range []string{"monobit", "poker", "runs", "long run"} {
		n, p := 0, 1.0
		for _, t := range r.Stream {
			if t.Name == name && !t.Passed {
				n, p = n+1, min(p, t.P)
			}
		}
		if n > 0 {
			why = append(why, fmt.Sprintf("the bit stream fails the %s test (%d of %s, p = %.1g)", name, n, plural(r.blocks(), "block"), p))
		}
	}
	return why
}

func (r randomness) blocks() int { return max(1, r.StreamBits/fipsBlock) }

// summary is one paragraph for a person.
func (r randomness) summary() string {
	pct := strconv.FormatFloat(r.Alpha*100, 'g', -1, 64) + "%"
	s := fmt.Sprintf("Effective entropy about %.0f bits of %.0f (significance %s, %s samples): ", r.EffectiveBits, r.MaxBits, pct, thousands(r.Samples))
	v, why := r.verdict()
	switch v {
	case weakTokens:
		s += "the tokens are weak: " + strings.Join(why, "; ") + ". "
	case noWeakness:
		s += "no test found a weakness. "
	default:
		s += fmt.Sprintf("no test found a weakness, but %s samples are too few to tell; the result is indicative only. ", thousands(r.Samples))
	}
	return s + r.details() + r.confidence()
}

// details counts what failed where.
func (r randomness) details() string {
	var fixed, failed int
	for _, b := range r.Bits {
		failed += boolInt(!b.Passed)
		fixed += boolInt(!b.Passed && b.Fixed)
	}
	var chi, serial int
	for _, c := range r.Chars {
		chi += boolInt(c.Chi < r.Level)
		serial += boolInt(c.Serial < r.Level)
	}
	s := fmt.Sprintf("Of %d bit positions, %d fail a test (share of ones, runs across samples, or linear dependence on earlier bits), %d of them never varying; of the character positions, %d are not uniform and %d depend on the one before. ",
		len(r.Bits), failed, fixed, chi, serial)
	if r.StreamBits >= fipsBlock {
		s += fmt.Sprintf("The FIPS 140-2 tests read %s of 20,000 bits; %d of %d block tests are outside the FIPS intervals. ", plural(r.blocks(), "block"), r.fipsFailures(), len(r.Stream))
	} else {
		s += fmt.Sprintf("With %s bits, fewer than FIPS 140-2's 20,000, its tests ran in their statistical forms. ", thousands(r.StreamBits))
	}
	return s
}

func (r randomness) fipsFailures() int {
	n := 0
	for _, t := range r.Stream {
		n += boolInt(t.FIPS && !t.FIPSPass)
	}
	return n
}

// confidence says what the sample could have seen.
func (r randomness) confidence() string {
	s := fmt.Sprintf("Each of %d tests was held to %.2g (Bonferroni), ", r.Tests, r.Level)
	if r.DetectableBias >= 0.5 {
		return s + fmt.Sprintf("so only bits that never vary could be seen; about %s samples would catch a bit set in 60%% of tokens.", thousands(r.NeededSamples))
	}
	return s + fmt.Sprintf("so a bit set in %.0f%% of tokens or more would be caught nine times in ten; about %s samples would catch one set in 60%%.",
		100*(0.5+r.DetectableBias), thousands(r.NeededSamples))
}

// thousands writes n with commas: 20,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ran counts a p-value that was computed (NaN marks a test not run).
func ran(p float64) int { return boolInt(!math.IsNaN(p)) }

// minP is the least of the p-values that were computed, 1 if none.
func minP(ps ...float64) float64 {
	m := 1.0
	for _, p := range ps {
		if !math.IsNaN(p) {
			m = min(m, p)
		}
	}
	return m
}

// ---- per bit position, across samples ----

// bitTests tests every bit of every varying position across the
// samples; the linear test needs every bit of every sample, so it runs
// only for alphabets of a power of two characters.
func bitTests(tb tokenBits) []bitPosition {
	var out []bitPosition
	var cols [][]int8
	for pos, ix := range tb.index {
		if ix == nil {
			continue
		}
		for j := range tb.b {
			col := make([]int8, tb.n)
			for s := range col {
				col[s] = tb.bit(pos, j, s)
			}
			cols = append(cols, col)
			out = append(out, bitColumn(pos, j, col))
		}
	}
	if tb.k&(tb.k-1) == 0 {
		for i, p := range linearDependence(cols) {
			out[i].Linear = p
		}
	}
	return out
}

// bitColumn runs the monobit and runs tests on one bit position.
func bitColumn(pos, j int, col []int8) bitPosition {
	bp := bitPosition{Char: pos, Bit: j, Runs: math.NaN(), Linear: math.NaN()}
	var seq []byte
	for _, v := range col {
		if v >= 0 {
			seq = append(seq, byte(v))
			bp.Ones += int(v)
		}
	}
	bp.N = len(seq)
	bp.Fixed = bp.Ones == 0 || bp.Ones == bp.N
	bp.Monobit = monobitP(bp.Ones, bp.N)
	if !bp.Fixed {
		bp.Runs = runsAcrossP(seq, bp.Ones)
	}
	return bp
}

// monobitP is the exact two-sided binomial p-value of ones set bits
// among n: twice the tail beyond them, summed from the inside out until
// the terms no longer count. (The normal approximation is far off in the
// tails that the corrected level reaches with a few dozen samples.)
func monobitP(ones, n int) float64 {
	m := min(ones, n-ones)
	if 2*m == n {
		return 1
	}
	lc := lchoose(n, m) - float64(n)*math.Ln2
	term, sum := math.Exp(lc), 0.0
	for i := m; i >= 0 && term >= sum*1e-17; i-- {
		sum += term
		term *= float64(i) / float64(n-i+1)
	}
	return min(1, 2*sum)
}

// lchoose is the natural log of n choose k.
func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// runsAcrossP is the Wald-Wolfowitz runs test of seq in sample order:
// a counter's low bit alternates, a timestamp's bits change slowly,
// though each shows ones half the time.
func runsAcrossP(seq []byte, ones int) float64 {
	n := float64(len(seq))
	n1, n0 := float64(ones), n-float64(ones)
	runs := 1.0
	for i := 1; i < len(seq); i++ {
		if seq[i] != seq[i-1] {
			runs++
		}
	}
	mean := 1 + 2*n0*n1/n
	variance := 2 * n0 * n1 * (2*n0*n1 - n) / (n * n * (n - 1))
	if variance <= 0 {
		return math.NaN()
	}
	d := max(math.Abs(runs-mean)-0.5, 0) // continuity correction
	return math.Erfc(d / math.Sqrt(2*variance))
}

// linearDependence finds bit positions that are an XOR, with or
// without a constant, of earlier ones (CRCs and parity are; so is a
// bit that never varies), by Gaussian elimination over GF(2) with the
// samples as coordinates. A random column lies in the span of r
// independent columns of n samples with probability 2^(r-n), its
// p-value: with far fewer bits than samples a dependence is certain
// evidence, with more bits than samples every late column is dependent
// by chance and passes.
func linearDependence(cols [][]int8) []float64 {
	if len(cols) == 0 {
		return nil
	}
	n := len(cols[0])
	ones := make([]int8, n)
	for i := range ones {
		ones[i] = 1
	}
	var basis []gf2Vector
	basis, _ = addToBasis(basis, packBits(ones))
	out := make([]float64, len(cols))
	for i, c := range cols {
		out[i] = math.Exp2(float64(len(basis) - n))
		var independent bool
		if basis, independent = addToBasis(basis, packBits(c)); independent {
			out[i] = 1
		}
	}
	return out
}

// gf2Vector is a vector over GF(2) with the index of its pivot bit.
type gf2Vector struct {
	words []uint64
	pivot int
}

func packBits(col []int8) []uint64 {
	w := make([]uint64, (len(col)+63)/64)
	for i, v := range col {
		w[i/64] |= uint64(v&1) << (i % 64)
	}
	return w
}

// addToBasis reduces v by the basis (each vector has zeros at the
// pivots of those before it) and adds what is left, if anything.
func addToBasis(basis []gf2Vector, v []uint64) ([]gf2Vector, bool) {
	for _, b := range basis {
		if v[b.pivot/64]>>(b.pivot%64)&1 == 1 {
			for i := range v {
				v[i] ^= b.words[i]
			}
		}
	}
	for i, w := range v {
		if w != 0 {
			return append(basis, gf2Vector{v, i*64 + bits.TrailingZeros64(w)}), true
		}
	}
	return basis, false
}

// ---- per character position ----

// charTests tests each character position's distribution and its
// dependence on the position before.
func charTests(tb tokenBits) []charPosition {
	out := make([]charPosition, tb.length)
	for pos, ix := range tb.index {
		c := charPosition{Pos: pos, Chi: math.NaN(), Serial: math.NaN(), Support: math.NaN()}
		if ix != nil {
			c.Varies, c.MaxBits = true, tb.b
			c.Chi = uniformChiP(ix, tb.k)
			c.Entropy, c.Seen = entropyOf(ix)
			c.Support = uniformChiP(ranks(ix), c.Seen)
			if pos > 0 && tb.index[pos-1] != nil {
				c.Serial, c.MutualInfo = serialP(tb.index[pos-1], ix, tb.k)
			}
		}
		out[pos] = c
	}
	return out
}

// groups is into how many groups (ranges of index) to put k characters
// so that n samples leave at least five expected in each cell of a
// table of dims dimensions: the chi-square approximation's rule, which
// grouping keeps with few samples.
func groups(k, n, dims int) int {
	g := 1
	for g < k && float64(n)/math.Pow(float64(g+1), float64(dims)) >= 5 {
		g++
	}
	return g
}

// uniformChiP is the chi-square test of the indexes against uniform
// over k characters, in groups of index ranges when samples are few.
func uniformChiP(ix []int, k int) float64 {
	g := groups(k, len(ix), 1)
	if g < 2 {
		return math.NaN()
	}
	observed, size := make([]float64, g), make([]float64, g)
	for i := range k {
		size[i*g/k]++
	}
	for _, v := range ix {
		observed[v*g/k]++
	}
	n, x := float64(len(ix)), 0.0
	for j := range g {
		e := n * size[j] / float64(k)
		x += (observed[j] - e) * (observed[j] - e) / e
	}
	return chiSquareP(x, float64(g-1))
}

// serialP is the chi-square test of independence between two positions
// (in groups when samples are few), with their observed mutual
// information in bits.
func serialP(a, b []int, k int) (float64, float64) {
	g := groups(k, len(a), 2)
	if g < 2 {
		return math.NaN(), 0
	}
	table := make([][]float64, g)
	rows, cols := make([]float64, g), make([]float64, g)
	for i := range table {
		table[i] = make([]float64, g)
	}
	for s := range a {
		x, y := a[s]*g/k, b[s]*g/k
		table[x][y]++
		rows[x]++
		cols[y]++
	}
	return independenceP(table, rows, cols, float64(len(a)))
}

// independenceP is the chi-square test of independence of a table and
// its plug-in mutual information.
func independenceP(table [][]float64, rows, cols []float64, n float64) (float64, float64) {
	x, mi := 0.0, 0.0
	for i, row := range table {
		for j, o := range row {
			e := rows[i] * cols[j] / n
			if e == 0 {
				continue
			}
			x += (o - e) * (o - e) / e
			if o > 0 {
				mi += o / n * math.Log2(o/e)
			}
		}
	}
	df := float64((nonZero(rows) - 1) * (nonZero(cols) - 1))
	if df < 1 {
		return math.NaN(), 0
	}
	return chiSquareP(x, df), mi
}

func nonZero(v []float64) int {
	n := 0
	for _, x := range v {
		n += boolInt(x > 0)
	}
	return n
}

// entropyOf is the Shannon entropy of the values in bits, by the
// plug-in estimate plus the Miller-Madow correction (m-1)/2n nats for m
// distinct values among n, and m.
func entropyOf(ix []int) (float64, int) {
	counts := map[int]float64{}
	for _, v := range ix {
		counts[v]++
	}
	n, h := float64(len(ix)), 0.0
	for _, c := range counts {
		h -= c / n * math.Log2(c/n)
	}
	m := len(counts)
	return h + float64(m-1)/(2*n*math.Ln2), m
}

// ranks replaces each value by its rank among the distinct values.
func ranks(ix []int) []int {
	distinct := slices.Compact(slices.Sorted(slices.Values(ix)))
	out := make([]int, len(ix))
	for i, v := range ix {
		out[i], _ = slices.BinarySearch(distinct, v)
	}
	return out
}

// ---- the bit stream: FIPS 140-2 ----

// streamTests runs the four FIPS 140-2 tests on each full 20,000-bit
// block of the stream (a partial last block is left out), or on the
// whole stream, in the tests' statistical forms, when it is shorter.
func streamTests(stream []byte) []bitTest {
	if len(stream) < fipsBlock {
		return fipsTests(stream, 0)
	}
	var out []bitTest
	for i := 0; (i+1)*fipsBlock <= len(stream); i++ {
		out = append(out, fipsTests(stream[i*fipsBlock:(i+1)*fipsBlock], i)...)
	}
	return out
}

// fipsTests runs monobit, poker, runs and long run on one block. A
// test needing more bits than the block has is left out.
func fipsTests(block []byte, i int) []bitTest {
	if len(block) == 0 {
		return nil
	}
	full := len(block) == fipsBlock
	var out []bitTest
	add := func(name string, stat, p float64, pass bool) {
		out = append(out, bitTest{Name: name, Block: i, Bits: len(block), Stat: stat, P: p, FIPS: full, FIPSPass: full && pass})
	}
	ones := 0
	for _, b := range block {
		ones += int(b)
	}
	add("monobit", float64(ones), monobitP(ones, len(block)), fipsMonobitPass(ones))
	if x, p, ok := poker(block); ok {
		add("poker", x, p, fipsPokerPass(x))
	}
	rc := countRuns(block)
	if x, p, ok := rc.chiSquare(ones, len(block)); ok {
		add("runs", x, min(1, 2*min(p, runsAcrossP(block, ones))), rc.fipsPass())
	}
	add("long run", float64(rc.longest), longRunP(len(block), rc.longest), rc.longest < 26)
	return out
}

// The FIPS 140-2 intervals for a 20,000-bit block. (A long run, of 26
// equal bits or more, fails.)
func fipsMonobitPass(ones int) bool { return ones > 9725 && ones < 10275 }
func fipsPokerPass(x float64) bool  { return x > 2.16 && x < 46.17 }

// poker is the FIPS poker test: X = 16/k * sum f(i)^2 - k over the
// k 4-bit segments, chi-square with 15 degrees of freedom, failing in
// either tail (too even is as suspicious as too uneven). It needs five
// segments expected per value.
func poker(block []byte) (x, p float64, ok bool) {
	k := len(block) / 4
	if k < 80 {
		return 0, 0, false
	}
	var f [16]float64
	for i := range k {
		s := block[4*i : 4*i+4]
		f[s[0]<<3|s[1]<<2|s[2]<<1|s[3]]++
	}
	sum := 0.0
	for _, c := range f {
		sum += c * c
	}
	x = 16/float64(k)*sum - float64(k)
	p = 2 * min(gammaQ(7.5, x/2), gammaP(7.5, x/2))
	return x, min(p, 1), true
}

// runCounts counts the runs of 0s (runs[0]) and 1s (runs[1]) by length
// 1 to 5, and 6 or more.
type runCounts struct {
	runs    [2][6]int
	longest int
}

func countRuns(block []byte) runCounts {
	var rc runCounts
	for i := 0; i < len(block); {
		j := i
		for j < len(block) && block[j] == block[i] {
			j++
		}
		rc.runs[block[i]][min(j-i, 6)-1]++
		rc.longest = max(rc.longest, j-i)
		i = j
	}
	return rc
}

// fipsPass judges the counts by the FIPS 140-2 intervals, the same for
// runs of 0s and of 1s.
func (rc runCounts) fipsPass() bool {
	intervals := [6][2]int{{2315, 2685}, {1114, 1386}, {527, 723}, {240, 384}, {103, 209}, {103, 209}}
	for _, r := range rc.runs {
		for l, c := range r {
			if c < intervals[l][0] || c > intervals[l][1] {
				return false
			}
		}
	}
	return true
}

// chiSquare tests the lengths of the runs of each value against the
// geometric distribution a random stream gives them, with the chance q
// that a run of v ends taken from the sample (runs over bits of v), so
// that a share of ones off by chance does not count twice: cells 1 to
// K-1 and K or more, K at most 6 and small enough that five runs are
// expected in each. With q estimated the statistic lies between
// chi-square with K-2 and K-1 degrees of freedom (Chernoff and
// Lehmann); K-1 is the safe side. Too many or too few runs in all is
// the Wald-Wolfowitz test's to see, which fipsTests adds.
func (rc runCounts) chiSquare(ones, n int) (x, p float64, ok bool) {
	df := 0
	for v, r := range rc.runs {
		total := sumFrom(r[:], 0)
		bitsOfV := ones
		if v == 0 {
			bitsOfV = n - ones
		}
		if total == 0 {
			return 0, 0, false
		}
		q := float64(total) / float64(bitsOfV)
		cells := 6
		for cells > 2 && float64(total)*math.Pow(1-q, float64(cells-1)) < 5 {
			cells--
		}
		if float64(total)*math.Pow(1-q, float64(cells-1)) < 5 {
			return 0, 0, false
		}
		for l := range cells {
			o, e := float64(r[l]), float64(total)*q*math.Pow(1-q, float64(l))
			if l == cells-1 {
				o, e = float64(sumFrom(r[:], l)), float64(total)*math.Pow(1-q, float64(l))
			}
			x += (o - e) * (o - e) / e
		}
		df += cells - 1
	}
	return x, chiSquareP(x, float64(df)), true
}

func sumFrom(v []int, from int) int {
	s := 0
	for _, c := range v[from:] {
		s += c
	}
	return s
}

// longRunP is the probability that n random bits hold a run of at
// least l equal bits. With a(m) the probability that m bits starting a
// run are all in runs shorter than l, a(m) = sum over j<l of
// a(m-j)/2^j, which telescopes to a(m+1) = a(m) - a(m+1-l)/2^l; the
// first bit is free, so the answer is 1 - 2a(n). Runs past 60 bits
// take the union bound n/2^(l-1), an upper bound and so a safe p-value.
func longRunP(n, l int) float64 {
	switch {
	case l <= 1:
		return 1
	case l > n:
		return 0
	case l > 60:
		return min(1, float64(n)*math.Exp2(float64(1-l)))
	}
	a := make([]float64, n+1)
	a[0], a[1] = 1, 0.5
	for m := 1; m < n; m++ {
		a[m+1] = a[m]
		if m+1-l >= 0 {
			a[m+1] -= a[m+1-l] * math.Exp2(float64(-l))
		}
	}
	return max(0, 1-2*a[n])
}

// ---- distributions ----

// chiSquareP is the upper tail of the chi-square distribution with df
// degrees of freedom at x.
func chiSquareP(x, df float64) float64 { return gammaQ(df/2, x/2) }

// gammaP is the regularized lower incomplete gamma function P(a, x),
// by its series below a+1 and as 1-Q above (Numerical Recipes 6.2:
// each form converges fast on its side).
func gammaP(a, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x < a+1 {
		return gammaSeries(a, x)
	}
	return 1 - gammaFraction(a, x)
}

// gammaQ is the regularized upper incomplete gamma function Q(a, x).
func gammaQ(a, x float64) float64 {
	if x <= 0 {
		return 1
	}
	if x < a+1 {
		return 1 - gammaSeries(a, x)
	}
	return gammaFraction(a, x)
}

// gammaFront is x^a e^-x / Gamma(a), computed in logs.
func gammaFront(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	return math.Exp(a*math.Log(x) - x - lg)
}

// gammaSeries is P(a, x) = x^a e^-x / Gamma(a+1) * sum x^n / ((a+1)...(a+n)).
func gammaSeries(a, x float64) float64 {
	term := 1 / a
	sum := term
	for n := 1; n < 100000; n++ {
		term *= x / (a + float64(n))
		sum += term
		if math.Abs(term) < math.Abs(sum)*1e-15 {
			break
		}
	}
	return sum * gammaFront(a, x)
}

// gammaFraction is Q(a, x) by its continued fraction, evaluated with
// the modified Lentz method.
func gammaFraction(a, x float64) float64 {
	const tiny = 1e-300
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1; i < 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return gammaFront(a, x) * h
}
