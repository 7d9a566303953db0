package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// tokenBytes is the amount of randomness in a token: 256 bits.
const tokenBytes = 32

// tokenLen is the length of an encoded token: unpadded base64url of 32 bytes.
const tokenLen = 43

var tokenEncoding = base64.RawURLEncoding.Strict()

// ID identifies a session in a store: the SHA-256 of the token's 32 random
// bytes. Knowing an ID does not let anyone authenticate.
type ID [sha256.Size]byte

// String returns the ID in lowercase hexadecimal.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hexadecimal digits of the ID, for logs and
// events.
func (id ID) Short() string { return hex.EncodeToString(id[:6]) }

// IsZero reports whether id is the zero ID, which no token hashes to.
func (id ID) IsZero() bool { return id == ID{} }

// ErrBadID is returned by ParseID for anything but 64 hexadecimal digits.
var ErrBadID = errors.New("session: malformed session id")

// ParseID parses the hexadecimal form returned by ID.String.
func ParseID(s string) (ID, error) {
	var id ID
	err := parseHex(id[:], s)
	return id, err
}

// parseHex decodes s, exactly 2*len(dst) hexadecimal digits, into dst.
func parseHex(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		clear(dst)
		return ErrBadID
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		clear(dst)
		return ErrBadID
	}
	return nil
}

// newToken returns a fresh token and its ID.
func newToken() (string, ID) {
	var raw [tokenBytes]byte
	rand.Read(raw[:]) // never returns an error; crashes the program if the OS fails
	return tokenEncoding.EncodeToString(raw[:]), ID(sha256.Sum256(raw[:]))
}

// parseToken validates an encoded token and returns its ID. Only the exact
// canonical encoding of 32 bytes is accepted.
func parseToken(tok string) (ID, bool) {
	if len(tok) != tokenLen {
		return ID{}, false
	}
	var src [tokenLen]byte // a copy on the stack keeps parsing allocation-free
	copy(src[:], tok)
	var raw [tokenBytes + 1]byte // DecodedLen(43) rounds up
	n, err := tokenEncoding.Decode(raw[:], src[:])
	if err != nil || n != tokenBytes {
		return ID{}, false
	}
	return ID(sha256.Sum256(raw[:tokenBytes])), true
}

// IDOfToken returns the ID a store keeps for the given token, and false when
// the token is not well formed. It is for tests and tools that hold a token
// (for instance one read from a browser's cookie jar).
func IDOfToken(tok string) (ID, bool) { return parseToken(tok) }

// Handle names a session for its whole life (see Session.Handle).
type Handle [16]byte

// NewHandle returns a random handle.
func NewHandle() Handle {
	var h Handle
	rand.Read(h[:])
	return h
}

// String returns the handle in lowercase hexadecimal.
func (h Handle) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hexadecimal digits of the handle, for logs,
// events and pages.
func (h Handle) Short() string { return hex.EncodeToString(h[:6]) }

// IsZero reports whether h is the zero handle, which no session has.
func (h Handle) IsZero() bool { return h == Handle{} }

// ParseHandle parses the hexadecimal form returned by Handle.String.
func ParseHandle(s string) (Handle, error) {
	var h Handle
	err := parseHex(h[:], s)
	return h, err
}
