package session

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// tokenParams are parameter names that carry session tokens in other
// software. A request that carries one is reported; its value is never read.
var tokenParams = []string{"session_id", "sessionid", "sid", "jsessionid", "phpsessid"}

type ctxKey struct{}

// state is what the middleware puts in a request's context. Create, Rotate
// and Destroy update it, so later calls in the same request see the change.
// Like the request, it belongs to the request's goroutine: a handler that
// hands the context to other goroutines must not rotate or destroy the
// session while they read it.
type state struct {
	sess          Session
	ok            bool
	bindingExempt bool // a request to the binding endpoints, which prove the device themselves
	formReported  bool
	ended         string // why the request's token no longer works, if it did once
	refused       string // the marker's value, if the middleware refused this request's cookie
}

func stateFrom(ctx context.Context) *state {
	st, _ := ctx.Value(ctxKey{}).(*state)
	return st
}

// FromContext returns the session of the request whose context is ctx, if it
// is authenticated.
func FromContext(ctx context.Context) (Session, bool) {
	if st := stateFrom(ctx); st != nil && st.ok {
		return st.sess, true
	}
	return Session{}, false
}

// CSRFToken returns a token for the forms of the request's session, or ""
// if the request is anonymous. It is derived from the session's secret
// (Session.Secret), which never leaves the server, so a cross-site page
// cannot compute it; it stays the same for the session's whole life, so a
// form opened before a token rotation still works after it, and no other
// session shares it. Compare it with a submitted value using
// crypto/subtle.
func CSRFToken(ctx context.Context) string {
	st := stateFrom(ctx)
	if st == nil || !st.ok {
		return ""
	}
	return formTokens.get(st.sess)
}

// formTokens remembers the form tokens of recent sessions. Most pages
// carry a form (signing out is one), so the token would be derived (an
// HMAC, a few microseconds) on nearly every request, while a session's
// token never changes. Entries are keyed by everything the token is
// derived from, the secret and the handle, so one can only give the token
// that deriving it would.
var formTokens = tokenMemo{m: make(map[[48]byte]string)}

// tokenMemoMax bounds how many tokens formTokens holds.
const tokenMemoMax = 1 << 14

type tokenMemo struct {
	mu sync.Mutex
	m  map[[48]byte]string
}

func (c *tokenMemo) get(s Session) string {
	var k [48]byte
	copy(k[:32], s.Secret[:])
	copy(k[32:], s.Handle[:])
	c.mu.Lock()
	tok, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return tok
	}
	tok = base64.RawURLEncoding.EncodeToString(derive(s, "form token"))
	c.mu.Lock()
	if len(c.m) >= tokenMemoMax {
		clear(c.m) // rare, and cheaper than tracking recency
	}
	c.m[k] = tok
	c.mu.Unlock()
	return tok
}

// EndReason returns, for a request whose cookie named a session that no
// longer works, why it stopped working in words ("idle timeout", "absolute
// timeout", or the reason it was ended with, such as "signed out" or
// "revoked by an administrator"), and false when the request carried no
// such session (none at all, a live one, or a token that was never issued).
func EndReason(ctx context.Context) (string, bool) {
	if st := stateFrom(ctx); st != nil && st.ended != "" {
		return st.ended, true
	}
	return "", false
}

// UserID returns the authenticated user of the request whose context is
// ctx, or "" if it is anonymous.
func UserID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil && st.ok {
		return st.sess.UserID
	}
	return ""
}

// Middleware loads the session named by the request's cookie and makes it
// available through FromContext and UserID. Requests without a valid
// session proceed as anonymous. If the store fails, the request is answered
// by Options.OnError.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, m.opts.BindingPath) {
			m.serveBinding(w, r)
			return
		}
		st := &state{}
		if err := m.load(w, r, st); err != nil {
			if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
				// The client went away while its session was read:
				// nothing failed here, and no one waits for the answer.
				m.opts.Logger.DebugContext(r.Context(), "loading session: the client went away", "err", err)
			} else {
				m.opts.Logger.ErrorContext(r.Context(), "loading session", "err", err)
			}
			m.opts.OnError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
		m.reportURLParams(r)
		next.ServeHTTP(w, r)
		if !st.formReported && (r.PostForm != nil || r.MultipartForm != nil) {
			m.ReportFormParams(r)
		}
	})
}

// RequireUser lets only authenticated requests through to next; the rest
// are answered by Options.Unauthorized. Use it inside Middleware.
func (m *Manager) RequireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st == nil || !st.ok {
			m.opts.Unauthorized.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// load fills st from the request's cookie. Anything but exactly one cookie
// holding the token of a live session leaves st anonymous; anything
// suspicious is reported and the cookie is cleared. Only a store failure is
// returned as an error.
func (m *Manager) load(w http.ResponseWriter, r *http.Request, st *state) error {
	var value string
	n := 0
	forEachCookie(r.Header["Cookie"], m.opts.CookieName, func(v string) {
		if n == 0 {
			value = v
		}
		n++
	})
	switch {
	case n == 0:
		return nil
	case n > 1:
		m.reject(w, r, Event{Kind: EventDuplicateCookie, Detail: "cookie sent more than once"})
		m.markRefused(w, st, "duplicate")
		return nil
	}
	id, ok := parseToken(value)
	if !ok {
		m.reject(w, r, Event{Kind: EventUnknownToken, Detail: "malformed token"})
		m.markRefused(w, st, "malformed")
		return nil
	}
	now := m.now()
	s, ok, err := m.resolve(w, r, st, id, now, false)
	if err != nil || !ok {
		return err
	}
	if now.Sub(s.LastSeenAt) >= m.opts.TouchInterval {
		ip := clip(m.opts.ClientIP(r), maxIPLen)
		idle := now.Add(m.opts.IdleTimeout)
		err := m.store.Touch(r.Context(), s.ID, now, now.Add(-m.opts.TouchInterval), idle, ip)
		if errors.Is(err, ErrNotFound) {
			m.endedDuringRequest(w, r, st, s)
			return nil
		}
		if err != nil {
			return err
		}
		s.LastSeenAt, s.IdleDeadline, s.LastIP = now, idle, ip
	}
	st.sess, st.ok = s, true
	return nil
}

// endedDuringRequest reports a session that ended between reading it and
// writing it: a concurrent logout or revocation.
func (m *Manager) endedDuringRequest(w http.ResponseWriter, r *http.Request, st *state, s Session) {
	st.ended = "ended during the request"
	m.reject(w, r, Event{Kind: EventEndedToken, UserID: s.UserID, Session: s.Handle.Short(), Detail: "the session ended during the request"})
}

// reject reports ev and clears the cookie; the request goes on anonymous.
func (m *Manager) reject(w http.ResponseWriter, r *http.Request, ev Event) {
	m.clearCookie(w)
	m.emit(r.Context(), r, ev)
}

// issuedHere reports whether the request's issued cookie names id: the
// token is the last one this server issued to this browser.
func (m *Manager) issuedHere(r *http.Request, id ID) bool {
	found := false
	forEachCookie(r.Header["Cookie"], m.issued, func(v string) {
		found = found || v == id.Short()
	})
	return found
}

// refusedMarkerAge is how long a browser remembers that it presented a
// token the server never issued, so that the user who signs in on it next
// is told (EventForeignToken).
const refusedMarkerAge = time.Hour

// markRefused sets the marker cookie: what was refused, never a token.
func (m *Manager) markRefused(w http.ResponseWriter, st *state, what string) {
	st.refused = what
	m.writeCookie(w, &http.Cookie{Name: m.marker, Value: what, Path: "/", MaxAge: int(refusedMarkerAge / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// reportRefusedBefore reports, at sign-in, a marker left by markRefused on
// the signing-in browser, or set on this very request (the sign-in itself
// carried the refused cookie), and clears it.
func (m *Manager) reportRefusedBefore(w http.ResponseWriter, r *http.Request, userID string) {
	var what string
	when := "within the hour before this sign-in"
	if st := stateFrom(r.Context()); st != nil && st.refused != "" {
		what, when, st.refused = st.refused, "with this sign-in", ""
	} else {
		forEachCookie(r.Header["Cookie"], m.marker, func(v string) {
			if what == "" {
				what = v
			}
		})
	}
	if what == "" {
		return
	}
	m.writeCookie(w, &http.Cookie{Name: m.marker, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	var detail string
	switch short, _ := strings.CutPrefix(what, "unknown-"); {
	case what == "duplicate":
		detail = "it sent the session cookie twice"
	case what == "malformed":
		detail = "it presented a malformed session token"
	case short != what && len(short) == 12 && strings.Trim(short, "0123456789abcdef") == "":
		detail = "it presented a session token that was never issued (" + short + ")"
	default:
		return
	}
	m.emit(r.Context(), r, Event{Kind: EventForeignToken, UserID: userID,
		Detail: when + ", the browser was refused: " + detail})
}

// reportURLParams reports session-looking parameters in the query string or
// as path parameters (";jsessionid=..."), in one event per request. Their
// values are never used.
func (m *Manager) reportURLParams(r *http.Request) {
	var found []string
	if q := r.URL.RawQuery; q != "" {
		vals, _ := url.ParseQuery(q) // a malformed query still yields what parsed
		found = m.matchParams(found, vals, "query")
	}
	if p := r.URL.EscapedPath(); strings.IndexByte(p, ';') >= 0 {
		lower := strings.ToLower(p)
		for _, name := range m.params {
			if strings.Contains(lower, ";"+name+"=") {
				found = append(found, "path parameter "+name)
			}
		}
	}
	m.reportFound(r, found)
}

// ReportFormParams reports session-looking fields of the request's parsed
// form (r.PostForm and r.MultipartForm), once per request. The middleware
// calls it after the handler when the handler parsed the form on the
// request it was given; a handler that parses a copy of the request (for
// instance one made by another middleware's WithContext) should call it
// itself after parsing.
func (m *Manager) ReportFormParams(r *http.Request) {
	if st := stateFrom(r.Context()); st != nil {
		if st.formReported {
			return
		}
		st.formReported = true
	}
	found := m.matchParams(nil, r.PostForm, "form")
	if r.MultipartForm != nil {
		found = m.matchParams(found, r.MultipartForm.Value, "form")
	}
	m.reportFound(r, found)
}

// maxReported bounds the names listed in one event.
const maxReported = 5

// matchParams appends "<where> parameter <name>" for each distinct
// session-looking name among vals' keys, compared without case.
func (m *Manager) matchParams(found []string, vals map[string][]string, where string) []string {
	for k := range vals {
		lk := strings.ToLower(k)
		if !slices.Contains(m.params, lk) {
			continue
		}
		entry := where + " parameter " + lk
		if !slices.Contains(found, entry) {
			found = append(found, entry)
		}
	}
	return found
}

func (m *Manager) reportFound(r *http.Request, found []string) {
	if len(found) == 0 {
		return
	}
	slices.Sort(found)
	if len(found) > maxReported {
		found = append(found[:maxReported], "...")
	}
	m.emit(r.Context(), r, Event{Kind: EventTokenInURL, UserID: UserID(r.Context()), Detail: strings.Join(found, ", ")})
}

// paramNames returns the lowercase parameter names reported for a cookie
// name: the common ones, the cookie's own and the cookie's without a
// __Host- or __Secure- prefix.
func paramNames(cookie string) []string {
	names := append([]string(nil), tokenParams...)
	lc := strings.ToLower(cookie)
	names = append(names, lc)
	for _, p := range []string{"__host-", "__secure-"} {
		if rest, ok := strings.CutPrefix(lc, p); ok && rest != "" {
			names = append(names, rest)
		}
	}
	return names
}

// forEachCookie calls f with the value of every cookie called name in the
// given Cookie header lines, valid or not. Unlike http.Request.Cookie, it
// neither drops malformed values nor stops at the first match, so duplicate
// and malformed session cookies are seen.
func forEachCookie(lines []string, name string, f func(value string)) {
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.Trim(part, " \t"), "=")
			if ok && k == name {
				f(v)
			}
		}
	}
}
