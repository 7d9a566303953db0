package lab

import (
	"net/http"
	"sync"
	"time"
)

const (
	laxCookie   = "lab_session"
	idleLimit   = 15 * time.Minute
	absoluteCap = 12 * time.Hour
)

type laxSession struct {
	user          string
	created, seen time.Time
}

// laxcookie is sound session handling whose only hole is the cookie's
// missing HttpOnly, Secure and SameSite flags.
type laxcookie struct {
	mu       sync.Mutex
	now      func() time.Time
	sessions map[string]*laxSession
}

func newLaxcookie(now func() time.Time) *laxcookie {
	return &laxcookie{now: now, sessions: map[string]*laxSession{}}
}

func (s *laxcookie) expired(sess *laxSession, now time.Time) bool {
	return now.Sub(sess.seen) > idleLimit || now.Sub(sess.created) > absoluteCap
}

func (s *laxcookie) user(w http.ResponseWriter, r *http.Request, issue bool) string {
	id := cookieID(r, laxCookie)
	if id == "" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil {
		return ""
	}
	now := s.now()
	if s.expired(sess, now) {
		delete(s.sessions, id)
		return ""
	}
	sess.seen = now
	return sess.user
}

// login always issues a new id and drops the one the request carried, so
// a planted id is worthless.
func (s *laxcookie) login(w http.ResponseWriter, r *http.Request, user string) {
	if user == "" {
		return
	}
	id := randomID()
	now := s.now()
	s.mu.Lock()
	delete(s.sessions, cookieID(r, laxCookie))
	// Sweep here so sessions nobody comes back for do not pile up.
	for k, sess := range s.sessions {
		if s.expired(sess, now) {
			delete(s.sessions, k)
		}
	}
	s.sessions[id] = &laxSession{user: user, created: now, seen: now}
	s.mu.Unlock()
	http.SetCookie(w, plainCookie(laxCookie, id))
}

func (s *laxcookie) logout(w http.ResponseWriter, r *http.Request) {
	forget(&s.mu, s.sessions, cookieID(r, laxCookie))
	expire(w, plainCookie(laxCookie, ""))
}
