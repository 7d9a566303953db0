package lab

import (
	"bytes"
	"html/template"
	"net/http"
)

type loginData struct{ Error string }

var pages = template.Must(template.New("").Parse(`
{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ConnectBook</title>
</head>
<body>
<h1>ConnectBook</h1>
{{end}}

{{define "bottom"}}</body>
</html>
{{end}}

{{define "home"}}{{template "top"}}<p>Stay in touch with your friends.</p>
<p><a href="/login">Log in</a></p>
{{template "bottom"}}{{end}}

{{define "login"}}{{template "top"}}<h2>Log in</h2>
{{with .Error}}<p class="error">{{.}}</p>
{{end}}<form method="post" action="/login">
<p><label>Username <input type="text" name="username"></label></p>
<p><label>Password <input type="password" name="password"></label></p>
<p><button type="submit">Log in</button></p>
</form>
{{template "bottom"}}{{end}}

{{define "profile"}}{{template "top"}}<p>Welcome, {{.}}!</p>
<p><a href="/logout">Logout</a></p>
{{template "bottom"}}{{end}}

{{define "message"}}{{template "top"}}<p>{{.}}</p>
<p><a href="/">Home</a></p>
{{template "bottom"}}{{end}}
`))

// render buffers the page so a template error cannot leave half a page.
func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "Internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
