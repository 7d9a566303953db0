package storetest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// Benchmark measures a Manager's request path on st, through its
// middleware:
//
//   - load: an authenticated request whose touch is not due: parse the
//     cookie, find the session, check its deadlines. A read only.
//
//   - touch: an authenticated request whose touch is due: the same, plus
//     the conditional write of last-seen.
//
//   - baseline: BenchOptions.Baseline, the cheapest read the backend can
//     do (one round trip, or one bare query), measured in the same run so
//     that the others can be read as ratios on a noisy machine.
func Benchmark(b *testing.B, st session.Store, o BenchOptions) {
	if o.Baseline != nil {
		b.Run("baseline", func(b *testing.B) { benchBaseline(b, o) })
	}
	b.Run("load", func(b *testing.B) { benchRequest(b, st, o.RoundTrips, false) })
	b.Run("touch", func(b *testing.B) { benchRequest(b, st, o.RoundTrips, true) })
}

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

func benchRequest(b *testing.B, st session.Store, roundTrips func() int64, touch bool) {
	clock := NewClock()
	m, err := session.New(st, session.Options{
		Now:             clock.Now,
		AbsoluteTimeout: 100_000 * time.Hour, // the clock runs fast in the touch case
		OnEvent:         func(context.Context, session.Event) {},
	})
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
	r := httptest.NewRequest("GET", "https://example.test/profile", nil)
	r.Header.Set("Cookie", cookie)
	w := nopWriter{}
	var before int64
	if roundTrips != nil {
		before = roundTrips()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if touch {
			clock.Advance(time.Minute)
		}
		h.ServeHTTP(w, r)
		if !ok {
			b.Fatal("request was not authenticated")
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

// nopWriter is a ResponseWriter that discards everything; the middleware
// writes nothing on the paths measured.
type nopWriter struct{}

var nopHeader = http.Header{}

func (nopWriter) Header() http.Header         { return nopHeader }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}
