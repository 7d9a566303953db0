package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/session"
)

func value(t *testing.T, m *Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	v, ok, err := m.Value(name, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

func mustValue(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(t, m, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func newMetrics() *Metrics {
	return New(Labels{SecurityEvents: []string{"login_failed"}, ThrottleScopes: []string{"ip"}, LoginOutcomes: []string{"succeeded", "failed"}})
}

// Every reason, outcome, event kind and scope is there from the start, at
// zero.
func TestSeriesAtZero(t *testing.T) {
	m := newMetrics()
	for _, r := range endReasons {
		if v := mustValue(t, m, "connectbook_sessions_ended_total", "reason", r); v != 0 {
			t.Errorf("reason %s starts at %v", r, v)
		}
	}
	mustValue(t, m, "connectbook_logins_total", "outcome", "failed")
	mustValue(t, m, "connectbook_security_events_total", "event", "login_failed")
	mustValue(t, m, "connectbook_throttled_total", "scope", "ip")
	mustValue(t, m, "go_goroutines")
	mustValue(t, m, "process_resident_memory_bytes")
}

// Each event of the session manager counts as what it did: the reason a
// session ended comes from its kind and detail, the number from Ends.
func TestSessionEvents(t *testing.T) {
	for _, tc := range []struct {
		ev     session.Event
		reason string // "" for no ended session
		n      float64
	}{
		{session.Event{Kind: session.EventDestroyed, Detail: session.WhySignedOut, Ends: 1}, EndSignedOut, 1},
		{session.Event{Kind: session.EventDestroyed, Detail: session.WhyReplaced, Ends: 1}, EndReplaced, 1},
		{session.Event{Kind: session.EventDestroyed, Detail: "credentials changed while signing in", Ends: 1}, EndReplaced, 1},
		{session.Event{Kind: session.EventExpired, Detail: session.WhyIdleTimeout, Ends: 1}, EndIdle, 1},
		{session.Event{Kind: session.EventExpired, Detail: session.WhyAbsoluteTimeout, Ends: 1}, EndAbsolute, 1},
		{session.Event{Kind: session.EventExpired, Detail: "expired and already removed"}, "", 0},
		{session.Event{Kind: session.EventRevoked, Detail: "3 sessions revoked", Ends: 3}, EndRevoked, 3},
		{session.Event{Kind: session.EventEvicted, Ends: 1}, EndEvicted, 1},
		{session.Event{Kind: session.EventClientChanged, Ended: true, Ends: 1}, EndClientChanged, 1},
		{session.Event{Kind: session.EventTokenReused, Ended: true, Ends: 1}, EndTokenReused, 1},
		{session.Event{Kind: session.EventTokenReused, Ended: true}, "", 0}, // ended by another request meanwhile
		{session.Event{Kind: session.EventBindingMissing, Ended: true, Ends: 1}, EndBindingMissing, 1},
		{session.Event{Kind: session.EventBindingMissing}, "", 0},
		{session.Event{Kind: session.EventUnknownToken}, "", 0},
	} {
		t.Run(fmt.Sprintf("%s %s %d", tc.ev.Kind, tc.ev.Detail, tc.ev.Ends), func(t *testing.T) {
			m := newMetrics()
			m.SessionEvent(tc.ev)
			for _, r := range endReasons {
				want := 0.0
				if r == tc.reason {
					want = tc.n
				}
				if got := mustValue(t, m, "connectbook_sessions_ended_total", "reason", r); got != want {
					t.Errorf("%s: %v, want %v", r, got, want)
				}
			}
		})
	}
	m := newMetrics()
	m.SessionEvent(session.Event{Kind: session.EventCreated})
	m.SessionEvent(session.Event{Kind: session.EventCreated})
	m.SessionEvent(session.Event{Kind: session.EventRotated})
	m.SessionsSwept(5)
	if c, r, s := mustValue(t, m, "connectbook_sessions_created_total"), mustValue(t, m, "connectbook_session_tokens_rotated_total"),
		mustValue(t, m, "connectbook_sessions_ended_total", "reason", EndSwept); c != 2 || r != 1 || s != 5 {
		t.Errorf("created %v, rotated %v, swept %v; want 2, 1, 5", c, r, s)
	}
}

// A request without a route counts as "(none)"; the in-flight gauge goes
// back to zero.
func TestRequests(t *testing.T) {
	m := newMetrics()
	m.RequestStarted()
	if v := mustValue(t, m, "connectbook_http_requests_in_flight"); v != 1 {
		t.Errorf("in flight: %v", v)
	}
	m.RequestDone("GET /u/{username}", 200, 3*time.Millisecond)
	m.RequestStarted()
	m.RequestDone("", 404, time.Millisecond)
	for _, tc := range []struct{ route, code string }{{"GET /u/{username}", "200"}, {"(none)", "404"}} {
		if n := mustValue(t, m, "connectbook_http_requests_total", "route", tc.route, "code", tc.code); n != 1 {
			t.Errorf("%s %s: %v requests", tc.route, tc.code, n)
		}
		if n := mustValue(t, m, "connectbook_http_request_duration_seconds", "route", tc.route, "code", tc.code); n != 1 {
			t.Errorf("%s %s: %v observations", tc.route, tc.code, n)
		}
	}
	if v := mustValue(t, m, "connectbook_http_requests_in_flight"); v != 0 {
		t.Errorf("in flight after: %v", v)
	}
	var nilMetrics *Metrics // counts nothing, and does not fail
	nilMetrics.RequestStarted()
	nilMetrics.RequestDone("", 200, 0)
	nilMetrics.SessionEvent(session.Event{Kind: session.EventCreated})
}

// failing is a store whose calls fail with err.
type failing struct {
	session.Store
	err error
}

func (f failing) Find(context.Context, session.ID) (session.Session, error) {
	return session.Session{}, f.err
}
func (f failing) Delete(context.Context, session.ID, time.Time, string) error {
	return f.err
}

// A store call is timed whatever it answers; it is an error when the store
// failed or ran out of time, not when the session is not there or the
// caller went away.
func TestStoreCalls(t *testing.T) {
	for _, tc := range []struct {
		err    error
		failed bool
	}{
		{nil, false},
		{session.ErrNotFound, false},
		{fmt.Errorf("wrapped: %w", session.ErrNotFound), false},
		{context.Canceled, false},
		{context.DeadlineExceeded, true},
		{errors.New("connection refused"), true},
		{fmt.Errorf("%w (no answer within 1s): %w", session.ErrUnavailable, context.DeadlineExceeded), true},
	} {
		m := newMetrics()
		st := m.Store(failing{err: tc.err}, "redis")
		st.Find(context.Background(), session.ID{})
		st.Find(context.Background(), session.ID{})
		st.Delete(context.Background(), session.ID{}, time.Now(), "")
		if n := mustValue(t, m, "connectbook_session_store_call_duration_seconds", "store", "redis", "op", "find"); n != 2 {
			t.Errorf("%v: %v finds timed, want 2", tc.err, n)
		}
		want := 0.0
		if tc.failed {
			want = 2
		}
		if n := mustValue(t, m, "connectbook_session_store_errors_total", "store", "redis", "op", "find"); n != want {
			t.Errorf("%v: %v find errors, want %v", tc.err, n, want)
		}
		if n := mustValue(t, m, "connectbook_session_store_errors_total", "store", "redis", "op", "delete"); n != want/2 {
			t.Errorf("%v: %v delete errors, want %v", tc.err, n, want/2)
		}
	}
}

// cachedFinder answers FindCached for one ID.
type cachedFinder struct {
	session.Store
	have session.ID
}

func (c cachedFinder) FindCached(id session.ID) (*session.Session, bool) {
	return &session.Session{ID: id}, id == c.have
}

// CacheStats counts the cached finds as a store does.
func (c cachedFinder) CacheStats() (int64, int64) { return 42, 7 }

// Finds answered from the store's memory are passed on, not timed as find
// calls, and read from the store's own count at each scrape; a store that
// keeps nothing at hand answers none.
func TestStoreCachedFinds(t *testing.T) {
	m := newMetrics()
	st := m.Store(cachedFinder{Store: failing{}, have: session.ID{1}}, "sqlite").(session.CachedFinder)
	if _, ok := st.FindCached(session.ID{1}); !ok {
		t.Fatal("the wrapper did not pass the answer on")
	}
	if _, ok := st.FindCached(session.ID{2}); ok {
		t.Fatal("the wrapper answered for an ID the store does not have")
	}
	if n := mustValue(t, m, "connectbook_session_store_call_duration_seconds", "store", "sqlite", "op", "find"); n != 0 {
		t.Errorf("%v finds timed, want 0", n)
	}
	if n := mustValue(t, m, "connectbook_session_store_cache_hits_total", "store", "sqlite"); n != 42 {
		t.Errorf("cache hits %v, want the store's 42", n)
	}
	plain := m.Store(failing{}, "redis").(session.CachedFinder)
	if _, ok := plain.FindCached(session.ID{1}); ok {
		t.Fatal("the wrapper of a store without a cache answered")
	}
}

// The hashing queue's depth and its rejections are read from the hasher
// at each scrape.
func TestHashing(t *testing.T) {
	m := newMetrics()
	h := auth.NewHasherLimits(auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 1, 10*time.Second).WithShare(8)
	m.Hashing(h.Stats)
	slot, err := h.Reserve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() {
		s, err := h.Reserve(context.Background())
		if err == nil {
			s.Release()
		}
		waiting <- err
	}()
	for mustValue(t, m, "connectbook_password_hashing_queue_depth") != 1 {
		time.Sleep(time.Millisecond)
	}
	if r := mustValue(t, m, "connectbook_password_hashing_running"); r != 1 {
		t.Errorf("running: %v", r)
	}
	if _, err := h.Reserve(context.Background()); !errors.Is(err, auth.ErrBusy) {
		t.Fatalf("third request: %v, want ErrBusy", err)
	}
	if n := mustValue(t, m, "connectbook_password_hashing_rejected_total", "reason", "capacity"); n != 1 {
		t.Errorf("rejected for capacity: %v", n)
	}
	slot.Release()
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	if d := mustValue(t, m, "connectbook_password_hashing_queue_depth"); d != 0 {
		t.Errorf("queue depth after: %v", d)
	}

	// One client network past its share is refused at once.
	h = auth.NewHasherLimits(auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, 8, 10*time.Second).WithShare(1)
	m = newMetrics()
	m.Hashing(h.Stats)
	ctx := auth.ForClient(context.Background(), "192.0.2.7")
	slot, err = h.Reserve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slot.Release()
	if _, err := h.Reserve(ctx); !errors.Is(err, auth.ErrClientBusy) {
		t.Fatalf("second request of the network: %v, want ErrClientBusy", err)
	}
	if n := mustValue(t, m, "connectbook_password_hashing_rejected_total", "reason", "client_share"); n != 1 {
		t.Errorf("rejected for the client's share: %v", n)
	}
}

// The handler serves the text format.
func TestHandler(t *testing.T) {
	m := newMetrics()
	m.Login("failed")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(rec.Body.String(), `connectbook_logins_total{outcome="failed"} 1`) {
		t.Errorf("%d %q:\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}
