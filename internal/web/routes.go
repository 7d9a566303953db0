package web

import (
	"io/fs"
	"net/http"

	"github.com/connectbook/connectbook/internal/web/ui"
)

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(ui.Files, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	dynamic := chain(a.Sessions.Middleware)
	mux.Handle("GET /{$}", dynamic.then(http.HandlerFunc(a.home)))

	return chain(securityHeaders).then(mux)
}

// middlewares compose left to right: chain(a, b).then(h) is a(b(h)).
type middlewares []func(http.Handler) http.Handler

func chain(m ...func(http.Handler) http.Handler) middlewares { return m }

func (ms middlewares) then(h http.Handler) http.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}
