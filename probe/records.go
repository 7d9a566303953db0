package probe

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Many frameworks keep the session itself in the cookie, signed or
// encrypted, rather than a random id that names it on the server. Such a
// value is a record: data the server wrote and a signature, or a
// ciphertext and its authentication tag. Two logins in the same second can
// give the same record (the data and the time are the same), which looks
// like a duplicate id but is not a guessable one; a record's strength is
// its key's, which no sample of values can show. So the weak-token check
// recognises records by their structure and leaves them unjudged.

// recordFormat returns the name of the record format every one of tokens
// follows, if they all follow the same one.
func recordFormat(tokens []string) (string, bool) {
	if len(tokens) == 0 {
		return "", false
	}
	for _, f := range recordFormats {
		all := true
		for _, t := range tokens {
			if !f.is(unescape(t)) {
				all = false
				break
			}
		}
		if all {
			return f.name, true
		}
	}
	return "", false
}

// recordFormats are tried in order; the first every token follows names
// them.
var recordFormats = []struct {
	name string
	is   func(string) bool
}{
	{"signed JSON records (a JWT, or data and a signature as Flask's and itsdangerous's cookies hold them)", isSignedJSON},
	{"compressed signed records (a '.', zlib-compressed data, a timestamp and a signature, as Flask and itsdangerous make them)", isCompressedRecord},
	{"timestamped signed records (data, the time it was signed and a signature, as itsdangerous and Django's signing make them)", isTimestamped},
	{"encrypted records (ciphertext--IV--authentication tag, as Rails' encrypted cookie store makes them)", isRailsEncrypted},
	{"signed records (data--HMAC, as Rails' signed cookies make them)", isRailsSigned},
	{"encrypted records (base64 JSON holding iv, value and mac, as Laravel's encrypted cookies make them)", isLaravel},
	{"signed records (one base64 value holding a timestamp, the data and an HMAC, as gorilla/securecookie makes them)", isTimeValueMAC},
}

// unescape undoes the URL encoding some frameworks apply to the cookie.
func unescape(t string) string {
	if u, err := url.QueryUnescape(t); err == nil {
		return u
	}
	return t
}

// decode64 decodes s in any of the base64 alphabets, padded or not.
func decode64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// isMAC reports whether s holds a signature or tag of at least 16 bytes,
// in base64 or hex.
func isMAC(s string) bool {
	if b, err := hex.DecodeString(s); err == nil {
		return len(b) >= 16
	}
	b, ok := decode64(s)
	return ok && len(b) >= 16
}

// isSignedJSON: JSON data and a signature, separated by dots (a JWT, or
// itsdangerous' data.signature); the last part must be a signature.
func isSignedJSON(t string) bool {
	parts := strings.Split(t, ".")
	return len(parts) >= 2 && (isJSON(parts[0]) || isJSON(parts[1])) && isMAC(parts[len(parts)-1])
}

// unsignedJWTs reports whether every token is a JWT with no signature (an
// empty one, or the "none" algorithm): records anyone can write.
func unsignedJWTs(tokens []string) bool {
	for _, t := range tokens {
		parts := strings.Split(unescape(t), ".")
		if len(parts) != 3 || !isJSON(parts[0]) {
			return false
		}
		var header struct {
			Alg string `json:"alg"`
		}
		b, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
		if json.Unmarshal(b, &header) != nil || (parts[2] != "" && !strings.EqualFold(header.Alg, "none")) {
			return false
		}
	}
	return len(tokens) > 0
}

func isCompressedRecord(t string) bool {
	sep := "."
	if strings.HasPrefix(t, ".") && strings.Count(t, ":") >= 2 {
		sep = ":" // Django's signing compresses the same way
	}
	parts := strings.Split(strings.TrimPrefix(t, "."), sep)
	if !strings.HasPrefix(t, ".") || len(parts) < 2 || !isMAC(parts[len(parts)-1]) {
		return false
	}
	b, ok := decode64(parts[0])
	if !ok {
		return false
	}
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, io.LimitReader(r, 1<<16))
	return err == nil
}

// plausibleTime reports whether secs, seconds since the Unix epoch (or
// since itsdangerous's old 2011 epoch), is within two days of now: the
// records are signed as the probe logs in, and a number far from the
// clock (a counter, say) is no timestamp.
func plausibleTime(secs int64) bool {
	now := time.Now().Unix()
	const span = 2 * 24 * 3600
	near := func(t int64) bool { return t > now-span && t < now+span }
	return near(secs) || (secs > 0 && near(secs+1293840000))
}

// isTimestamped: payload, timestamp and signature, separated by '.' or
// ':'; the timestamp is a big-endian number in base64 (itsdangerous) or
// base62 (Django).
func isTimestamped(t string) bool {
	for _, sep := range []string{".", ":"} {
		parts := strings.Split(t, sep)
		if len(parts) < 3 || !isMAC(parts[len(parts)-1]) {
			continue
		}
		ts := parts[len(parts)-2]
		if len(ts) < 4 || len(ts) > 12 {
			continue
		}
		if b, ok := decode64(ts); ok && len(b) <= 8 {
			var full [8]byte
			copy(full[8-len(b):], b)
			if plausibleTime(int64(binary.BigEndian.Uint64(full[:]))) {
				return true
			}
		}
		if n, err := strconv.ParseInt(ts, 36, 64); err == nil && plausibleTime(n) {
			return true
		}
		if n, ok := base62(ts); ok && plausibleTime(n) {
			return true
		}
	}
	return false
}

// base62 decodes s in Django's base62 alphabet.
func base62(s string) (int64, bool) {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var n int64
	for _, c := range s {
		i := strings.IndexRune(digits, c)
		if i < 0 || n > (1<<62)/62 {
			return 0, false
		}
		n = n*62 + int64(i)
	}
	return n, true
}

func isRailsEncrypted(t string) bool {
	parts := strings.Split(t, "--")
	if len(parts) != 3 {
		return false
	}
	data, ok1 := decode64(parts[0])
	iv, ok2 := decode64(parts[1])
	tag, ok3 := decode64(parts[2])
	return ok1 && ok2 && ok3 && len(data) > 0 && len(iv) >= 12 && len(tag) >= 16
}

func isRailsSigned(t string) bool {
	parts := strings.Split(t, "--")
	if len(parts) != 2 {
		return false
	}
	_, ok := decode64(parts[0])
	b, err := hex.DecodeString(parts[1])
	return ok && err == nil && len(b) >= 20
}

func isLaravel(t string) bool {
	b, ok := decode64(t)
	if !ok {
		return false
	}
	var v struct {
		IV    string `json:"iv"`
		Value string `json:"value"`
		MAC   string `json:"mac"`
		Tag   string `json:"tag"`
	}
	return json.Unmarshal(b, &v) == nil && v.IV != "" && v.Value != "" && (v.MAC != "" || v.Tag != "")
}

// isTimeValueMAC: base64 of "timestamp|value|mac", gorilla/securecookie's
// layout.
func isTimeValueMAC(t string) bool {
	b, ok := decode64(t)
	if !ok {
		return false
	}
	parts := bytes.SplitN(b, []byte("|"), 3)
	if len(parts) != 3 || len(parts[2]) < 16 {
		return false
	}
	n, err := strconv.ParseInt(string(parts[0]), 10, 64)
	return err == nil && plausibleTime(n)
}

// signedElsewhere recognises a session kept in a pair of cookies: tokens
// are the data cookie's values, and sig names the cookie that signs them
// (cookie-session's and Koa's session.sig). It reports the values as
// records when they are data rather than ids: JSON, or text, in the clear
// or in base64, or a value that repeats.
func signedElsewhere(tokens []string, sig string) (string, bool) {
	for _, t := range tokens {
		t = unescape(t)
		b, ok := decode64(t)
		if !ok {
			b = []byte(t)
		}
		if !json.Valid(b) && !readable(b) && analyzeTokens(tokens).Duplicates == 0 {
			return "", false
		}
	}
	return "records of the session's data, signed in the separate " + sig + " cookie (as cookie-session and Koa keep sessions)", true
}

// readable reports whether b is printable ASCII text.
func readable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return len(b) > 0
}

// sameTimeSpan is how close in time tokens count as issued together, and
// how long the weak-token check waits before one more when every value
// was the same.
const sameTimeSpan = 2 * time.Second

// minRecordBytes: a value no longer than a SHA-256 digest could be a bare
// hash of guessable input (the user and the time), a weak id; a record
// carries data and a signature or tag besides.
const minRecordBytes = 32

// timedRecords recognises records by behaviour, whatever their layout:
// tokens, issued at the times at, repeat, yet change with the time (two
// issued at least sameTimeSpan apart differ), the way the same data signed
// or encrypted in the same second gives the same value; and each is longer
// than a bare hash. Random ids never repeat; a value that stays the same
// over time is not a record of the time.
func timedRecords(tokens []string, at []time.Time) (string, bool) {
	repeat, changed := false, false
	for i, t := range tokens {
		if n := recordBytes(t); n <= minRecordBytes {
			return "", false
		}
		for j := i + 1; j < len(tokens); j++ {
			switch {
			case tokens[j] == t:
				repeat = true
			case at[j].Sub(at[i]).Abs() >= sameTimeSpan:
				changed = true
			}
		}
	}
	if !repeat || !changed {
		return "", false
	}
	return "values that repeat when issued in the same second and change with the time, each longer than a bare hash: records of the session's data and the time they were made, signed or encrypted", true
}

// recordBytes is how many bytes t holds: decoded from base64 or hex when
// it is that, else its length.
func recordBytes(t string) int {
	t = unescape(t)
	if b, err := hex.DecodeString(t); err == nil {
		return len(b)
	}
	if b, ok := decode64(t); ok {
		return len(b)
	}
	return len(t)
}
