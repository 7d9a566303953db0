package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// NotReady is Deps.Ready's error: which part did not answer in time, and
// why (logged, never shown: the cause can name hosts and addresses).
type NotReady struct {
	Part     string
	Within   time.Duration
	Err      error
	Shutting bool // the instance is shutting down
}

func (e *NotReady) Error() string {
	if e.Shutting {
		return e.Part + " is shutting down"
	}
	return fmt.Sprintf("%s did not answer within %v: %v", e.Part, e.Within, e.Err)
}

func (e *NotReady) Unwrap() error { return e.Err }

// healthz answers as long as the process serves HTTP: for a supervisor's
// liveness check. It reads nothing, so a slow database does not make a
// live process look dead.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	a.plain(w, r, http.StatusOK, "ok\n")
}

// readyz answers 200 when the database and the session store each answered
// within their deadline, and 503 naming the one that did not: for a load
// balancer, which should send no requests to an instance that cannot serve
// them. Neither reads or writes anything of a user's.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	if a.Ready == nil {
		a.plain(w, r, http.StatusOK, "ready\n")
		return
	}
	if err := a.Ready(r.Context()); err != nil {
		a.Logger.WarnContext(r.Context(), "not ready", "err", err)
		say := "not ready\n"
		if nr, ok := errors.AsType[*NotReady](err); ok && nr.Shutting {
			say = "not ready: " + nr.Error() + "\n"
		} else if ok {
			say = fmt.Sprintf("not ready: %s did not answer within %v\n", nr.Part, nr.Within)
		}
		w.Header().Set("Retry-After", "5")
		a.plain(w, r, http.StatusServiceUnavailable, say)
		return
	}
	a.plain(w, r, http.StatusOK, "ready\n")
}

// plain answers with a line of text that no cache keeps.
func (a *app) plain(w http.ResponseWriter, r *http.Request, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write([]byte(text))
	}
}
