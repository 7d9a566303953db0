package lab

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

const statelessCookie = "session"

// b64 is strict so that no two encodings decode to the same bytes.
var b64 = base64.RawURLEncoding.Strict()

// stateless keeps the session in a signed cookie, as Flask does by
// default. The server remembers nothing, so logout cannot revoke a copy.
type stateless struct{ key []byte }

type statelessPayload struct {
	User  string `json:"u"`
	Nonce string `json:"n"`
}

func newStateless() *stateless {
	key := make([]byte, 32)
	rand.Read(key)
	return &stateless{key: key}
}

func (s *stateless) sign(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (s *stateless) user(w http.ResponseWriter, r *http.Request, issue bool) string {
	v := cookieID(r, statelessCookie)
	payload, sig, ok := strings.Cut(v, ".")
	if !ok {
		return ""
	}
	mac, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.sign(payload)) {
		return ""
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return ""
	}
	var p statelessPayload
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	return p.User
}

// login always mints a fresh cookie; whatever the request carried is
// replaced.
func (s *stateless) login(w http.ResponseWriter, r *http.Request, user string) {
	if user == "" {
		return
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	raw, err := json.Marshal(statelessPayload{User: user, Nonce: base64.RawURLEncoding.EncodeToString(nonce)})
	if err != nil {
		return
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	value := payload + "." + base64.RawURLEncoding.EncodeToString(s.sign(payload))
	http.SetCookie(w, strictCookie(statelessCookie, value))
}

func (s *stateless) logout(w http.ResponseWriter, r *http.Request) {
	expire(w, strictCookie(statelessCookie, ""))
}
