package session

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Device Bound Session Credentials (W3C webappsec-dbsc). At sign-in the
// response offers registration (Secure-Session-Registration). A browser
// that supports it creates a key pair, proves it holds the private key by
// signing the one-time challenge, and the session is bound to the public
// key. From then on a request of the session counts as signed in only with
// a valid bound cookie beside the session cookie; the bound cookie lives
// for Options.BoundCookieLifetime, its deadline is under a MAC with the
// session's secret (so the server checks it, whatever a copier does with
// the cookie's Max-Age), and only a new proof signed with the bound key
// gets a fresh one. A copy of the cookies taken off the device stops
// working when its bound cookie expires.
//
// Challenges need no store write to issue: each carries the session's
// handle, a sequence number and a deadline under the session's MAC, and is
// valid only while the session's BindSeq equals its number; using one
// moves BindSeq on (Store.Bind), which makes it, and every other
// challenge issued with that number, single-use.

// Limits of the binding protocol.
const (
	maxProofLen      = 8192 // a proof JWT with an embedded 4096-bit RSA key fits
	maxBindKeyLen    = 4096
	challengeTTL     = 2 * time.Minute
	bindGrace        = 10 * time.Second // after binding, requests sent before its cookie was set
	minRSABits       = 2048
	maxRSABits       = 4096
	proofType        = "dbsc+jwt"
	registrationPath = "register"
	refreshPath      = "refresh"
)

var challengeEncoding = base64.RawURLEncoding.Strict()

// boundSlack is how much earlier than the server's deadline the browser is
// told to drop a bound cookie, so that it refreshes before a request could
// arrive with one the server no longer accepts.
func (m *Manager) boundSlack() time.Duration {
	return min(max(m.opts.BoundCookieLifetime/10, time.Second), 30*time.Second)
}

// offerBinding asks the browser to bind the new session s to a key.
func (m *Manager) offerBinding(w http.ResponseWriter, s Session) {
	if m.opts.DisableBinding {
		return
	}
	c := m.challenge(s, s.BindSeq, s.IssuedAt.Add(challengeTTL))
	w.Header().Set("Secure-Session-Registration",
		fmt.Sprintf(`(ES256 RS256);path="%s";challenge="%s"`, m.opts.BindingPath+registrationPath, c))
}

// challenge returns a challenge for s with sequence number seq, valid until
// deadline: handle, seq and deadline, and a MAC over them.
func (m *Manager) challenge(s Session, seq int64, deadline time.Time) string {
	var b [16 + 8 + 8 + 16]byte
	copy(b[:16], s.Handle[:])
	binary.BigEndian.PutUint64(b[16:], uint64(seq))
	binary.BigEndian.PutUint64(b[24:], uint64(deadline.UnixMicro()))
	copy(b[32:], derive(s, "challenge", b[16:32])[:16])
	return challengeEncoding.EncodeToString(b[:])
}

// checkChallenge returns the sequence number of challenge c if it was
// issued for s and is still valid at now.
func (m *Manager) checkChallenge(s Session, c string, now time.Time) (int64, error) {
	b, err := challengeEncoding.DecodeString(c)
	if err != nil || len(b) != 48 || !hmac.Equal(b[:16], s.Handle[:]) || !hmac.Equal(b[32:], derive(s, "challenge", b[16:32])[:16]) {
		return 0, errors.New("the challenge was not issued for this session")
	}
	seq := int64(binary.BigEndian.Uint64(b[16:]))
	if !now.Before(time.UnixMicro(int64(binary.BigEndian.Uint64(b[24:])))) {
		return 0, errStaleChallenge
	}
	if seq != s.BindSeq {
		return 0, errStaleChallenge
	}
	return seq, nil
}

var errStaleChallenge = errors.New("the challenge has expired or was already used")

// boundCookie returns a bound cookie value for s valid until deadline.
func boundCookie(s Session, deadline time.Time) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(deadline.UnixMicro()))
	copy(b[8:], derive(s, "bound cookie", b[:8])[:16])
	return challengeEncoding.EncodeToString(b[:])
}

// boundCookieValid reports whether r carries a bound cookie of s valid at
// now.
func (m *Manager) boundCookieValid(r *http.Request, s Session, now time.Time) bool {
	valid := false
	forEachCookie(r.Header["Cookie"], m.bound, func(v string) {
		if valid || len(v) != 32 {
			return
		}
		var b [24]byte
		if n, err := challengeEncoding.Decode(b[:], []byte(v)); err != nil || n != 24 {
			return
		}
		deadline := time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8])))
		valid = now.Before(deadline) && hmac.Equal(b[8:], derive(s, "bound cookie", b[:8])[:16])
	})
	return valid
}

// MaxUnboundRequests is how many requests with a bound session's cookie
// but without a valid bound cookie are refused before the session is
// ended: one attempt to use copied cookies (a page, its redirect) leaves
// the owner signed in and the attempt on record; persisting ends it.
const MaxUnboundRequests = 10

// bindingHolds reports whether a request of s may count as signed in as
// far as device binding goes. A bound session's request without a valid
// bound cookie is refused and counted; after MaxUnboundRequests of them,
// the session is ended.
func (m *Manager) bindingHolds(w http.ResponseWriter, r *http.Request, st *state, s *Session, now time.Time) bool {
	if m.opts.DisableBinding || !s.Bound() || m.boundCookieValid(r, *s, now) || now.Sub(s.BoundAt) < bindGrace {
		return true
	}
	ctx := r.Context()
	n, err := m.store.NoteUnbound(ctx, s.ID, now)
	if errors.Is(err, ErrNotFound) {
		m.endedDuringRequest(w, r, st, *s)
		return false
	}
	if err != nil {
		m.opts.Logger.ErrorContext(ctx, "counting a request without its device binding", "err", err)
	}
	if n < MaxUnboundRequests {
		// Not signed in, but the cookie stays: the session may still be
		// its owner's, whose browser refreshes the binding. Reported the
		// first time, and whenever it comes from another address than
		// the session's last (the count is on the session).
		if n <= 1 || clip(m.opts.ClientIP(r), maxIPLen) != s.LastIP {
			m.emit(ctx, r, Event{Kind: EventBindingMissing, UserID: s.UserID, Session: s.Handle.Short(),
				Detail: fmt.Sprintf("a request came with the session's cookie but without proof from the device it is bound to, and was not signed in; after %d such requests the session is ended", MaxUnboundRequests)})
		}
		return false
	}
	why := "ended because its cookie was used without the device it is bound to"
	ended, err := m.end(ctx, *s, now, why)
	if err != nil {
		m.opts.Logger.ErrorContext(ctx, "ending a session used without its device", "err", err)
	}
	st.ended = why
	m.reject(w, r, Event{Kind: EventBindingMissing, UserID: s.UserID, Session: s.Handle.Short(), Ended: true, Ends: ends(ended),
		Detail: fmt.Sprintf("the session is bound to a device and %d requests came without proof of it: the session was ended; "+
			"its device's last IP address: %s", n, s.LastIP)})
	return false
}

// serveBinding answers the binding endpoints under Options.BindingPath.
func (m *Manager) serveBinding(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if m.opts.DisableBinding {
		http.NotFound(w, r)
		return
	}
	which := strings.TrimPrefix(r.URL.Path, m.opts.BindingPath)
	if which != registrationPath && which != refreshPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Use POST.", http.StatusMethodNotAllowed)
		return
	}
	st := &state{bindingExempt: true}
	s, ok, err := m.sessionFor(w, r, st)
	if err != nil {
		m.opts.Logger.ErrorContext(r.Context(), "loading session", "err", err)
		m.opts.OnError(w, r, err)
		return
	}
	if !ok {
		if which == refreshPath {
			// The session is over: the browser stops refreshing it.
			writeJSON(w, map[string]bool{"continue": false})
			return
		}
		http.Error(w, "There is no session to bind.", http.StatusUnauthorized)
		return
	}
	if which == registrationPath {
		m.register(w, r, s)
		return
	}
	m.refresh(w, r, s)
}

// sessionFor resolves the request's session cookie as the middleware does,
// without asking for a bound cookie.
func (m *Manager) sessionFor(w http.ResponseWriter, r *http.Request, st *state) (Session, bool, error) {
	var value string
	n := 0
	forEachCookie(r.Header["Cookie"], m.opts.CookieName, func(v string) {
		value = v
		n++
	})
	id, ok := parseToken(value)
	if n != 1 || !ok {
		return Session{}, false, nil
	}
	return m.resolve(w, r, st, id, m.now(), false)
}

// refuseBinding reports a refused registration or refresh and answers it.
func (m *Manager) refuseBinding(w http.ResponseWriter, r *http.Request, s Session, status int, what string) {
	m.emit(r.Context(), r, Event{Kind: EventBindingRefused, UserID: s.UserID, Session: s.Handle.Short(), Detail: what})
	http.Error(w, "The device binding was refused: "+what+".", status)
}

func (m *Manager) register(w http.ResponseWriter, r *http.Request, s Session) {
	now := m.now()
	if s.Bound() {
		m.refuseBinding(w, r, s, http.StatusConflict, "registration of a session that is already bound")
		return
	}
	// The browser registers right after signing in, from where it signed
	// in: a challenge read off the wire (a proxy's log) with the cookie is
	// no use elsewhere.
	if ip := clip(m.opts.ClientIP(r), maxIPLen); ip != s.CreatedIP {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "registration from another address than the sign-in")
		return
	}
	key, jti, err := m.verifyProof(r, nil)
	if err != nil {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "registration: "+err.Error())
		return
	}
	seq, err := m.checkChallenge(s, jti, now)
	if err != nil {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "registration: "+err.Error())
		return
	}
	raw, err := key.MarshalJSON()
	if err != nil || len(raw) > maxBindKeyLen {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "registration: the key is too large")
		return
	}
	switch err := m.store.Bind(r.Context(), s.ID, now, seq, string(raw)); {
	case errors.Is(err, ErrNotFound):
		// Renewed, ended or bound meanwhile, or the challenge was used.
		m.refuseBinding(w, r, s, http.StatusBadRequest, "registration: the challenge was already used or the session changed")
		return
	case err != nil:
		m.opts.Logger.ErrorContext(r.Context(), "binding a session", "err", err)
		m.opts.OnError(w, r, err)
		return
	}
	s.BindKey, s.BoundAt, s.BindSeq = string(raw), now, seq+1
	m.emit(r.Context(), r, Event{Kind: EventBound, UserID: s.UserID, Session: s.Handle.Short(), Detail: "bound to a " + keyKind(key) + " key held by the browser"})
	m.answerBinding(w, r, s, now)
}

func (m *Manager) refresh(w http.ResponseWriter, r *http.Request, s Session) {
	now := m.now()
	if !s.Bound() {
		writeJSON(w, map[string]bool{"continue": false})
		return
	}
	if id := strings.Trim(r.Header.Get("Sec-Secure-Session-Id"), `"`); id != s.Handle.String() {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "refresh for another session identifier")
		return
	}
	if r.Header.Get("Secure-Session-Response") == "" {
		m.sendChallenge(w, s, s.BindSeq, now.Add(challengeTTL))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	var stored jose.JSONWebKey
	if err := stored.UnmarshalJSON([]byte(s.BindKey)); err != nil {
		m.opts.Logger.ErrorContext(r.Context(), "reading a session's bound key", "err", err)
		m.opts.OnError(w, r, err)
		return
	}
	_, jti, err := m.verifyProof(r, &stored)
	if err != nil {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "refresh: "+err.Error())
		return
	}
	seq, err := m.checkChallenge(s, jti, now)
	if errors.Is(err, errStaleChallenge) {
		// A challenge another refresh used first, a replayed proof, or a
		// challenge too old: recorded, and the browser signs a fresh one.
		m.emit(r.Context(), r, Event{Kind: EventBindingRefused, UserID: s.UserID, Session: s.Handle.Short(),
			Detail: "refresh: " + err.Error() + "; a new challenge was sent"})
		m.sendChallenge(w, s, s.BindSeq, now.Add(challengeTTL))
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if err != nil {
		m.refuseBinding(w, r, s, http.StatusBadRequest, "refresh: "+err.Error())
		return
	}
	switch err := m.store.Bind(r.Context(), s.ID, now, seq, ""); {
	case errors.Is(err, ErrNotFound):
		m.sendChallenge(w, s, s.BindSeq+1, now.Add(challengeTTL))
		w.WriteHeader(http.StatusForbidden)
		return
	case err != nil:
		m.opts.Logger.ErrorContext(r.Context(), "refreshing a session's binding", "err", err)
		m.opts.OnError(w, r, err)
		return
	}
	s.BindSeq = seq + 1
	m.answerBinding(w, r, s, now)
}

// sendChallenge sets a Secure-Session-Challenge header for s.
func (m *Manager) sendChallenge(w http.ResponseWriter, s Session, seq int64, deadline time.Time) {
	w.Header().Set("Secure-Session-Challenge", fmt.Sprintf(`"%s";id="%s"`, m.challenge(s, seq, deadline), s.Handle))
}

// answerBinding sets a fresh bound cookie, sends the next challenge ahead
// (valid until the cookie must be refreshed, and a little after) and
// answers with the session's instructions.
func (m *Manager) answerBinding(w http.ResponseWriter, r *http.Request, s Session, now time.Time) {
	life := m.opts.BoundCookieLifetime
	m.writeCookie(w, &http.Cookie{Name: m.bound, Value: boundCookie(s, now.Add(life)), Path: "/",
		MaxAge: int((life - m.boundSlack()) / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	m.sendChallenge(w, s, s.BindSeq, now.Add(life+challengeTTL))
	writeJSON(w, map[string]any{
		"session_identifier": s.Handle.String(),
		"refresh_url":        m.opts.BindingPath + refreshPath,
		"scope": map[string]any{
			"origin":              "https://" + r.Host,
			"include_site":        false,
			"scope_specification": []any{},
		},
		"credentials": []any{map[string]string{
			"type": "cookie",
			"name": m.bound,
			// No Max-Age here: the lifetime is on the Set-Cookie header.
			"attributes": "Path=/; Secure; HttpOnly; SameSite=Lax",
		}},
	})
}

// verifyProof checks the request's Secure-Session-Response: a compact JWS
// of type dbsc+jwt, signed with ES256 or RS256, by the key embedded in its
// header (registration, bound == nil) or by bound (refresh). It returns
// the key and the proof's jti.
func (m *Manager) verifyProof(r *http.Request, bound *jose.JSONWebKey) (*jose.JSONWebKey, string, error) {
	raw := strings.Trim(strings.TrimSpace(r.Header.Get("Secure-Session-Response")), `"`)
	if raw == "" {
		return nil, "", errors.New("no proof")
	}
	if len(raw) > maxProofLen {
		return nil, "", errors.New("the proof is too large")
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		return nil, "", errors.New("the proof is not a JWT signed with ES256 or RS256")
	}
	if len(jws.Signatures) != 1 {
		return nil, "", errors.New("the proof must have one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != proofType {
		return nil, "", fmt.Errorf("the proof's type is not %s", proofType)
	}
	key := bound
	if key == nil {
		if h.JSONWebKey == nil {
			return nil, "", errors.New("the proof carries no key")
		}
		key = h.JSONWebKey
		if !key.IsPublic() || !key.Valid() {
			return nil, "", errors.New("the proof's key is not a valid public key")
		}
	}
	if err := keyFits(key, h.Algorithm); err != nil {
		return nil, "", err
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, "", errors.New("the proof's signature does not verify")
	}
	var claims struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.JTI == "" {
		return nil, "", errors.New("the proof has no jti")
	}
	return key, claims.JTI, nil
}

// keyFits checks that key is of the kind alg needs: a P-256 key for ES256,
// an RSA key of at least 2048 bits for RS256.
func keyFits(key *jose.JSONWebKey, alg string) error {
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		if alg == string(jose.ES256) && k.Curve == elliptic.P256() {
			return nil
		}
	case *rsa.PublicKey:
		if alg == string(jose.RS256) && k.N.BitLen() >= minRSABits && k.N.BitLen() <= maxRSABits {
			return nil
		}
	}
	return errors.New("the key does not fit the algorithm (ES256 needs P-256, RS256 2048 to 4096 bits of RSA)")
}

func keyKind(key *jose.JSONWebKey) string {
	switch k := key.Key.(type) {
	case *ecdsa.PublicKey:
		return "P-256"
	case *rsa.PublicKey:
		return "RSA-" + strconv.Itoa(k.N.BitLen())
	}
	return "unknown"
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
