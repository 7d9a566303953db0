package lab

import (
	"net/http"
	"sync"
)

const adoptCookie = "SESSIONID"

// adopt issues strong ids and well-flagged cookies, but at login it keeps
// whatever id the browser already carried, even one it never issued.
type adopt struct {
	mu       sync.Mutex
	sessions map[string]string // id to username
}

func newAdopt() *adopt { return &adopt{sessions: map[string]string{}} }

func (s *adopt) user(w http.ResponseWriter, r *http.Request, issue bool) string {
	id := cookieID(r, adoptCookie)
	if id == "" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *adopt) login(w http.ResponseWriter, r *http.Request, user string) {
	if user == "" {
		return
	}
	id := cookieID(r, adoptCookie)
	if id == "" {
		id = randomID()
	}
	s.mu.Lock()
	s.sessions[id] = user
	s.mu.Unlock()
	http.SetCookie(w, strictCookie(adoptCookie, id))
}

func (s *adopt) logout(w http.ResponseWriter, r *http.Request) {
	forget(&s.mu, s.sessions, cookieID(r, adoptCookie))
	expire(w, strictCookie(adoptCookie, ""))
}
