package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Rotation. A session's token is replaced once it has been in use for
// Options.RotationInterval (Store.Renew), by the response to a GET or HEAD
// request (quick to answer; a slow upload's response must not carry a
// token that arrives after a newer one). The new token is pending until a
// request presents it (Store.Seen). Until then the previous token keeps
// working, so that a lost response, a second tab or a request in flight
// signs no one out; if it keeps coming, a fresh pending token is issued
// again (reissueDelay) — but a client that is issued maxPending tokens in
// a row and presents none of them is ignoring them, which a browser does
// not do: a copy of the cookie is being replayed, and the session is
// ended. Once a new token has been seen, the tokens before it are
// retired: presenting one ends the whole session (EventTokenReused),
// because two clients held it, except for a request that was in flight
// when its direct successor was first used (retiredGrace), which is
// served; other retired tokens seen within that time, and tokens that no
// request ever presented (lost or overtaken responses), are refused
// without ending anything.

// reissueDelay is how long a pending token may go unseen while its
// predecessor is still presented before another one is issued: its
// response was most likely lost.
func (m *Manager) reissueDelay() time.Duration {
	return min(max(m.opts.RotationInterval/10, 5*time.Second), 30*time.Second)
}

// retiredGrace is how long after a token was first used its direct
// predecessor is still taken as the same browser's request in flight.
func (m *Manager) retiredGrace() time.Duration {
	return min(max(m.opts.RotationInterval/10, 5*time.Second), 30*time.Second)
}

// maxPending is how many tokens may be issued in a row without any being
// presented.
const maxPending = 3

// mayRenew reports whether the request may be answered with a new token:
// a GET or HEAD request, not one to the binding endpoints.
func mayRenew(r *http.Request, st *state) bool {
	return !st.bindingExempt && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// resolve finds the live session that the token with ID id stands for, at
// now: directly, or through the renewal that replaced it. It applies the
// checks that end or refuse a session (deadlines, a changed client, a
// retired token), records the first use of a pending token and renews a
// token that is due. ok is false when the request is to proceed as
// anonymous (st and w then say why). Only a store failure is an error.
func (m *Manager) resolve(w http.ResponseWriter, r *http.Request, st *state, id ID, now time.Time, retried bool) (s Session, ok bool, err error) {
	ctx := r.Context()
	s, err = m.store.Find(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return m.resolveReplaced(w, r, st, id, now, retried)
	}
	if err != nil {
		return Session{}, false, err
	}
	if ok, err := m.usable(w, r, st, s, now); !ok || err != nil {
		return Session{}, false, err
	}
	if !st.bindingExempt && !m.bindingHolds(w, r, st, &s, now) {
		return Session{}, false, nil
	}
	switch {
	case st.bindingExempt:
		// The binding endpoints prove the device, not the token: they
		// move no token forward.
	case s.Pending():
		// The first request with a renewed token: from now on the ones
		// before it are retired.
		if err := m.store.Seen(ctx, s.ID, s.Gen, now); err != nil {
			if errors.Is(err, ErrNotFound) {
				m.endedDuringRequest(w, r, st, s)
				return Session{}, false, nil
			}
			return Session{}, false, err
		}
		s.SeenGen, s.SeenAt = s.Gen, now
	case m.opts.RotationInterval > 0 && now.Sub(s.IssuedAt) >= m.opts.RotationInterval && mayRenew(r, st):
		return m.renewOrRetry(w, r, st, id, s, now, retried)
	}
	return s, true, nil
}

// resolveReplaced handles a token that names no session: one that was
// replaced by a renewal, ended, expired or never issued.
func (m *Manager) resolveReplaced(w http.ResponseWriter, r *http.Request, st *state, id ID, now time.Time, retried bool) (Session, bool, error) {
	ctx := r.Context()
	e, err := m.store.Ended(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if m.issuedHere(r, id) {
			// This browser's own session, expired and swept since: no
			// stranger's token.
			st.ended = "expired"
			m.reject(w, r, Event{Kind: EventExpired, Session: id.Short(), Detail: "expired and already removed"})
			return Session{}, false, nil
		}
		m.reject(w, r, Event{Kind: EventUnknownToken, Session: id.Short(), Detail: "unknown token"})
		m.markRefused(w, st, "unknown-"+id.Short())
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	if !e.Renewed() {
		st.ended = e.Why
		m.reject(w, r, Event{Kind: EventEndedToken, UserID: e.UserID, Session: id.Short(),
			Detail: "its session had ended: " + e.Why})
		return Session{}, false, nil
	}
	s, err := m.store.FindHandle(ctx, e.Handle)
	if errors.Is(err, ErrNotFound) {
		st.ended = "ended"
		m.reject(w, r, Event{Kind: EventEndedToken, UserID: e.UserID, Session: e.Handle.Short(),
			Detail: "a replaced token of a session that has ended since"})
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	if ok, err := m.alive(w, r, st, s, now); !ok || err != nil {
		return Session{}, false, err
	}
	switch {
	case e.Gen >= s.SeenGen:
		// No later token has been seen: this is the browser's own token,
		// and the response that carried its successor has not arrived (or
		// has not been acted on) yet.
		if ok, err := m.sameClient(w, r, st, s, now); !ok || err != nil {
			return Session{}, false, err
		}
		if !st.bindingExempt && !m.bindingHolds(w, r, st, &s, now) {
			return Session{}, false, nil
		}
		if !s.Pending() || now.Sub(s.IssuedAt) < m.reissueDelay() || !mayRenew(r, st) {
			return s, true, nil
		}
		if s.Gen-s.SeenGen >= maxPending {
			return m.reused(w, r, st, s, e, now, fmt.Sprintf(
				"its token was replaced %d times and the new tokens were never used, while the old one kept coming: a client that ignores them is replaying a copy of the cookie",
				s.Gen-s.SeenGen))
		}
		return m.renewOrRetry(w, r, st, id, s, now, retried)
	case e.Seen && e.Gen+1 == s.SeenGen && s.SeenGen == s.Gen && e.At.After(s.AuthAt) && now.Sub(s.SeenAt) < m.retiredGrace():
		// Sent just before the browser had the next token, and overtaken
		// by a request that presented it.
		if ok, err := m.sameClient(w, r, st, s, now); !ok || err != nil {
			return Session{}, false, err
		}
		if !st.bindingExempt && !m.bindingHolds(w, r, st, &s, now) {
			return Session{}, false, nil
		}
		return s, true, nil
	case !e.Seen || now.Sub(s.SeenAt) < m.retiredGrace():
		// A token no request ever presented (its response was lost or
		// overtaken), or one retired a moment ago across a change of
		// privilege or a reissue: not proof of a second client. Refused,
		// the cookie left alone (it may be a request in flight from the
		// browser that holds the current token).
		st.ended = "replaced"
		m.emit(ctx, r, Event{Kind: EventEndedToken, UserID: s.UserID, Session: s.Handle.Short(),
			Detail: "a replaced token that is no longer accepted; refused without ending the session"})
		return Session{}, false, nil
	}
	return m.reused(w, r, st, s, e, now, "a token replaced at "+e.At.Format(time.RFC3339)+
		" was presented after its successor was in use")
}

// reused ends s because a token that the browser holding the session can
// no longer have was presented: a copy of the cookie is in use.
func (m *Manager) reused(w http.ResponseWriter, r *http.Request, st *state, s Session, e Ending, now time.Time, what string) (Session, bool, error) {
	why := "ended because it was used from two places: a copy of its cookie was in use elsewhere"
	ended, err := m.end(r.Context(), s, now, why)
	if err != nil {
		return Session{}, false, err
	}
	st.ended = why
	m.reject(w, r, Event{Kind: EventTokenReused, UserID: s.UserID, Session: s.Handle.Short(), Ended: true, Ends: ends(ended),
		Detail: fmt.Sprintf("%s, so the session was ended; the session's other client: %s, %s",
			what, s.LastIP, clip(s.UserAgent, 200))})
	return Session{}, false, nil
}

// end deletes the session s, remembering why, wherever its token has moved
// since it was read: a concurrent request may have renewed it. It reports
// whether it deleted it (false: it was gone already, whoever ended it).
func (m *Manager) end(ctx context.Context, s Session, now time.Time, why string) (bool, error) {
	id := s.ID
	for range 5 {
		err := m.store.Delete(ctx, id, now, why)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return err == nil, err
		}
		cur, err := m.store.FindHandle(ctx, s.Handle)
		if errors.Is(err, ErrNotFound) || err == nil && cur.UserID != s.UserID {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		id = cur.ID
	}
	return false, errors.New("session: the session's token kept changing while ending it")
}

// renewOrRetry renews s; if another request renewed or ended it meanwhile,
// it resolves the request's token once more, which then finds the renewal
// (or the ending).
func (m *Manager) renewOrRetry(w http.ResponseWriter, r *http.Request, st *state, id ID, s Session, now time.Time, retried bool) (Session, bool, error) {
	tok, next := newToken()
	ip := clip(m.opts.ClientIP(r), maxIPLen)
	idle := now.Add(m.opts.IdleTimeout)
	err := m.store.Renew(r.Context(), s.ID, next, s.Gen, now, idle, ip)
	if errors.Is(err, ErrNotFound) {
		if retried {
			m.endedDuringRequest(w, r, st, s)
			return Session{}, false, nil
		}
		return m.resolve(w, r, st, id, now, true)
	}
	if err != nil {
		return Session{}, false, err
	}
	s.ID, s.Gen, s.IssuedAt, s.LastSeenAt, s.IdleDeadline, s.LastIP = next, s.Gen+1, now, now, idle, ip
	m.setCookie(w, tok, next)
	return s, true, nil
}

// usable applies the checks that end a session found for a request: its
// deadlines (alive) and the client presenting it (sameClient).
func (m *Manager) usable(w http.ResponseWriter, r *http.Request, st *state, s Session, now time.Time) (bool, error) {
	if ok, err := m.alive(w, r, st, s, now); !ok || err != nil {
		return false, err
	}
	return m.sameClient(w, r, st, s, now)
}

// alive reports whether s is within its deadlines, and ends it otherwise.
func (m *Manager) alive(w http.ResponseWriter, r *http.Request, st *state, s Session, now time.Time) (bool, error) {
	if s.ValidAt(now) {
		return true, nil
	}
	why := WhyIdleTimeout
	if !now.Before(s.AbsoluteDeadline) {
		why = WhyAbsoluteTimeout
	}
	err := m.store.Delete(r.Context(), s.ID, now, "")
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	st.ended = why
	m.reject(w, r, Event{Kind: EventExpired, UserID: s.UserID, Session: s.Handle.Short(), Detail: why, Ends: ends(err == nil)})
	return false, nil
}

// sameClient applies Options.ClientChanged: it reports false, and ends the
// session, when the request comes from another browser family or
// operating system than the session signed in with.
func (m *Manager) sameClient(w http.ResponseWriter, r *http.Request, st *state, s Session, now time.Time) (bool, error) {
	ua := r.UserAgent()
	if ua == s.UserAgent || m.opts.ClientChanged == nil {
		return true, nil
	}
	// Browsers change their version as they update; only a change of
	// browser or system is a sign of a cookie replayed elsewhere.
	what := m.opts.ClientChanged(s.UserAgent, clip(ua, maxUserAgentLen))
	if what == "" {
		return true, nil
	}
	why := "ended because it was used from another browser or system (" + what + ")"
	ended, err := m.end(r.Context(), s, now, clip(why, maxWhyLen))
	if err != nil {
		return false, err
	}
	st.ended = why
	m.reject(w, r, Event{Kind: EventClientChanged, UserID: s.UserID, Session: s.Handle.Short(), Ended: true, Ends: ends(ended),
		Detail: "signed in from " + s.CreatedIP + " with " + clip(s.UserAgent, 200) + "; used from this client: " + what})
	return false, nil
}

// derive returns a value derived from the session's secret for one
// purpose, named by label.
func derive(s Session, label string, parts ...[]byte) []byte {
	mac := hmac.New(sha256.New, s.Secret[:])
	mac.Write([]byte("connectbook session\x00" + label + "\x00"))
	mac.Write(s.Handle[:])
	for _, p := range parts {
		mac.Write(p)
	}
	return mac.Sum(nil)
}
