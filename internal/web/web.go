// Package web is ConnectBook's HTTP layer: routes, middleware and one file
// of handlers per resource. Handlers parse and validate input, make one
// call into a domain package and respond; every bad input gets a 4xx page
// a person can understand.
package web

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/feed"
	"github.com/connectbook/connectbook/internal/follow"
	"github.com/connectbook/connectbook/internal/metrics"
	"github.com/connectbook/connectbook/internal/notify"
	"github.com/connectbook/connectbook/internal/post"
	"github.com/connectbook/connectbook/session"
)

// Deps is everything the handlers need.
type Deps struct {
	Account  *account.Service
	Posts    *post.Service
	Follow   *follow.Service
	Feed     *feed.Service
	Notify   *notify.Service
	Sessions *session.Manager
	Audit    *audit.Log
	Logger   *slog.Logger
	// TLS is true when the app serves HTTPS itself; it turns on HSTS.
	TLS bool
	// BehindProxy trusts the reverse proxy's X-Forwarded-For for the
	// client's address and its X-Forwarded-Proto for HSTS.
	BehindProxy bool
	Now         func() time.Time
	// Ready checks that the database and the session store answer, for
	// /readyz; its error names the one that did not, for an operator.
	Ready func(context.Context) error
	// Metrics counts requests by route and status; nil counts nothing.
	Metrics *metrics.Metrics
	// Draining reports that the instance is shutting down: each response
	// then closes its connection, so that a proxy's kept-alive connections
	// end cleanly, each after an answer, instead of being cut while a
	// request may be on its way (nil: never).
	Draining func() bool
}

type app struct {
	Deps
	pages *pages
}

// New returns the app's handler.
func New(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	a := &app{Deps: d}
	funcs := baseFuncs()
	for name, fn := range (template.FuncMap{"ago": a.ago, "when": a.when, "post": post.Render,
		"plural": count, "slice1": func(p data.Post) []data.Post { return []data.Post{p} },
		"relate": relateButton, "posts": a.postList}) {
		funcs[name] = fn
	}
	a.pages = mustParsePages(funcs)
	return a.routes()
}

// fromProxy reports whether a request came from where a reverse proxy can
// be: a loopback or private address. Anyone else's forwarding headers are
// their own word.
func fromProxy(r *http.Request) bool {
	ip, err := netip.ParseAddr(session.RemoteIP(r))
	return err == nil && (ip.IsLoopback() || ip.IsPrivate())
}

// ClientIP returns a function that gives a request's client address: the
// peer's, or with behindProxy, for requests from a loopback or private
// address, the one the proxy appended to X-Forwarded-For (the last entry;
// earlier ones are the client's word).
func ClientIP(behindProxy bool) func(*http.Request) string {
	return func(r *http.Request) string {
		if behindProxy && fromProxy(r) {
			if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
				last := xff[len(xff)-1]
				if i := strings.LastIndexByte(last, ','); i >= 0 {
					last = last[i+1:]
				}
				if ip, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
					return ip.String()
				}
			}
		}
		return session.RemoteIP(r)
	}
}

// relateForm is a button on someone's profile or in a list: a POST to
// /u/{Username}/{Action} that comes back to Next.
type relateForm struct {
	Username, Action, Label, Class, CSRF, Next string
}

// relateButton makes a relateForm for the templates; who is a data.User
// or a data.Person.
func relateButton(who any, action, label, class, csrf, next string) relateForm {
	f := relateForm{Action: action, Label: label, Class: class, CSRF: csrf, Next: next}
	switch u := who.(type) {
	case data.User:
		f.Username = u.Username
	case data.Person:
		f.Username = u.Username
	}
	return f
}
