package storetest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/bindtest"
)

// Benchmark measures a Manager's request path on st, through its
// middleware:
//
//   - load: an authenticated request whose touch is not due: parse the
//     cookie, find the session, check its deadlines. A read only.
//
//   - bound: load, for a session bound to a device key, with its bound
//     cookie: the same read, plus checking the bound cookie's MAC.
//
//   - touch: an authenticated request whose touch is due: the same, plus
//     the conditional write of last-seen (rotation off).
//
//   - rotation: every request comes a rotation interval after the one
//     before and presents the token the previous response set, so that
//     requests alternately renew the token (Renew) and present the new one
//     for the first time (Seen): the write each costs, on average.
//
//   - baseline: BenchOptions.Baseline, the cheapest read the backend can
//     do (one round trip, or one bare query), measured in the same run so
//     that the others can be read as ratios on a noisy machine.
func Benchmark(b *testing.B, st session.Store, o BenchOptions) {
	if o.Baseline != nil {
		b.Run("baseline", func(b *testing.B) { benchBaseline(b, o) })
	}
	b.Run("load", func(b *testing.B) { benchRequest(b, st, o.RoundTrips, benchLoad) })
	b.Run("bound", func(b *testing.B) { benchRequest(b, st, o.RoundTrips, benchBound) })
	b.Run("touch", func(b *testing.B) { benchRequest(b, st, o.RoundTrips, benchTouch) })
	b.Run("rotation", func(b *testing.B) { benchRequest(b, st, o.RoundTrips, benchRotation) })
}

type benchCase int

const (
	benchLoad benchCase = iota
	benchBound
	benchTouch
	benchRotation
)

// BenchOptions configure Benchmark.
type BenchOptions struct {
	// RoundTrips, if not nil, returns a running count of round trips to the
	// backend; the benchmarks then report roundtrips/op.
	RoundTrips func() int64
	// Baseline, if not nil, is the backend's cheapest read.
	Baseline func(context.Context) error
}

func benchBaseline(b *testing.B, o BenchOptions) {
	ctx := context.Background()
	if err := o.Baseline(ctx); err != nil {
		b.Fatal(err)
	}
	var before int64
	if o.RoundTrips != nil {
		before = o.RoundTrips()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := o.Baseline(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if o.RoundTrips != nil {
		b.ReportMetric(float64(o.RoundTrips()-before)/float64(b.N), "roundtrips/op")
	}
}

func benchRequest(b *testing.B, st session.Store, roundTrips func() int64, c benchCase) {
	clock := NewClock()
	opts := session.Options{
		Now:             clock.Now,
		AbsoluteTimeout: 100_000 * time.Hour, // the clock runs fast in the touch case
		OnEvent:         func(context.Context, session.Event) {},
	}
	if c == benchTouch {
		opts.RotationInterval = -1
	}
	if c == benchBound {
		opts.BoundCookieLifetime = 100_000 * time.Hour
	}
	m, err := session.New(st, opts)
	if err != nil {
		b.Fatal(err)
	}
	login := httptest.NewRequest("POST", "https://example.test/login", nil)
	rec := httptest.NewRecorder()
	if _, err := m.Create(rec, login, session.Login{UserID: "bench-user", Method: "password"}); err != nil {
		b.Fatal(err)
	}
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if c.Name == m.CookieName() {
			cookie = c.Name + "=" + c.Value
		}
	}
	ok := false
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok = session.UserID(r.Context()) == "bench-user"
	}))
	if c == benchBound {
		cookie += "; " + bindForBench(b, h, rec.Result(), cookie, m.CookieName())
	}
	r := httptest.NewRequest("GET", "https://example.test/profile", nil)
	r.Header.Set("Cookie", cookie)
	w := &benchWriter{h: http.Header{}}
	var before int64
	if roundTrips != nil {
		before = roundTrips()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		switch c {
		case benchTouch:
			clock.Advance(time.Minute)
		case benchRotation:
			clock.Advance(session.DefaultRotationInterval)
		}
		h.ServeHTTP(w, r)
		if !ok {
			b.Fatal("request was not authenticated")
		}
		if c == benchRotation && len(w.h["Set-Cookie"]) > 0 {
			for _, line := range w.h["Set-Cookie"] {
				if tok, found := strings.CutPrefix(line, m.CookieName()+"="); found {
					tok, _, _ = strings.Cut(tok, ";")
					r.Header.Set("Cookie", m.CookieName()+"="+tok)
				}
			}
			clear(w.h)
		}
	}
	b.StopTimer()
	if roundTrips != nil {
		b.ReportMetric(float64(roundTrips()-before)/float64(b.N), "roundtrips/op")
	}
}

// CountWrites wraps a client's connection so that writes add to n. The
// clients of the stores here (pgx, go-redis) write each request, or each
// pipelined batch, in one call and wait for the answer before the next, so
// writes count round trips.
func CountWrites(c net.Conn, n *atomic.Int64) net.Conn { return countingConn{c, n} }

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// benchWriter is a ResponseWriter that discards the body and keeps the
// header, for the cookies the middleware sets.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

// bindForBench registers a device key for the session the sign-in
// response login started, as a browser would, and returns the bound
// cookie ("name=value").
func bindForBench(b *testing.B, h http.Handler, login *http.Response, cookie, name string) string {
	reg, err := bindtest.ParseRegistration(login.Header.Get("Secure-Session-Registration"))
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("POST", "https://example.test"+reg.Path, nil)
	r.Header.Set("Cookie", cookie)
	r.Header.Set("Secure-Session-Response", bindtest.NewES256().Proof(reg.Challenge, true))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		if c.Name == name+"-bound" {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("registration answered %d without a bound cookie", rec.Code)
	return ""
}
