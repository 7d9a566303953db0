package lab

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// maxForm bounds the login form body; the form has two short fields.
const maxForm = 16 << 10

// scheme is how a variant keeps sessions; the pages around it are shared.
type scheme interface {
	// user returns the request's logged-in user, or "". With issue set
	// (GET of /, /login and /profile), variants that hand out sessions
	// before login may set a cookie.
	user(w http.ResponseWriter, r *http.Request, issue bool) string
	// login runs after every login attempt; user is "" when the
	// credentials were wrong.
	login(w http.ResponseWriter, r *http.Request, user string)
	// logout ends the request's session as the variant does.
	logout(w http.ResponseWriter, r *http.Request)
}

// router is implemented by variants with pages of their own, which they
// render with v.
type router interface {
	routes(mux *http.ServeMux, v view)
}

// profileGate is implemented by variants that send some logged-in
// sessions elsewhere instead of showing the profile.
type profileGate interface {
	profileRedirect(r *http.Request, user string) string
}

type app struct {
	s      scheme
	users  map[string]string
	v      view
	lesson *lesson
	// site is the whole variant, which the walkthrough's simulated
	// browsers send their requests to.
	site    http.Handler
	cbSlots chan struct{}
}

func newApp(s scheme, users map[string]string, variant, cookie string) http.Handler {
	a := &app{s: s, users: users, v: view{variant: variant, hole: descriptions[variant]},
		lesson: lessons(variant, cookie), cbSlots: make(chan struct{}, cbSlots)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.loginPost)
	mux.HandleFunc("GET /profile", a.profile)
	mux.HandleFunc("GET /logout", a.logout)
	mux.Handle("GET /static/{file}", a.v.static())
	// The walkthrough's steps are POSTs that make the server act; other
	// sites' pages may not press its buttons.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.v.fail(w, http.StatusForbidden, "The walkthrough's buttons work only from the lab's own pages.")
	}))
	mux.HandleFunc("GET /walkthrough", a.walkthrough)
	mux.Handle("POST /walkthrough/step", cop.Handler(http.HandlerFunc(a.walkStep)))
	mux.Handle("POST /walkthrough/connectbook", cop.Handler(http.HandlerFunc(a.walkConnectBook)))
	if rt, ok := s.(router); ok {
		rt.routes(mux, a.v)
	}
	a.site = noStore(a.v.errorPages(mux))
	return a.site
}

// noStore keeps session-bearing pages out of every cache, errors included.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if a.s.user(w, r, true) != "" {
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
		return
	}
	a.v.render(w, http.StatusOK, "home", "Welcome", nil)
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	if a.s.user(w, r, true) != "" {
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
		return
	}
	a.v.render(w, http.StatusOK, "login", "Log in", loginData{})
}

func (a *app) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		a.v.fail(w, http.StatusBadRequest, "The sign-in form could not be read.")
		return
	}
	user := r.PostForm.Get("username")
	if !a.check(user, r.PostForm.Get("password")) {
		a.s.login(w, r, "")
		a.v.render(w, http.StatusOK, "login", "Log in", loginData{Error: "Invalid credentials"})
		return
	}
	a.s.login(w, r, user)
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
}

func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	user := a.s.user(w, r, true)
	if user == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if g, ok := a.s.(profileGate); ok {
		if to := g.profileRedirect(r, user); to != "" {
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
	}
	a.v.render(w, http.StatusOK, "profile", "Your profile", user)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.s.logout(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// check compares hashes so that neither the password's length nor
// whether the user exists shows in the timing.
func (a *app) check(user, password string) bool {
	want, ok := a.users[user]
	got, exp := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(got[:], exp[:]) == 1 && ok
}
