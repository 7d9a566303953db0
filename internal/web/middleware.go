package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxBody bounds every request body; ConnectBook's largest form is a few
// kilobytes.
const maxBody = 64 << 10

func (a *app) securityHeaders(next http.Handler) http.Handler {
	type header struct {
		key   string // canonical
		value []string
	}
	var fixed []header
	for _, kv := range [][2]string{
		{"Content-Security-Policy", contentSecurityPolicy},
		{"X-Content-Type-Options", "nosniff"},
		{"Referrer-Policy", "same-origin"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
		{"Cross-Origin-Resource-Policy", "same-origin"},
		{"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
	} {
		fixed = append(fixed, header{http.CanonicalHeaderKey(kv[0]), []string{kv[1]}})
	}
	hsts := []string{"max-age=63072000; includeSubDomains"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The value slices are shared by every response; Header.Set and
		// Header.Add replace or grow them without writing into them.
		for _, f := range fixed {
			h[f.key] = f.value
		}
		if a.TLS || a.BehindProxy && r.Header.Get("X-Forwarded-Proto") == "https" && fromProxy(r) {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests from other origins (Go's
// CrossOriginProtection, using Sec-Fetch-Site and Origin).
func (a *app) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.Audit.Record(r.Context(), a.event(r, audit.CSRFRejected, "cross-origin "+r.Method+" "+r.URL.Path))
		a.clientError(w, r, http.StatusForbidden, "Request refused",
			"This request came from another site, so ConnectBook refused it. If you meant to do this, go to ConnectBook and try again there.")
	}))
	return cop.Handler(next)
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != http.NoBody { // a GET's, most of the time: nothing to limit
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// Cache-Control values, shared by every response (net/http never writes
// into a header's values).
var (
	cacheNoStore = []string{"no-store"}
	cachePublic  = []string{"public, max-age=3600"}
)

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = cacheNoStore
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = cachePublic
		next.ServeHTTP(w, r)
	})
}

func (a *app) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				w.Header().Set("Connection", "close")
				a.serverError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type viewerKey struct{}

// viewer returns the signed-in user, or nil.
func viewer(r *http.Request) *data.User {
	u, _ := r.Context().Value(viewerKey{}).(*data.User)
	return u
}

// loadViewer loads the user of the request's session. A session whose user
// no longer exists, or whose credentials changed since it was issued, is
// ended.
func (a *app) loadViewer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := session.FromContext(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		u, err := a.Account.SessionUser(r.Context(), sess)
		if account.IsEnded(err) {
			if err := a.Account.EndStale(w, r); err != nil {
				a.serverError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, &u)))
	})
}

func (a *app) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if viewer(r) == nil {
			target := "/login"
			if next := returnTo(r); next != "" {
				target += "?" + url.Values{"next": {next}}.Encode()
			}
			a.carryEnded(w, r)
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireCSRFToken checks the form's csrf_token against the session's.
func (a *app) requireCSRFToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.parseForm(w, r) {
			return
		}
		want := session.CSRFToken(r.Context())
		got := r.PostForm.Get("csrf_token")
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			a.Audit.Record(r.Context(), a.event(r, audit.CSRFRejected, "missing or wrong form token on "+r.URL.Path))
			a.clientError(w, r, http.StatusForbidden, "This form has expired",
				"ConnectBook could not confirm that this form came from your current session. Go back, reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// event starts a security event about the request.
func (a *app) event(r *http.Request, kind, detail string) data.Event {
	e := data.Event{
		Kind:      kind,
		ClientIP:  ClientIP(a.BehindProxy)(r),
		UserAgent: clip(r.UserAgent(), 512),
		Detail:    detail,
	}
	if s, ok := session.FromContext(r.Context()); ok {
		e.Session = s.Handle.Short()
	}
	if u := viewer(r); u != nil {
		e.UserID, e.Username = u.ID, u.Username
	}
	return e
}
