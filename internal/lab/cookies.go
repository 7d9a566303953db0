package lab

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
)

// maxID caps values used as session ids, so memory per request and per
// stored session stays bounded.
const maxID = 256

// validID reports whether s can serve as a session id: non-empty, at most
// maxID bytes, and made of RFC 6265 cookie-octets, so that echoing it in a
// Set-Cookie neither changes nor quotes it.
func validID(s string) bool {
	if s == "" || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// cookieID returns the named cookie's value if it is a valid id, else "".
func cookieID(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || !validID(c.Value) {
		return ""
	}
	return c.Value
}

// randomID returns 32 bytes from crypto/rand, base64url without padding.
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// plainCookie carries no HttpOnly, Secure or SameSite, as the seed apps
// and laxcookie deliberately do.
func plainCookie(name, value string) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/"}
}

// strictCookie has the flags a session cookie should have.
func strictCookie(name, value string) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
}

// expire tells the browser to drop c (sent as Max-Age=0).
func expire(w http.ResponseWriter, c *http.Cookie) {
	c.Value = ""
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// forget deletes id, if any, from a variant's sessions under its lock.
func forget[V any](mu *sync.Mutex, sessions map[string]V, id string) {
	if id == "" {
		return
	}
	mu.Lock()
	delete(sessions, id)
	mu.Unlock()
}
