// Command gosessions is a Go login on one of two session libraries, as
// their READMEs show it:
//
//	go run . scs      alexedwards/scs (memory store), no RenewToken at login
//	go run . gorilla  gorilla/sessions' cookie store
package main

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"html"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"
)

var users = map[string]string{"alice": "pw-secret-123", "mallory": "pw-mallory-789"}

// store is what a session library offers the handlers.
type store interface {
	user(r *http.Request) string
	setUser(w http.ResponseWriter, r *http.Request, name string) error
	clear(w http.ResponseWriter, r *http.Request) error
}

type scsStore struct{ m *scs.SessionManager }

func (s scsStore) user(r *http.Request) string { return s.m.GetString(r.Context(), "user") }
func (s scsStore) setUser(_ http.ResponseWriter, r *http.Request, name string) error {
	s.m.Put(r.Context(), "user", name)
	return nil
}
func (s scsStore) clear(_ http.ResponseWriter, r *http.Request) error {
	return s.m.Destroy(r.Context())
}

type gorillaStore struct{ c *sessions.CookieStore }

func (s gorillaStore) user(r *http.Request) string {
	sess, _ := s.c.Get(r, "session")
	name, _ := sess.Values["user"].(string)
	return name
}
func (s gorillaStore) setUser(w http.ResponseWriter, r *http.Request, name string) error {
	sess, _ := s.c.Get(r, "session")
	sess.Values["user"] = name
	return sess.Save(r, w)
}
func (s gorillaStore) clear(w http.ResponseWriter, r *http.Request) error {
	sess, _ := s.c.Get(r, "session")
	delete(sess.Values, "user")
	return sess.Save(r, w)
}

func loginForm(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><title>Log in</title>")
	if msg != "" {
		fmt.Fprintf(w, "<p>%s</p>", html.EscapeString(msg))
	}
	fmt.Fprint(w, `<form method="post" action="/login"><input name="username"> <input name="password" type="password"><button>Log in</button></form>`)
}

func routes(s store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><a href="/login">Log in</a>`)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { loginForm(w, "") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		name, pw := r.PostFormValue("username"), r.PostFormValue("password")
		want, ok := users[name]
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(pw)) != 1 {
			loginForm(w, "Invalid username or password")
			return
		}
		if err := s.setUser(w, r, name); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		name := s.user(r)
		if name == "" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Profile</title><p>Welcome, %s</p><form method="post" action="/logout"><button>Log out</button></form>`, html.EscapeString(name))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := s.clear(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	return mux
}

func main() {
	var h http.Handler
	switch mode := os.Args[len(os.Args)-1]; mode {
	case "scs":
		m := scs.New()
		m.Lifetime = 12 * time.Hour
		h = m.LoadAndSave(routes(scsStore{m}))
	case "gorilla":
		key := make([]byte, 32)
		rand.Read(key)
		h = routes(gorillaStore{sessions.NewCookieStore(key)})
	default:
		log.Fatalf("usage: gosessions scs|gorilla, not %q", mode)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), h))
}
