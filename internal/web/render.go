package web

import (
	"bytes"
	"html/template"
	"net/http"
	"sync"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/web/ui"
	"github.com/connectbook/connectbook/session"
)

// common is what every page's layout needs.
type common struct {
	Viewer *data.User
	CSRF   string
}

func (a *app) common(r *http.Request) common {
	return common{Viewer: viewer(r), CSRF: session.CSRFToken(r.Context())}
}

type pages struct{ t map[string]*template.Template }

func mustParsePages() *pages {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range []string{"home.html", "signup.html", "login.html", "profile.html", "user.html", "error.html"} {
		p.t[name] = template.Must(template.ParseFS(ui.Files, "templates/base.html", "templates/"+name))
	}
	return p
}

// buffers hold rendered pages; reusing them spares a page's worth of
// allocations per request.
var buffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 4096)) }}

// render writes a page, rendered into a buffer first so that a template
// error becomes a clean 500 rather than half a page.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			buffers.Put(buf)
		}
	}()
	if err := a.pages.t[name].ExecuteTemplate(buf, "base", data); err != nil {
		a.Logger.ErrorContext(r.Context(), "rendering page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
