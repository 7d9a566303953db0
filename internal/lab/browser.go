package lab

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// maxBody is how much of a response the walkthrough's browsers keep.
const maxBody = 256 << 10

// recorder is a ResponseWriter that keeps the response in memory, for
// requests the server makes to itself.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	if room := maxBody - rec.body.Len(); room > 0 {
		rec.body.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

func (rec *recorder) code() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}

// replay writes the recorded response to w.
func (rec *recorder) replay(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code())
	w.Write(rec.body.Bytes())
}

// exchange is one request a simulated browser made, and what came back,
// as the walkthrough shows it.
type exchange struct {
	Who       string // "Attacker" or "Victim"
	Method    string
	Target    string
	Sent      string // the Cookie header, "" for none
	Status    int
	Location  string
	SetCookie []string
	Shows     string // what the page amounts to, in words
}

func (e exchange) StatusText() string { return http.StatusText(e.Status) }

// jarCookie is a cookie a simulated browser holds.
type jarCookie struct {
	name, value string
	httpOnly    bool
}

// browser is a simulated browser: it sends requests straight to a
// handler, in process, and keeps the cookies the responses set. It never
// opens a connection, so nothing it does can reach beyond this server.
type browser struct {
	ctx     context.Context
	h       http.Handler
	who     string
	cookies []jarCookie
	log     *[]exchange
}

// plant puts a cookie in the browser as an attacker would, by some way
// around the site (a sibling subdomain, an injected response).
func (b *browser) plant(name, value string) {
	b.set(jarCookie{name: name, value: value})
}

func (b *browser) set(c jarCookie) {
	b.cookies = slices.DeleteFunc(b.cookies, func(o jarCookie) bool { return o.name == c.name })
	b.cookies = append(b.cookies, c)
}

// cookie returns the value the browser holds for name, "" if none.
func (b *browser) cookie(name string) string {
	for _, c := range b.cookies {
		if c.name == name {
			return c.value
		}
	}
	return ""
}

// scriptVisible is what document.cookie would return: every cookie that
// is not HttpOnly.
func (b *browser) scriptVisible() string {
	var parts []string
	for _, c := range b.cookies {
		if !c.httpOnly {
			parts = append(parts, c.name+"="+c.value)
		}
	}
	return strings.Join(parts, "; ")
}

func (b *browser) header() string {
	parts := make([]string, len(b.cookies))
	for i, c := range b.cookies {
		parts[i] = c.name + "=" + c.value
	}
	return strings.Join(parts, "; ")
}

// do sends one request, follows no redirect, stores the cookies set, logs
// the exchange and returns it with the page's body.
func (b *browser) do(method, target string, form url.Values) (exchange, string) {
	var body strings.Reader
	if form != nil {
		body.Reset(form.Encode())
	}
	r, err := http.NewRequestWithContext(b.ctx, method, "http://127.0.0.1"+target, &body)
	if err != nil { // target is built by the walkthrough, never by a visitor
		panic(err)
	}
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) ConnectBookLab/1 ("+strings.ToLower(b.who)+")")
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	sent := b.header()
	if sent != "" {
		r.Header.Set("Cookie", sent)
	}
	rec := &recorder{header: http.Header{}}
	b.h.ServeHTTP(rec, r)
	res := &http.Response{Header: rec.header}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			b.cookies = slices.DeleteFunc(b.cookies, func(o jarCookie) bool { return o.name == c.Name })
			continue
		}
		b.set(jarCookie{name: c.Name, value: c.Value, httpOnly: c.HttpOnly})
	}
	ex := exchange{
		Who: b.who, Method: method, Target: target, Sent: sent,
		Status: rec.code(), Location: rec.header.Get("Location"), SetCookie: rec.header.Values("Set-Cookie"),
	}
	ex.Shows = shows(ex, rec.body.String())
	*b.log = append(*b.log, ex)
	return ex, rec.body.String()
}

func (b *browser) get(target string) (exchange, string) { return b.do(http.MethodGet, target, nil) }

var welcome = regexp.MustCompile(`Welcome, ([A-Za-z0-9_]+)!`)

// signedInAs returns whom a page welcomes, "" if it welcomes nobody.
func signedInAs(body string) string {
	if m := welcome.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// shows says in words what a response amounts to for the person who
// asked for it.
func shows(ex exchange, body string) string {
	switch {
	case ex.Status == http.StatusOK && signedInAs(body) != "":
		return `the profile page: "Welcome, ` + signedInAs(body) + `!"`
	case ex.Status == http.StatusOK && strings.Contains(body, `name="password"`):
		return "the sign-in form"
	case ex.Status >= 300 && ex.Status < 400 && ex.Location == "/login":
		return "a redirect to the sign-in page: not signed in"
	case ex.Status >= 300 && ex.Status < 400:
		return "a redirect to " + ex.Location
	case ex.Status == http.StatusOK:
		return "a page for visitors who are not signed in"
	}
	return ex.StatusText()
}
