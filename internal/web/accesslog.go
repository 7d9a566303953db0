package web

import (
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// RequestIDHeader carries each request's ID in the response, to match a
// user's report with the access log's line.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader as net/http keeps it.
var requestIDKey = http.CanonicalHeaderKey(RequestIDHeader)

var connectionClose = []string{"close"}

// accessLog writes a line for each request once it is answered: method,
// route pattern, status, bytes, duration, client address and request ID.
// It never writes the path or the query (a path names people, a query can
// hold a token), cookies or any header: the route pattern ("GET
// /u/{username}") says which page without saying whose. Health checks
// are logged at debug level only, for a load balancer asks every few
// seconds. Security events keep their own records (the "security event"
// lines and the database).
func (a *app) accessLog(next http.Handler) http.Handler {
	clientIP := ClientIP(a.BehindProxy)
	handler := a.Logger.Handler().WithAttrs([]slog.Attr{slog.String("stream", "access")})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// An ID tells requests apart in the log; it needs no secrecy, so
		// it comes from the fast generator.
		var raw [8]byte
		binary.LittleEndian.PutUint64(raw[:], rand.Uint64())
		id := hex.EncodeToString(raw[:])
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, id: [1]string{id}}
		h := w.Header()
		h[requestIDKey] = rec.id[:] // one allocation for both
		if a.Draining != nil && a.Draining() {
			h["Connection"] = connectionClose
		}
		a.Metrics.RequestStarted()
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		a.Metrics.RequestDone(r.Pattern, rec.status, took)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		if !handler.Enabled(r.Context(), level) {
			return
		}
		route := r.Pattern
		if route == "" {
			route = "(none)"
		}
		// A record of its own rather than Logger.LogAttrs, which would
		// look up the caller's source line for a log that never shows it.
		line := slog.NewRecord(start.Add(took), level, "request", 0)
		line.AddAttrs(
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(took.Microseconds())/1000),
			slog.String("client_ip", clientIP(r)),
			slog.String("request_id", id))
		handler.Handle(r.Context(), line)
	})
}

// recorder notes the status and the size of a response.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	id          [1]string // the request ID header's value
}

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
