// Package web is ConnectBook's HTTP layer: routes, middleware and handlers.
package web

import (
	"log/slog"
	"net/http"

	"github.com/connectbook/connectbook/session"
)

// Deps is everything the handlers need.
type Deps struct {
	Sessions *session.Manager
	Logger   *slog.Logger
}

type app struct {
	Deps
	pages *pages
}

// New returns the app's handler.
func New(d Deps) http.Handler {
	a := &app{Deps: d, pages: mustParsePages()}
	return a.routes()
}
