package web

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/connectbook/connectbook/internal/web/ui"
)

// routes reads as the access policy: which routes are public, which need a
// signed-in user, and which protections wrap them.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	static, err := fs.Sub(ui.Files, "static")
	if err != nil {
		panic(err)
	}
	// Every page: the session (if any), the signed-in user, no caching.
	dynamic := chain(a.Sessions.Middleware, a.loadViewer, noStore)

	// Files: the style sheet and pictures, the icons browsers ask for by
	// name, robots.txt. A file that is not there gets the site's 404 page.
	mux.Handle("GET /static/", a.staticFiles(static, dynamic.then(http.HandlerFunc(a.notFound))))
	mux.HandleFunc("GET /favicon.ico", a.favicon)
	mux.HandleFunc("GET /apple-touch-icon.png", a.appleTouchIcon)
	mux.HandleFunc("GET /apple-touch-icon-precomposed.png", a.appleTouchIcon)
	mux.HandleFunc("GET /robots.txt", a.robots)

	mux.Handle("GET /security", dynamic.then(http.HandlerFunc(a.security)))

	// For supervisors and load balancers: no session, no cookie, nothing
	// of a user's.
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /{$}", dynamic.then(http.HandlerFunc(a.home)))
	mux.Handle("GET /signup", dynamic.then(a.credentialsForm("signup.html")))
	mux.Handle("POST /signup", dynamic.then(http.HandlerFunc(a.signupSubmit)))
	mux.Handle("GET /login", dynamic.then(a.credentialsForm("login.html")))
	mux.Handle("POST /login", dynamic.then(http.HandlerFunc(a.loginSubmit)))
	mux.Handle("GET /u/{username}", dynamic.then(http.HandlerFunc(a.userShow)))
	mux.Handle("GET /u/{username}/followers", dynamic.then(http.HandlerFunc(a.userFollowers)))
	mux.Handle("GET /u/{username}/following", dynamic.then(http.HandlerFunc(a.userFollowing)))
	mux.Handle("GET /posts/{id}", dynamic.then(http.HandlerFunc(a.postShow)))
	mux.Handle("GET /search", dynamic.then(http.HandlerFunc(a.search)))

	// Signed-in users only; state changes carry the session's CSRF token.
	protected := dynamic.append(a.requireUser)
	changes := protected.append(a.requireCSRFToken)
	mux.Handle("GET /profile", protected.then(http.HandlerFunc(a.profileForm)))
	mux.Handle("POST /profile", changes.then(http.HandlerFunc(a.profileSubmit)))
	// Signing out checks its form token itself: a stale tab is asked
	// again, someone signed out already is told so.
	mux.Handle("GET /logout", dynamic.then(http.HandlerFunc(a.logoutForm)))
	mux.Handle("POST /logout", dynamic.then(http.HandlerFunc(a.logout)))
	mux.Handle("POST /notices/{id}/dismiss", changes.then(http.HandlerFunc(a.noticeDismiss)))

	// The social network: every change is a POST with the CSRF token.
	mux.Handle("POST /posts", changes.then(http.HandlerFunc(a.postCreate)))
	mux.Handle("GET /posts/{id}/delete", protected.then(http.HandlerFunc(a.postDeleteForm)))
	mux.Handle("POST /posts/{id}/delete", changes.then(http.HandlerFunc(a.postDelete)))
	for _, action := range []string{"follow", "unfollow", "block", "unblock", "mute", "unmute"} {
		mux.Handle("POST /u/{username}/"+action, changes.then(a.userRelate(action)))
	}
	mux.Handle("GET /notifications", protected.then(http.HandlerFunc(a.notificationsShow)))
	mux.Handle("GET /follow-requests", protected.then(http.HandlerFunc(a.requestsShow)))
	mux.Handle("POST /follow-requests/{username}/approve", changes.then(http.HandlerFunc(a.requestApprove)))
	mux.Handle("POST /follow-requests/{username}/decline", changes.then(http.HandlerFunc(a.requestDecline)))
	mux.Handle("GET /settings/privacy", protected.then(http.HandlerFunc(a.privacyShow)))
	mux.Handle("POST /settings/privacy", changes.then(http.HandlerFunc(a.privacySubmit)))

	// The account security center. Sensitive actions also need the
	// password confirmed recently (the account layer checks).
	mux.Handle("GET /settings", protected.then(http.RedirectHandler("/settings/sessions", http.StatusSeeOther)))
	mux.Handle("GET /settings/sessions", protected.then(http.HandlerFunc(a.sessionsShow)))
	mux.Handle("POST /settings/sessions/{id}/revoke", changes.then(http.HandlerFunc(a.sessionRevoke)))
	mux.Handle("POST /settings/sessions/revoke-others", changes.then(http.HandlerFunc(a.sessionsRevokeOthers)))
	mux.Handle("GET /settings/password", protected.then(http.HandlerFunc(a.passwordForm)))
	mux.Handle("POST /settings/password", changes.then(http.HandlerFunc(a.passwordSubmit)))
	mux.Handle("GET /settings/reauth", protected.then(http.HandlerFunc(a.reauthForm)))
	mux.Handle("POST /settings/reauth", changes.then(http.HandlerFunc(a.reauthSubmit)))
	mux.Handle("GET /settings/delete", protected.then(http.HandlerFunc(a.deleteForm)))
	mux.Handle("POST /settings/delete", changes.then(http.HandlerFunc(a.deleteSubmit)))
	mux.Handle("GET /settings/activity", protected.then(http.HandlerFunc(a.activityShow)))

	// Other methods on these paths get 405 rather than the 404 below.
	for path, allow := range map[string]string{
		"/signup": "GET, HEAD, POST", "/login": "GET, HEAD, POST", "/profile": "GET, HEAD, POST",
		"/logout": "GET, HEAD, POST", "/{$}": "GET, HEAD", "/security": "GET, HEAD", "/static/": "GET, HEAD",
		"/favicon.ico": "GET, HEAD", "/apple-touch-icon.png": "GET, HEAD", "/apple-touch-icon-precomposed.png": "GET, HEAD",
		"/robots.txt": "GET, HEAD", "/healthz": "GET, HEAD", "/readyz": "GET, HEAD", "/u/{username}": "GET, HEAD", "/notices/{id}/dismiss": "POST",
		"/settings": "GET, HEAD", "/settings/sessions": "GET, HEAD", "/settings/sessions/{id}/revoke": "POST",
		"/settings/sessions/revoke-others": "POST", "/settings/password": "GET, HEAD, POST",
		"/settings/reauth": "GET, HEAD, POST", "/settings/delete": "GET, HEAD, POST", "/settings/activity": "GET, HEAD",
		"/u/{username}/followers": "GET, HEAD", "/u/{username}/following": "GET, HEAD", "/posts/{id}": "GET, HEAD",
		"/search": "GET, HEAD", "/posts": "POST", "/posts/{id}/delete": "GET, HEAD, POST",
		"/u/{username}/follow": "POST", "/u/{username}/unfollow": "POST", "/u/{username}/block": "POST",
		"/u/{username}/unblock": "POST", "/u/{username}/mute": "POST", "/u/{username}/unmute": "POST",
		"/notifications": "GET, HEAD", "/follow-requests": "GET, HEAD", "/follow-requests/{username}/approve": "POST",
		"/follow-requests/{username}/decline": "POST", "/settings/privacy": "GET, HEAD, POST",
	} {
		mux.Handle(path, dynamic.then(a.methodNotAllowed(allow)))
	}
	mux.Handle("/", dynamic.then(http.HandlerFunc(a.notFound)))

	// Every request: a line in the access log, panics become 500s, security headers, cross-origin
	// requests that change state are refused, bodies are bounded.
	return chain(a.accessLog, a.recoverPanic, a.securityHeaders, a.crossOrigin, limitBody).then(mux)
}

// middlewares compose left to right: chain(a, b).then(h) is a(b(h)).
type middlewares []func(http.Handler) http.Handler

func chain(m ...func(http.Handler) http.Handler) middlewares { return m }

func (ms middlewares) append(m ...func(http.Handler) http.Handler) middlewares {
	return append(ms[:len(ms):len(ms)], m...)
}

func (ms middlewares) then(h http.Handler) http.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}

// staticFiles serves the embedded files, cacheable; any other path under
// /static/ goes to notFound.
func (a *app) staticFiles(files fs.FS, notFound http.Handler) http.Handler {
	serve := cacheStatic(http.StripPrefix("/static/", http.FileServerFS(filesOnly{files})))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if !fs.ValidPath(name) {
			notFound.ServeHTTP(w, r)
			return
		}
		f, err := filesOnly{files}.Open(name)
		if err != nil {
			notFound.ServeHTTP(w, r)
			return
		}
		f.Close()
		serve.ServeHTTP(w, r)
	})
}

// filesOnly serves files and nothing else: a directory is not found, so
// there are no listings.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}
