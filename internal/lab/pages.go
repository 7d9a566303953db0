package lab

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/connectbook/connectbook/internal/web/ui"
)

type loginData struct{ Error string }

// labStatic holds the lab's additions to ConnectBook's stylesheet.
//
//go:embed static/lab.css
var labStatic embed.FS

// view renders a variant's pages: every one of them, errors included,
// carries the viewport meta tag, ConnectBook's stylesheet and the banner
// that says which hole this copy has.
type view struct {
	variant string
	hole    string
}

// page is what every template gets: the banner's facts and its own data.
type page struct {
	Variant, Hole, Title string
	Data                 any
}

var pages = template.Must(template.New("").Parse(`
{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · ConnectBook lab ({{.Variant}})</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="stylesheet" href="/static/lab.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<aside class="lab-banner" aria-label="Deliberately vulnerable application">
<p><strong>Deliberately vulnerable — loopback only</strong> This is the ConnectBook lab, variant <code>{{.Variant}}</code>: {{.Hole}}. Never expose it. <a href="/walkthrough">See the attack step by step</a></p>
</aside>
<header class="top">
<nav class="bar" aria-label="Main">
<a class="brand" href="/"><span class="logo" aria-hidden="true">cb</span><span class="brand-name">ConnectBook</span></a>
<ul class="nav"><li><a href="/walkthrough">Walkthrough</a></li></ul>
</nav>
</header>
<main id="main" tabindex="-1">
{{end}}

{{define "bottom"}}</main>
<footer class="foot">ConnectBook lab · variant {{.Variant}} · for teaching on this computer only</footer>
</body>
</html>
{{end}}

{{define "home"}}{{template "top" .}}<section class="hero">
<h1>ConnectBook</h1>
<p>Stay in touch with your friends.</p>
<p class="muted">Users: alice (password123) and bob (securepassword).</p>
<p class="cta"><a href="/login">Log in</a></p>
</section>
{{template "bottom" .}}{{end}}

{{define "login"}}{{template "top" .}}<section class="card narrow">
<h1>Log in</h1>
{{with .Data.Error}}<p class="error">{{.}}</p>
{{end}}<form method="post" action="/login">
<p><label>Username <input type="text" name="username"></label></p>
<p><label>Password <input type="password" name="password"></label></p>
<p><button type="submit">Log in</button></p>
</form>
</section>
{{template "bottom" .}}{{end}}

{{define "profile"}}{{template "top" .}}<section class="card profile">
<div class="avatar" aria-hidden="true">{{printf "%.1s" .Data}}</div>
<h1>Welcome, {{.Data}}!</h1>
<p class="muted">This is your profile page.</p>
<p><a href="/logout">Logout</a></p>
</section>
{{template "bottom" .}}{{end}}

{{define "message"}}{{template "top" .}}<section class="card narrow">
<h1>{{.Title}}</h1>
<p>{{.Data}}</p>
<p><a href="/">Home</a></p>
</section>
{{template "bottom" .}}{{end}}
`))

// render buffers the page so a template error cannot leave half a page.
func (v view) render(w http.ResponseWriter, status int, name, title string, data any) {
	v.renderWith(pages, w, status, name, title, data)
}

func (v view) renderWith(t *template.Template, w http.ResponseWriter, status int, name, title string, data any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, page{Variant: v.variant, Hole: v.hole, Title: title, Data: data}); err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(brokenPage))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers with an error page in the lab's look; message is for a person.
func (v view) fail(w http.ResponseWriter, status int, message string) {
	v.render(w, status, "message", http.StatusText(status), message)
}

// brokenPage is the answer when a template fails, which needs no template.
const brokenPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Internal server error · ConnectBook lab</title>
<link rel="stylesheet" href="/static/style.css"><link rel="stylesheet" href="/static/lab.css"></head>
<body><aside class="lab-banner" aria-label="Deliberately vulnerable application"><p><strong>Deliberately vulnerable — loopback only</strong> This is the ConnectBook lab. <a href="/walkthrough">See the attack step by step</a></p></aside>
<main><section class="card narrow"><h1>Internal server error</h1><p>The page could not be shown.</p></section></main></body></html>
`

// static serves ConnectBook's own stylesheet and icon, and the lab's
// additions. Only these three files: nothing else of the app is exposed.
func (v view) static() http.Handler {
	app, err := fs.Sub(ui.Files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	lab, err := fs.Sub(labStatic, "static")
	if err != nil {
		panic(err)
	}
	files := map[string]fs.FS{"style.css": app, "favicon.svg": app, "lab.css": lab}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		fsys, ok := files[name]
		if !ok {
			v.fail(w, http.StatusNotFound, "There is no such file in this lab.")
			return
		}
		http.ServeFileFS(w, r, fsys, name)
	})
}

// errorPages answers the requests mux has no route for (404) or no method
// for (405) with a page in the lab's look; everything else goes to mux.
func (v view) errorPages(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		switch rec.code() {
		case http.StatusNotFound:
			v.fail(w, http.StatusNotFound, "There is no such page in this lab.")
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			v.fail(w, http.StatusMethodNotAllowed, "This page does not take that kind of request.")
		default: // a redirect to a cleaned path, say
			rec.replay(w)
		}
	})
}
