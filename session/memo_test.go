package session

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
)

// The remembered form token is the derived one, for each secret and handle:
// sessions that differ in either have different tokens, and a full memo
// starts over rather than growing.
func TestFormTokenMemo(t *testing.T) {
	memo := tokenMemo{m: make(map[[48]byte]string)}
	var s Session
	rand.Read(s.Secret[:])
	rand.Read(s.Handle[:])
	want := base64.RawURLEncoding.EncodeToString(derive(s, "form token"))
	for i := range 3 {
		if got := memo.get(s); got != want {
			t.Fatalf("call %d: %q, want %q", i, got, want)
		}
	}
	otherSecret := s
	otherSecret.Secret[31] ^= 1
	otherHandle := s
	otherHandle.Handle[0] ^= 1
	for name, o := range map[string]Session{"secret": otherSecret, "handle": otherHandle} {
		got := memo.get(o)
		if got == want || got != base64.RawURLEncoding.EncodeToString(derive(o, "form token")) {
			t.Errorf("another %s: %q (the first session's: %q)", name, got, want)
		}
	}
	for range tokenMemoMax + 5 {
		rand.Read(s.Handle[:])
		memo.get(s)
		if len(memo.m) > tokenMemoMax {
			t.Fatalf("%d tokens held", len(memo.m))
		}
	}
}
