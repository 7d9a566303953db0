package lab

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

const seed2Cookie = "session_id"

type seed2Session struct {
	user     string
	congrats bool
}

// seed2 replicates the second write-up's app: weak random ids, the id may
// come from the URL, and login never changes it.
type seed2 struct {
	mu       sync.Mutex
	sessions map[string]*seed2Session
}

func newSeed2() *seed2 { return &seed2{sessions: map[string]*seed2Session{}} }

// id reads the session id from the cookie, else from the URL.
func (s *seed2) id(r *http.Request) string {
	if id := cookieID(r, seed2Cookie); id != "" {
		return id
	}
	if id := r.URL.Query().Get(seed2Cookie); validID(id) {
		return id
	}
	return ""
}

// newID draws a 6-digit id from a non-cryptographic generator on purpose.
// Ids of live sessions are skipped so a newcomer never joins one; the
// tries are bounded so a nearly full id space cannot stall a request.
func (s *seed2) newID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := ""
	for range 1000 {
		id = strconv.Itoa(rand.IntN(900000) + 100000)
		if _, taken := s.sessions[id]; !taken {
			break
		}
	}
	return id
}

func (s *seed2) lookup(id string) *seed2Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[id]; ok {
		c := *sess
		return &c
	}
	return nil
}

func (s *seed2) user(w http.ResponseWriter, r *http.Request, issue bool) string {
	id := s.id(r)
	if id == "" {
		if issue {
			http.SetCookie(w, plainCookie(seed2Cookie, s.newID()))
		}
		return ""
	}
	if issue && cookieID(r, seed2Cookie) == "" {
		// An id from a link becomes the browser's cookie, so the
		// write-up's attack works by link alone.
		http.SetCookie(w, plainCookie(seed2Cookie, id))
	}
	if sess := s.lookup(id); sess != nil {
		return sess.user
	}
	return ""
}

// login records the user under whatever id the request brought, and makes
// an id from the URL the cookie.
func (s *seed2) login(w http.ResponseWriter, r *http.Request, user string) {
	if user == "" {
		return
	}
	id := s.id(r)
	if id == "" {
		id = s.newID()
	}
	s.mu.Lock()
	s.sessions[id] = &seed2Session{user: user}
	s.mu.Unlock()
	http.SetCookie(w, plainCookie(seed2Cookie, id))
}

func (s *seed2) logout(w http.ResponseWriter, r *http.Request) {
	forget(&s.mu, s.sessions, s.id(r))
	expire(w, plainCookie(seed2Cookie, ""))
}

func (s *seed2) routes(mux *http.ServeMux, v view) {
	mux.HandleFunc("GET /set_congrats", s.setCongrats)
	mux.HandleFunc("GET /congratulations", func(w http.ResponseWriter, r *http.Request) { s.congratulations(w, r, v) })
}

// setCongrats marks a logged-in session, proving whoever follows the link
// is riding it.
func (s *seed2) setCongrats(w http.ResponseWriter, r *http.Request) {
	id := s.id(r)
	s.mu.Lock()
	sess := s.sessions[id]
	in := sess != nil && sess.user != ""
	if in {
		sess.congrats = true
	}
	s.mu.Unlock()
	if !in {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	to := "/congratulations"
	if q := r.URL.Query().Get(seed2Cookie); validID(q) {
		to += "?" + url.Values{seed2Cookie: {q}}.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *seed2) congratulations(w http.ResponseWriter, r *http.Request, v view) {
	sess := s.lookup(s.id(r))
	if sess == nil || !sess.congrats || sess.user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v.render(w, http.StatusOK, "message", "Congratulations", "Congratulations! The session you fixed is logged in as "+sess.user+".")
}
