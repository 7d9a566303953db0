package lab

import (
	"net/http"
	"strconv"
	"sync"
)

const seed1Cookie = "session_id"

// seed1 replicates the first write-up's app: predictable sequential ids,
// any id a client brings is used as is, and login never changes the id.
type seed1 struct {
	mu       sync.Mutex
	next     int
	sessions map[string]string // logged-in ids to usernames
}

func newSeed1() *seed1 { return &seed1{sessions: map[string]string{}} }

// issue hands out the next sequential id and sets its cookie. Ids already
// logged in (say through /set_session) are skipped, so a newcomer never
// lands in someone else's session. Ids that are not logged in are not
// stored: an unknown id and a known one without a user behave the same,
// and a flood of visits costs no memory.
func (s *seed1) issue(w http.ResponseWriter) string {
	s.mu.Lock()
	var id string
	for {
		s.next++
		id = "session" + strconv.Itoa(s.next)
		if _, taken := s.sessions[id]; !taken {
			break
		}
	}
	s.mu.Unlock()
	http.SetCookie(w, plainCookie(seed1Cookie, id))
	return id
}

func (s *seed1) user(w http.ResponseWriter, r *http.Request, issue bool) string {
	id := cookieID(r, seed1Cookie)
	if id == "" {
		if issue {
			s.issue(w)
		}
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *seed1) login(w http.ResponseWriter, r *http.Request, user string) {
	id := cookieID(r, seed1Cookie)
	if id == "" {
		id = s.issue(w)
	}
	if user == "" {
		return
	}
	s.mu.Lock()
	s.sessions[id] = user
	s.mu.Unlock()
	http.SetCookie(w, plainCookie(seed1Cookie, id))
}

// logout forgets the user on the server and leaves the cookie.
func (s *seed1) logout(w http.ResponseWriter, r *http.Request) {
	forget(&s.mu, s.sessions, cookieID(r, seed1Cookie))
}

func (s *seed1) profileRedirect(r *http.Request, user string) string {
	if cookieID(r, seed1Cookie) == "fixated_session" {
		return "/congrats"
	}
	return ""
}

func (s *seed1) routes(mux *http.ServeMux, v view) {
	mux.HandleFunc("GET /set_session/{id}", func(w http.ResponseWriter, r *http.Request) { s.setSession(w, r, v) })
	mux.HandleFunc("GET /congrats", func(w http.ResponseWriter, r *http.Request) {
		v.render(w, http.StatusOK, "message", "Congratulations", "Congratulations! You hijacked a session by fixing its id.")
	})
}

// setSession plants any id the link names: the fixation entry point.
func (s *seed1) setSession(w http.ResponseWriter, r *http.Request, v view) {
	id := r.PathValue("id")
	if !validID(id) {
		v.fail(w, http.StatusBadRequest, "Bad session id: up to 256 printable characters without spaces, quotes, commas, semicolons or backslashes.")
		return
	}
	http.SetCookie(w, plainCookie(seed1Cookie, id))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
