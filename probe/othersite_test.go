package probe_test

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/probe"
)

// otherSite is a sound site built unlike ConnectBook and the lab: the
// login form is at /signin, with an email field, a double-submit CSRF
// token (a cookie issued before login) and a remember-me box; login sets
// an unrelated cookie after the session cookie "__Host-sid" and redirects twice;
// the signed-in page is /account; logout is a POST form with the token;
// sessions end after a second unused.
func otherSite(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	type sess struct {
		user string
		seen time.Time
	}
	sessions := map[string]*sess{}
	random := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	csrf := func(w http.ResponseWriter, r *http.Request) string {
		if c, err := r.Cookie("csrf"); err == nil {
			return c.Value
		}
		v := random()
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: v, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		return v
	}
	csrfOK := func(r *http.Request) bool {
		c, err := r.Cookie("csrf")
		return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("token"))) == 1
	}
	user := func(r *http.Request) string {
		c, err := r.Cookie("__Host-sid")
		if err != nil {
			return ""
		}
		mu.Lock()
		defer mu.Unlock()
		s := sessions[c.Value]
		if s == nil || time.Since(s.seen) > time.Second {
			delete(sessions, c.Value)
			return ""
		}
		s.seen = time.Now()
		return s.user
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post" action="/signin"><input type="hidden" name="token" value="%s">
<input type="email" name="email"><input type="password" name="pw"><input type="checkbox" name="remember" value="yes">
<input type="submit" value="Sign in"></form>`, csrf(w, r))
	})
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		if !csrfOK(r) || r.PostFormValue("email") != "carol@example.test" || r.PostFormValue("pw") != "correct horse" {
			http.Error(w, "Wrong email or password", http.StatusUnauthorized)
			return
		}
		if old, err := r.Cookie("__Host-sid"); err == nil {
			mu.Lock()
			delete(sessions, old.Value)
			mu.Unlock()
		}
		id := random()
		mu.Lock()
		sessions[id] = &sess{user: "Carol", seen: time.Now()}
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "__Host-sid", Value: id, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark", Path: "/"})
		http.Redirect(w, r, "/welcome", http.StatusFound)
	})
	mux.HandleFunc("GET /welcome", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/account", http.StatusFound)
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		u := user(r)
		if u == "" {
			http.Redirect(w, r, "/signin", http.StatusFound)
			return
		}
		fmt.Fprintf(w, `<h1>Hello, %s</h1><form method="post" action="/signout"><input type="hidden" name="token" value="%s"><button>Sign out</button></form>`, u, csrf(w, r))
	})
	mux.HandleFunc("POST /signout", func(w http.ResponseWriter, r *http.Request) {
		if !csrfOK(r) {
			http.Error(w, "Bad token", http.StatusForbidden)
			return
		}
		if c, err := r.Cookie("__Host-sid"); err == nil {
			mu.Lock()
			delete(sessions, c.Value)
			mu.Unlock()
		}
		http.SetCookie(w, &http.Cookie{Name: "__Host-sid", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestOtherSite(t *testing.T) {
	srv := otherSite(t)
	for _, tc := range []struct {
		name string
		cfg  probe.Config
	}{
		{"username and password", probe.Config{Username: "carol@example.test", Password: "correct horse"}},
		{"fields", probe.Config{Fields: map[string]string{"email": "carol@example.test", "pw": "correct horse"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Target, cfg.LoginPath, cfg.AuthedPath, cfg.AuthedText = srv.URL, "/signin", "/account", "Hello, Carol"
			cfg.IdleWait = 1200 * time.Millisecond
			rep := run(t, cfg)
			if len(rep.Findings) > 0 || len(rep.Skipped) > 0 {
				t.Fatalf("findings %v, skipped %v; want none", ids(rep), rep.Skipped)
			}
		})
	}
}

// A logout path that is not on the page is reported as a check not run,
// not passed over in silence.
func TestLogoutPathNotFound(t *testing.T) {
	srv := startLab(t, "stateless")
	rep := run(t, probe.Config{Target: srv.URL, Username: "alice", Password: "password123", LogoutPath: "/sign-off"})
	// The lab's cookie lacks the __Host- prefix: that note only.
	if got := ids(rep); !slices.Equal(got, []string{probe.CookieScope}) {
		t.Fatalf("findings = %v, want only cookie-scope (logout was not found, so not replayed)", got)
	}
	if !slices.ContainsFunc(rep.Skipped, func(s string) bool { return strings.Contains(s, "logout-replay") && strings.Contains(s, "/sign-off") }) {
		t.Fatalf("skipped = %v, want logout-replay naming /sign-off", rep.Skipped)
	}
}
