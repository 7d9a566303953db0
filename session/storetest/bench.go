package storetest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/connectbook/connectbook/session"
)

// Benchmark measures a Manager's request path on st, through its
// middleware:
//
//   - load: an authenticated request whose touch is not due: parse the
//     cookie, find the session, check its deadlines. A read only.
//   - touch: an authenticated request whose touch is due: the same, plus
//     the conditional write of last-seen.
//
// roundTrips, if not nil, returns a running count of round trips to the
// backend; the benchmark then reports roundtrips/op.
func Benchmark(b *testing.B, st session.Store, roundTrips func() int64) {
	b.Run("load", func(b *testing.B) { benchRequest(b, st, roundTrips, false) })
	b.Run("touch", func(b *testing.B) { benchRequest(b, st, roundTrips, true) })
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
	if _, err := m.Create(rec, login, "bench-user"); err != nil {
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

// nopWriter is a ResponseWriter that discards everything; the middleware
// writes nothing on the paths measured.
type nopWriter struct{}

var nopHeader = http.Header{}

func (nopWriter) Header() http.Header         { return nopHeader }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}
