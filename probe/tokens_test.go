package probe

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func sample(n int, gen func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = gen(i)
	}
	return out
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestAnalyzeTokens(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tokens  []string
		weak    bool
		minBits float64
		maxBits float64
		why     string
	}{
		{"256-bit base64url", sample(20, func(int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }), false, 200, 260, ""},
		{"128-bit hex", sample(20, func(int) string { return hex.EncodeToString(randomBytes(16)) }), false, 128, 128, ""},
		{"64-bit hex", sample(20, func(int) string { return hex.EncodeToString(randomBytes(8)) }), true, 64, 64, "under 128 bits"},
		{"sequential", sample(20, func(i int) string { return fmt.Sprintf("session%d", i+7) }), true, 0, 20, "a counter"},
		{"six digits", sample(20, func(int) string {
			n, _ := rand.Int(rand.Reader, big.NewInt(900000))
			return fmt.Sprint(n.Int64() + 100000)
		}), true, 10, 21, "under 128 bits"},
		{"random with a fixed suffix", sample(20, func(i int) string {
			return base64.RawURLEncoding.EncodeToString(randomBytes(30)) + "-v1"
		}), false, 200, 260, ""},
		{"signed payload with a shared prefix", sample(20, func(int) string {
			return base64.RawURLEncoding.EncodeToString([]byte(`{"u":"alice","n":"`+hex.EncodeToString(randomBytes(8))+`"}`)) +
				"." + base64.RawURLEncoding.EncodeToString(randomBytes(32))
		}), false, 128, 600, ""},
		{"96-bit hex after a fixed prefix", sample(20, func(int) string { return "sess_" + hex.EncodeToString(randomBytes(12)) }), true, 96, 96, "under 128 bits"},
		{"96-bit hex with dashes", sample(20, func(int) string {
			h := hex.EncodeToString(randomBytes(12))
			return h[:8] + "-" + h[8:16] + "-" + h[16:]
		}), true, 96, 96, "under 128 bits"},
		{"UUIDv4 (122 bits)", sample(20, func(int) string {
			b := randomBytes(16)
			b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
			h := hex.EncodeToString(b)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}), true, 118, 125, "under 128 bits"},
		{"256-bit uppercase hex", sample(20, func(int) string { return strings.ToUpper(hex.EncodeToString(randomBytes(32))) }), false, 256, 256, ""},
		{"timestamp-like", sample(20, func(i int) string { return fmt.Sprintf("1700000%03d%s", i*3, hex.EncodeToString(randomBytes(4))) }), true, 0, 80, "under 128 bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := analyzeTokens(tc.tokens)
			why := a.Weak()
			if (len(why) > 0) != tc.weak {
				t.Fatalf("Weak() = %v, want weak %v (%s)", why, tc.weak, a)
			}
			if a.Bits < tc.minBits || a.Bits > tc.maxBits {
				t.Errorf("Bits = %.1f, want %.0f to %.0f (%s)", a.Bits, tc.minBits, tc.maxBits, a)
			}
			if tc.why != "" && !strings.Contains(strings.Join(why, "; "), tc.why) {
				t.Errorf("Weak() = %v, want it to mention %q", why, tc.why)
			}
			if !strings.Contains(a.String(), "bits") {
				t.Errorf("String() = %q, want the estimate", a)
			}
		})
	}
}

func TestAnalyzeDuplicates(t *testing.T) {
	tok := hex.EncodeToString(randomBytes(32))
	tokens := append(sample(18, func(int) string { return hex.EncodeToString(randomBytes(32)) }), tok, tok)
	a := analyzeTokens(tokens)
	if a.Duplicates != 1 || !strings.Contains(strings.Join(a.Weak(), ";"), "1 duplicate") {
		t.Fatalf("duplicates = %d, Weak() = %v", a.Duplicates, a.Weak())
	}
}

func TestPlant(t *testing.T) {
	for _, tc := range []struct{ like, shape string }{
		{"123456", `^[0-9]{6}$`},
		{"0A1B2C3D4E5F60718293A4B5C6D7E8F9", `^[0-9A-F]{32}$`},
		{"9f86d081884c7d659a2feaa0c55ad015", `^[0-9a-f]{32}$`},
		{"session5", `^[a-z]{7}[0-9]$`},
		{"eyJ1Ijoi.Zm9v-_", `^[a-z]{2}[A-Z][0-9][A-Z][a-z]{3}\.[A-Z][a-z][0-9][a-z]-_$`},
		{"----", `^[a-z]{5}[0-9]{26}$`},
	} {
		got := plant(tc.like, nil)
		if !regexp.MustCompile(tc.shape).MatchString(got) || got == tc.like {
			t.Errorf("plant(%q) = %q, want a new id matching %s", tc.like, got, tc.shape)
		}
	}
	if got := plant("s%3Aabc%2Bdef", nil); !regexp.MustCompile(`^[a-z]%3A[a-z]{3}%2B[a-z]{3}$`).MatchString(got) {
		t.Errorf("plant kept no escapes: %q", got)
	}
}

// With a sample of the site's tokens, a planted id keeps what they share.
func TestPlantFromSample(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gen   func() string
		shape string
	}{
		{"prefixed hex", func() string { return "sess_" + hex.EncodeToString(randomBytes(16)) }, `^sess_[0-9a-f]{32}$`},
		{"uppercase hex with a node suffix", func() string { return strings.ToUpper(hex.EncodeToString(randomBytes(16))) + ".node1" }, `^[0-9A-F]{32}\.node1$`},
		{"UUIDv4", func() string {
			h := hex.EncodeToString(randomBytes(16))
			return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
		}, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sample := sample(20, func(int) string { return tc.gen() })
			got := plant(sample[0], sample)
			if !regexp.MustCompile(tc.shape).MatchString(got) || slices.Contains(sample, got) {
				t.Fatalf("plant = %q, want a new id matching %s", got, tc.shape)
			}
		})
	}
}

func TestRecordFormats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  func() string
		format string // a word of the format's name; "" for not a record
	}{
		{"JWT", func() string {
			return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
		}, "JSON"},
		{"Flask session", func() string { return "eyJ1c2VyIjoiYWxpY2UifQ.ZxYzAb.c2lnbmF0dXJlc2lnbmF0dXJl" }, "JSON"},
		{"Flask compressed session", itsdangerousCompressed, "zlib"},
		{"Django signed cookie", djangoSigned, "timestamp"},
		{"itsdangerous timestamped, opaque payload", itsdangerousOpaque, "timestamp"},
		{"Rails encrypted cookie", railsEncrypted, "Rails' encrypted"},
		{"Rails signed cookie", func() string {
			return base64.StdEncoding.EncodeToString([]byte(`{"user":"alice"}`)) + "--" + hex.EncodeToString(randomBytes(20))
		}, "Rails' signed"},
		{"Laravel encrypted cookie", laravelEncrypted, "Laravel"},
		{"gorilla/securecookie", securecookie, "gorilla"},
		{"random hex", func() string { return hex.EncodeToString(randomBytes(32)) }, ""},
		{"random base64url", func() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }, ""},
		{"express-session signed id", func() string {
			return "s%3A" + base64.RawURLEncoding.EncodeToString(randomBytes(24)) + "." + base64.RawStdEncoding.EncodeToString(randomBytes(32))
		}, ""},
		{"dotted words", func() string { return "abc.def" }, ""},
		{"an opaque 128-bit hash", func() string { return hex.EncodeToString(randomBytes(16)) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sample := []string{tc.token(), tc.token(), tc.token()}
			got, ok := recordFormat(sample)
			if ok != (tc.format != "") || !strings.Contains(got, tc.format) {
				t.Fatalf("recordFormat(%q) = %q, %v; want one naming %q", sample[0], got, ok, tc.format)
			}
		})
	}
	// One token of another shape makes the sample not records.
	if _, ok := recordFormat([]string{railsEncrypted(), hex.EncodeToString(randomBytes(32))}); ok {
		t.Error("a sample mixing a record and a random id taken for records")
	}
}

// The record makers below build values as the frameworks do, with the
// current second in them where the framework puts it there.

func itsdangerousCompressed() string {
	var b bytes.Buffer
	z := zlib.NewWriter(&b)
	z.Write([]byte(`{"_fresh":true,"_user_id":"1","csrf_token":"2b9a3c"}`))
	z.Close()
	return "." + base64.RawURLEncoding.EncodeToString(b.Bytes()) + "." + itsTime() + "." + base64.RawURLEncoding.EncodeToString(randomBytes(20))
}

func itsdangerousOpaque() string {
	return base64.RawURLEncoding.EncodeToString([]byte("alice")) + "." + itsTime() + "." + base64.RawURLEncoding.EncodeToString(randomBytes(20))
}

func itsTime() string {
	var ts [4]byte
	binary.BigEndian.PutUint32(ts[:], uint32(time.Now().Unix()))
	return base64.RawURLEncoding.EncodeToString(ts[:])
}

func djangoSigned() string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	n, ts := time.Now().Unix(), ""
	for ; n > 0; n /= 62 {
		ts = string(digits[n%62]) + ts
	}
	return base64.RawURLEncoding.EncodeToString([]byte(`{"_auth_user_id":"1"}`)) + ":" + ts + ":" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func railsEncrypted() string {
	return url.QueryEscape(base64.StdEncoding.EncodeToString(randomBytes(90)) + "--" +
		base64.StdEncoding.EncodeToString(randomBytes(12)) + "--" + base64.StdEncoding.EncodeToString(randomBytes(16)))
}

func laravelEncrypted() string {
	v, _ := json.Marshal(map[string]string{"iv": base64.StdEncoding.EncodeToString(randomBytes(16)),
		"value": base64.StdEncoding.EncodeToString(randomBytes(64)), "mac": hex.EncodeToString(randomBytes(32)), "tag": ""})
	return url.QueryEscape(base64.StdEncoding.EncodeToString(v))
}

func securecookie() string {
	inner := fmt.Sprintf("%d|%s|", time.Now().Unix(), base64.URLEncoding.EncodeToString([]byte("alice")))
	return base64.URLEncoding.EncodeToString(append([]byte(inner), randomBytes(32)...))
}

// A sample of identical values (records signed in the same second) still
// gives a planted id unlike them, without looping.
func TestPlantFromIdenticalSample(t *testing.T) {
	v := securecookie()
	done := make(chan string, 1)
	go func() { done <- plant(v, []string{v, v, v}) }()
	select {
	case got := <-done:
		if got == v || len(got) != len(v) {
			t.Fatalf("plant = %q, want a new id shaped like %q", got, v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("plant did not return")
	}
}
