package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults for Options.
const (
	DefaultCookieName      = "__Host-cb_session"
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultMaxSessions     = 50
	// DefaultRotationInterval is how long a token is used before rotation
	// replaces it.
	DefaultRotationInterval = 10 * time.Minute
	// DefaultBoundCookieLifetime is how long a bound cookie proves that a
	// request comes from the device a session is bound to.
	DefaultBoundCookieLifetime = 10 * time.Minute
	// DefaultBindingPath is where Middleware serves the device binding
	// endpoints (registration and refresh).
	DefaultBindingPath = "/dbsc/"
	// MinRotationInterval and MinBoundCookieLifetime are the shortest
	// settings accepted, short enough to watch them work.
	MinRotationInterval    = 5 * time.Second
	MinBoundCookieLifetime = 5 * time.Second
)

// Limits on the metadata a session keeps, so that a hostile header cannot
// bloat the store.
const (
	maxUserIDLen    = 255
	maxIPLen        = 64
	maxUserAgentLen = 512
	maxMethodLen    = 32
	maxWhyLen       = 200
	sweepBatch      = 500
)

// ErrNoSession is returned by operations that need the request to carry an
// authenticated session when it does not.
var ErrNoSession = errors.New("session: request has no session")

// ErrStaleEpoch is returned by Create and Reauthenticated when the user's
// credentials changed while the session was being issued (Options.Epoch
// answered another epoch than the one the caller authenticated against).
// The session has been deleted again; the user should sign in afresh.
var ErrStaleEpoch = errors.New("session: the user's credentials changed during sign-in")

// Options configure a Manager. The zero value gives the documented defaults.
type Options struct {
	// CookieName is the session cookie's name; DefaultCookieName if empty.
	// It must start with __Host-.
	CookieName string
	// IdleTimeout ends a session that has not been used for this long;
	// DefaultIdleTimeout if zero.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it was created,
	// however much it is used; DefaultAbsoluteTimeout if zero.
	AbsoluteTimeout time.Duration
	// TouchInterval is the least time between two writes of a session's
	// last-seen time; IdleTimeout/30 if zero. It may be at most a quarter
	// of IdleTimeout. The idle timeout is enforced to within this interval.
	TouchInterval time.Duration
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
	// ClientIP returns the client address of a request; the host part of
	// RemoteAddr if nil. Set it when running behind a trusted proxy.
	ClientIP func(*http.Request) string
	// OnEvent receives every Event; if nil, events are logged at Info level.
	// It runs on the request's goroutine and should not block for long.
	OnEvent func(context.Context, Event)
	// OnSweep, if set, is told how many expired sessions each Sweep
	// removed (sessions that ended unseen, without an Event).
	OnSweep func(n int)
	// Logger receives store failures; slog.Default() if nil.
	Logger *slog.Logger
	// Unauthorized answers requests that RequireUser turns away; a plain
	// 401 if nil.
	Unauthorized http.Handler
	// OnError answers a request whose session could not be loaded because
	// the store failed; a plain 503 if nil. The error has been logged.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Epoch returns the current credential epoch of a user: a number that
	// grows whenever the user's credentials change (a new password, the
	// account deleted, every session revoked). It must read the current
	// value, not a cached one, and return an error if the user no longer
	// exists. When set, Create and Reauthenticated check it after storing
	// the session, so that a sign-in that verified a password which
	// changed meanwhile leaves no live session: either the check sees the
	// new epoch, or the change's revocation sees the new session. Apps
	// should also compare Session.Epoch with the user's epoch on use.
	Epoch func(ctx context.Context, userID string) (int64, error)
	// ClientChanged compares the User-Agent a session signed in with to the
	// one of a request presenting its token (called only when they differ),
	// and says in words what changed when it is another browser family or
	// operating system, "" otherwise (a new version of the same browser, or
	// too little known to tell). A session whose client changed is ended
	// (EventClientChanged): its cookie was most likely copied elsewhere. A
	// change of IP address alone never ends a session. Nil: no check.
	ClientChanged func(signedIn, now string) string
	// MaxSessions is how many live sessions one user may have; a sign-in
	// past it ends the least recently used ones. DefaultMaxSessions if
	// zero; negative for no limit. Concurrent sign-ins may briefly exceed
	// it; the next sign-in trims back.
	MaxSessions int
	// RotationInterval is how long a session's token is used before it is
	// replaced by a new one (see "Rotation" in the package documentation);
	// DefaultRotationInterval if zero, negative for never. At least
	// MinRotationInterval.
	RotationInterval time.Duration
	// DisableBinding turns Device Bound Session Credentials off: no
	// registration is offered, the endpoints answer 404, and sessions bound
	// before are treated as unbound.
	DisableBinding bool
	// BoundCookieLifetime is how long a bound cookie is valid (checked on
	// the server; the browser is told to drop it a little earlier and
	// refresh); DefaultBoundCookieLifetime if zero. At least
	// MinBoundCookieLifetime.
	BoundCookieLifetime time.Duration
	// BindingPath is the path prefix under which Middleware serves the
	// binding endpoints ("register" and "refresh" below it);
	// DefaultBindingPath if empty. It must start and end with a slash.
	BindingPath string
	// StoreTimeout bounds every call to the store (ten times as long for a
	// sweep's batch): a stalled store fails the request closed, through
	// OnError, instead of holding it. DefaultStoreTimeout if zero;
	// negative for none. The store must honour its context's deadline.
	StoreTimeout time.Duration
}

// Login says who Create starts a session for.
type Login struct {
	UserID string
	// Epoch is the user's credential epoch read together with the
	// credentials that were just verified.
	Epoch int64
	// Method says how the user signed in; at most 32 bytes.
	Method string
}

// Manager creates, loads, rotates and destroys sessions. It is safe for
// concurrent use.
type Manager struct {
	store  Store
	opts   Options
	params []string // lowercase parameter names reported as tokens in URLs
	marker string   // cookie that remembers a refused token until sign-in
	issued string   // cookie that names the session last issued to the browser
	bound  string   // cookie that proves the device of a bound session
}

// New returns a Manager for store. It fails when the options are
// inconsistent.
func New(store Store, opts Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("session: nil store")
	}
	if opts.CookieName == "" {
		opts.CookieName = DefaultCookieName
	}
	if !validCookieName(opts.CookieName) || !strings.HasPrefix(opts.CookieName, "__Host-") || opts.CookieName == "__Host-" {
		return nil, fmt.Errorf("session: invalid cookie name %q: it must be a cookie token starting with __Host-, "+
			"so that browsers only accept it from this host, over HTTPS, for every path", opts.CookieName)
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.AbsoluteTimeout == 0 {
		opts.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if opts.IdleTimeout < time.Second || opts.AbsoluteTimeout < time.Second {
		return nil, errors.New("session: timeouts must be at least one second")
	}
	if opts.AbsoluteTimeout < opts.IdleTimeout {
		return nil, errors.New("session: absolute timeout is shorter than the idle timeout")
	}
	if opts.TouchInterval == 0 {
		opts.TouchInterval = opts.IdleTimeout / 30
	}
	if opts.TouchInterval < 0 || opts.TouchInterval > opts.IdleTimeout/4 {
		return nil, errors.New("session: touch interval must be positive and at most a quarter of the idle timeout")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.RotationInterval == 0 {
		opts.RotationInterval = DefaultRotationInterval
	}
	if opts.RotationInterval > 0 && opts.RotationInterval < MinRotationInterval {
		return nil, fmt.Errorf("session: rotation interval must be at least %v (or negative for never)", MinRotationInterval)
	}
	if opts.BoundCookieLifetime == 0 {
		opts.BoundCookieLifetime = DefaultBoundCookieLifetime
	}
	if opts.BoundCookieLifetime < MinBoundCookieLifetime {
		return nil, fmt.Errorf("session: bound cookie lifetime must be at least %v", MinBoundCookieLifetime)
	}
	if opts.StoreTimeout == 0 {
		opts.StoreTimeout = DefaultStoreTimeout
	}
	if opts.StoreTimeout > 0 {
		store = newDeadlineStore(store, opts.StoreTimeout)
	}
	if opts.BindingPath == "" {
		opts.BindingPath = DefaultBindingPath
	}
	if !strings.HasPrefix(opts.BindingPath, "/") || !strings.HasSuffix(opts.BindingPath, "/") || strings.ContainsAny(opts.BindingPath, "\"\\;, \t") {
		return nil, fmt.Errorf("session: binding path %q must start and end with a slash", opts.BindingPath)
	}
	if opts.ClientIP == nil {
		opts.ClientIP = RemoteIP
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Unauthorized == nil {
		opts.Unauthorized = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Sign in to see this page.", http.StatusUnauthorized)
		})
	}
	if opts.OnError == nil {
		opts.OnError = func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "The service is temporarily unavailable. Please try again shortly.", http.StatusServiceUnavailable)
		}
	}
	return &Manager{store: store, opts: opts, params: paramNames(opts.CookieName), marker: opts.CookieName + "-refused",
		issued: opts.CookieName + "-issued", bound: opts.CookieName + "-bound"}, nil
}

// RotationInterval returns how long a token is used before it is replaced
// (negative: never).
func (m *Manager) RotationInterval() time.Duration { return m.opts.RotationInterval }

// BindingEnabled reports whether Device Bound Session Credentials are on.
func (m *Manager) BindingEnabled() bool { return !m.opts.DisableBinding }

// BoundCookieLifetime returns how long a bound cookie is valid.
func (m *Manager) BoundCookieLifetime() time.Duration { return m.opts.BoundCookieLifetime }

// MaxSessions returns how many live sessions a user may have (negative:
// no limit).
func (m *Manager) MaxSessions() int { return m.opts.MaxSessions }

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.opts.CookieName }

// IdleTimeout returns the configured idle timeout.
func (m *Manager) IdleTimeout() time.Duration { return m.opts.IdleTimeout }

// AbsoluteTimeout returns the configured absolute timeout.
func (m *Manager) AbsoluteTimeout() time.Duration { return m.opts.AbsoluteTimeout }

// now returns the current time at the precision stores keep.
func (m *Manager) now() time.Time {
	return m.opts.Now().UTC().Truncate(time.Microsecond)
}

// Create starts a session for l.UserID, who has just authenticated. It
// destroys any session the request carried, stores a new session under a
// brand-new token and sets the cookie on w. With Options.Epoch, it then
// checks that the user's credentials did not change meanwhile, and with
// Options.MaxSessions it ends the user's least recently used sessions past
// the limit. Call it before writing the response body.
func (m *Manager) Create(w http.ResponseWriter, r *http.Request, l Login) (Session, error) {
	if l.UserID == "" || len(l.UserID) > maxUserIDLen {
		return Session{}, fmt.Errorf("session: user id must be 1 to %d bytes", maxUserIDLen)
	}
	ctx := r.Context()
	if err := m.destroyCarried(ctx, r, WhyReplaced); err != nil {
		return Session{}, err
	}
	now := m.now()
	ip := clip(m.opts.ClientIP(r), maxIPLen)
	tok, id := newToken()
	s := Session{
		ID:               id,
		UserID:           l.UserID,
		CreatedAt:        now,
		LastSeenAt:       now,
		IdleDeadline:     now.Add(m.opts.IdleTimeout),
		AbsoluteDeadline: now.Add(m.opts.AbsoluteTimeout),
		CreatedIP:        ip,
		UserAgent:        clip(r.UserAgent(), maxUserAgentLen),
		LastIP:           ip,
		Epoch:            l.Epoch,
		Method:           clip(l.Method, maxMethodLen),
		AuthAt:           now,
		Handle:           NewHandle(),
		SeenAt:           now,
		IssuedAt:         now,
	}
	rand.Read(s.Secret[:])
	if err := m.store.Create(ctx, s); err != nil {
		return Session{}, fmt.Errorf("session: create: %w", err)
	}
	if err := m.confirmEpoch(ctx, r, s); err != nil {
		return Session{}, err
	}
	m.setCookie(w, tok, id)
	m.offerBinding(w, s)
	if st := stateFrom(ctx); st != nil {
		st.sess, st.ok = s, true
	}
	m.emit(ctx, r, Event{Kind: EventCreated, UserID: l.UserID, Session: s.Handle.Short(), Detail: s.Method})
	m.reportRefusedBefore(w, r, l.UserID)
	if err := m.enforceCap(ctx, r, s); err != nil {
		// The new session stands; the limit is enforced at the next sign-in.
		m.opts.Logger.ErrorContext(ctx, "ending sessions past the limit", "err", err)
	}
	return s, nil
}

// confirmEpoch deletes s and returns ErrStaleEpoch if the user's epoch is
// no longer s.Epoch.
func (m *Manager) confirmEpoch(ctx context.Context, r *http.Request, s Session) error {
	if m.opts.Epoch == nil {
		return nil
	}
	cur, err := m.opts.Epoch(ctx, s.UserID)
	if err == nil && cur == s.Epoch {
		return nil
	}
	// Whatever the answer, the session must not outlive it.
	if derr := m.store.Delete(context.WithoutCancel(ctx), s.ID, m.now(), ""); derr != nil && !errors.Is(derr, ErrNotFound) {
		return fmt.Errorf("session: delete after epoch check: %w", errors.Join(err, derr))
	}
	if st := stateFrom(ctx); st != nil && st.sess.ID == s.ID {
		st.ok = false
	}
	if err != nil {
		return fmt.Errorf("session: epoch: %w", err)
	}
	m.emit(ctx, r, Event{Kind: EventDestroyed, UserID: s.UserID, Session: s.Handle.Short(), Detail: "credentials changed while signing in", Ends: 1})
	return ErrStaleEpoch
}

// enforceCap ends the least recently used sessions of s's user past
// MaxSessions, never s itself.
func (m *Manager) enforceCap(ctx context.Context, r *http.Request, s Session) error {
	limit := m.opts.MaxSessions
	if limit < 0 {
		return nil
	}
	list, err := m.store.List(ctx, s.UserID, m.now())
	if err != nil || len(list) <= limit {
		return err
	}
	others := slices.DeleteFunc(list, func(o Session) bool { return o.ID == s.ID })
	slices.SortFunc(others, func(a, b Session) int {
		if c := a.LastSeenAt.Compare(b.LastSeenAt); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	why := fmt.Sprintf("signed out as the least recently used, to stay within %d sessions", limit)
	for _, o := range others[:len(others)+1-limit] {
		switch err := m.store.DeleteForUser(ctx, s.UserID, o.ID, m.now(), why); {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			m.emit(ctx, r, Event{Kind: EventEvicted, UserID: s.UserID, Session: o.Handle.Short(),
				Detail: fmt.Sprintf("the least recently used session (last active %s) was ended: a new sign-in went past the limit of %d", o.LastSeenAt.Format(time.RFC3339), limit),
				Ends:   1})
		}
	}
	return nil
}

// maxCarried bounds how many tokens from one request's cookies are
// destroyed, so that a huge Cookie header cannot turn one request into
// thousands of store operations. A browser sends one; the middleware
// rejects requests with more.
const maxCarried = 2

// destroyCarried deletes the sessions the request refers to: the one loaded
// by the middleware and the first well-formed tokens in its cookies.
func (m *Manager) destroyCarried(ctx context.Context, r *http.Request, why string) error {
	type carried struct {
		id    ID
		user  string
		short string // the handle's short form, or the ID's for a token not loaded
	}
	var list []carried
	st := stateFrom(ctx)
	if st != nil && st.ok {
		// By its handle: another request may have renewed its token.
		switch ended, err := m.end(ctx, st.sess, m.now(), why); {
		case err != nil:
			return fmt.Errorf("session: delete: %w", err)
		case ended:
			m.emit(ctx, r, Event{Kind: EventDestroyed, UserID: st.sess.UserID, Session: st.sess.Handle.Short(), Detail: why, Ends: 1})
		}
		list = append(list, carried{id: st.sess.ID})
	}
	fromCookies := 0
	forEachCookie(r.Header["Cookie"], m.opts.CookieName, func(v string) {
		if fromCookies == maxCarried {
			return
		}
		if id, ok := parseToken(v); ok && !slices.ContainsFunc(list, func(c carried) bool { return c.id == id }) {
			list = append(list, carried{id: id, short: id.Short()})
			fromCookies++
		}
	})
	for _, c := range list {
		if c.short == "" {
			continue // the loaded session, ended above
		}
		switch err := m.store.Delete(ctx, c.id, m.now(), why); {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("session: delete: %w", err)
		default:
			m.emit(ctx, r, Event{Kind: EventDestroyed, UserID: c.user, Session: c.short, Detail: why, Ends: 1})
		}
	}
	if st != nil {
		st.ok = false
	}
	return nil
}

// Rotate replaces the token of the request's session with a new one and sets
// the new cookie; the old token stops working at once. Call it on every
// change of privilege. It returns ErrNoSession if the request has no
// session, and ErrNotFound if the session ended meanwhile (the cookie is
// then cleared).
func (m *Manager) Rotate(w http.ResponseWriter, r *http.Request) (Session, error) {
	st := stateFrom(r.Context())
	if st == nil || !st.ok {
		return Session{}, ErrNoSession
	}
	return m.rotate(w, r, st, st.sess.AuthAt, st.sess.Epoch, "")
}

// Reauthenticated records that the request's user has just proved who they
// are again (for instance by typing their password before a sensitive
// action): the token is rotated, AuthAt set to now and the session's epoch
// to epoch, the user's current one. With Options.Epoch, it then checks the
// epoch as Create does (ErrStaleEpoch: the session has been ended).
func (m *Manager) Reauthenticated(w http.ResponseWriter, r *http.Request, epoch int64) (Session, error) {
	st := stateFrom(r.Context())
	if st == nil || !st.ok {
		return Session{}, ErrNoSession
	}
	s, err := m.rotate(w, r, st, m.now(), epoch, "re-authenticated")
	if err != nil {
		return Session{}, err
	}
	if err := m.confirmEpoch(r.Context(), r, s); err != nil {
		m.clearCookie(w)
		return Session{}, err
	}
	return s, nil
}

func (m *Manager) rotate(w http.ResponseWriter, r *http.Request, st *state, authAt time.Time, epoch int64, why string) (Session, error) {
	ctx := r.Context()
	tok, id := newToken()
	if err := m.store.Rotate(ctx, st.sess.ID, id, m.now(), authAt, epoch); err != nil {
		if errors.Is(err, ErrNotFound) {
			st.ok = false
			m.clearCookie(w)
		}
		return Session{}, fmt.Errorf("session: rotate: %w", err)
	}
	now := m.now()
	st.sess.ID, st.sess.AuthAt, st.sess.Epoch = id, authAt, epoch
	st.sess.Gen++
	st.sess.SeenGen, st.sess.SeenAt, st.sess.IssuedAt = st.sess.Gen, now, now
	m.setCookie(w, tok, id)
	detail := "token replaced"
	if why != "" {
		detail = why + "; " + detail
	}
	m.emit(ctx, r, Event{Kind: EventRotated, UserID: st.sess.UserID, Session: st.sess.Handle.Short(), Detail: detail})
	return st.sess, nil
}

// Destroy ends the request's session: it is deleted from the store, then
// the cookie is expired and the browser is asked to clear the site's data
// (Clear-Site-Data applies to every cookie of the registrable domain).
// It succeeds, and clears the cookie, when there was no session. If the
// store fails, the cookie is left alone and the error returned, so that the
// user can try again rather than believe a session is over that is not.
func (m *Manager) Destroy(w http.ResponseWriter, r *http.Request) error {
	if err := m.destroyCarried(r.Context(), r, WhySignedOut); err != nil {
		return err
	}
	m.clearCookie(w)
	w.Header().Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	return nil
}

// Sessions lists the live sessions of userID, most recent first.
func (m *Manager) Sessions(ctx context.Context, userID string) ([]Session, error) {
	ss, err := m.store.List(ctx, userID, m.now())
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	return ss, nil
}

// Revoke ends the session of userID with handle h; why says by whom, in
// words ("revoked by an administrator"), and is what a later request with
// its token is told. It returns ErrNotFound if userID has no live session
// with that handle. r may be nil when no request is behind it.
func (m *Manager) Revoke(ctx context.Context, r *http.Request, userID string, h Handle, why string) error {
	if why == "" {
		why = "revoked"
	}
	// The session's token may be renewed between finding and deleting it:
	// then the delete finds nothing under the old ID, and the next round
	// finds the new one. A session that is really gone ends the loop.
	for range 5 {
		s, err := m.store.FindHandle(ctx, h)
		if err == nil && (s.UserID != userID || !s.ValidAt(m.now())) {
			err = ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("session: revoke: %w", err)
		}
		err = m.store.DeleteForUser(ctx, userID, s.ID, m.now(), clip(why, maxWhyLen))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("session: revoke: %w", err)
		}
		m.emit(ctx, r, Event{Kind: EventRevoked, UserID: userID, Session: h.Short(), Detail: "1 session " + why, Ends: 1})
		if st := stateFrom(ctx); st != nil && st.ok && st.sess.Handle == h {
			st.ok = false
		}
		return nil
	}
	return fmt.Errorf("session: revoke: %w", ErrNotFound)
}

// RevokeOthers ends every session of the request's user except the
// request's own, and returns how many it ended.
func (m *Manager) RevokeOthers(r *http.Request, why string) (int, error) {
	st := stateFrom(r.Context())
	if st == nil || !st.ok {
		return 0, ErrNoSession
	}
	return m.revokeAll(r.Context(), r, st.sess.UserID, st.sess.Handle, why)
}

// RevokeAll ends every session of userID (on a password change, account
// deletion or by an administrator) and returns how many it ended. If it is
// called while serving a request of userID, that request's own session is
// ended too, but the request still sees it through FromContext; call Create
// to give the user a new session, or Destroy to clear the cookie.
func (m *Manager) RevokeAll(ctx context.Context, userID, why string) (int, error) {
	return m.revokeAll(ctx, nil, userID, Handle{}, why)
}

// RevokeAllExcept is RevokeAll sparing the session with handle except,
// such as the one of the request that changed the password.
func (m *Manager) RevokeAllExcept(ctx context.Context, r *http.Request, userID string, except Handle, why string) (int, error) {
	return m.revokeAll(ctx, r, userID, except, why)
}

func (m *Manager) revokeAll(ctx context.Context, r *http.Request, userID string, except Handle, why string) (int, error) {
	if why == "" {
		why = "revoked"
	}
	// The session spared is named by its handle; its ID is read just
	// before, since a concurrent request may have renewed its token.
	var spare ID
	if !except.IsZero() {
		s, err := m.store.FindHandle(ctx, except)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return 0, fmt.Errorf("session: revoke: %w", err)
		}
		if err == nil && s.UserID == userID {
			spare = s.ID
		}
	}
	n, err := m.store.DeleteAllForUser(ctx, userID, spare, m.now(), clip(why, maxWhyLen))
	if err != nil {
		return 0, fmt.Errorf("session: revoke: %w", err)
	}
	if n > 0 {
		m.emit(ctx, r, Event{Kind: EventRevoked, UserID: userID, Detail: plural(n, "session") + " " + why, Ends: n})
	}
	return n, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Sweep deletes expired sessions in batches until none is left, and returns
// how many it deleted.
func (m *Manager) Sweep(ctx context.Context) (total int, err error) {
	if m.opts.OnSweep != nil {
		defer func() { m.opts.OnSweep(total) }()
	}
	for {
		n, err := m.store.DeleteExpired(ctx, m.now(), sweepBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("session: sweep: %w", err)
		}
		if n < sweepBatch {
			return total, nil
		}
	}
}

// RunSweeper calls Sweep every interval (a minute if every is not
// positive) until ctx is done.
func (m *Manager) RunSweeper(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := m.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				m.opts.Logger.Error("sweeping expired sessions", "err", err)
			}
			if n > 0 {
				m.opts.Logger.Info("swept expired sessions", "count", n)
			}
		}
	}
}

// setCookie sets the session cookie, replacing any Set-Cookie for the same
// name already on w, and keeps the response out of caches. Beside it, the
// "issued" cookie holds the session's short ID (never the token), with the
// same lifetime: when the token later comes back unknown because its
// session expired and was swept, the server can tell the browser's own old
// session from a token planted in it.
func (m *Manager) setCookie(w http.ResponseWriter, tok string, id ID) {
	m.writeCookie(w, &http.Cookie{
		Name:     m.opts.CookieName,
		Value:    tok,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	m.writeCookie(w, &http.Cookie{Name: m.issued, Value: id.Short(), Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// clearCookie expires the session cookie (Max-Age=0), and the issued one.
func (m *Manager) clearCookie(w http.ResponseWriter) {
	for _, name := range []string{m.opts.CookieName, m.issued} {
		m.writeCookie(w, &http.Cookie{
			Name:     name,
			Value:    "",
			Path:     "/",
			MaxAge:   -1,
			Secure:   true,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
	}
}

// writeCookie sets c, replacing any Set-Cookie for the same name already
// on w, and keeps the response out of caches.
func (m *Manager) writeCookie(w http.ResponseWriter, c *http.Cookie) {
	h := w.Header()
	prefix := c.Name + "="
	kept := h["Set-Cookie"][:0]
	for _, line := range h["Set-Cookie"] {
		if !strings.HasPrefix(line, prefix) {
			kept = append(kept, line)
		}
	}
	h["Set-Cookie"] = append(kept, c.String())
	h.Set("Cache-Control", "no-store")
}

// emit fills in the request's details and reports ev. r may be nil for
// operations that are not tied to a request.
func (m *Manager) emit(ctx context.Context, r *http.Request, ev Event) {
	ev.Time = m.now()
	if r != nil {
		ev.ClientIP = clip(m.opts.ClientIP(r), maxIPLen)
		ev.UserAgent = clip(r.UserAgent(), maxUserAgentLen)
	}
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(ctx, ev)
		return
	}
	m.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "session event",
		slog.String("event", string(ev.Kind)),
		slog.String("user_id", ev.UserID),
		slog.String("session", ev.Session),
		slog.String("client_ip", ev.ClientIP),
		slog.String("user_agent", ev.UserAgent),
		slog.String("detail", ev.Detail))
}

// RemoteIP returns the host part of r.RemoteAddr.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clip shortens s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		for len(s) > n {
			_, size := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-size]
		}
	}
	return s
}

// validCookieName reports whether name is a valid cookie name (an RFC 7230
// token).
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
