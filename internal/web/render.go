package web

import (
	"bytes"
	"hash/fnv"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/post"
	"github.com/connectbook/connectbook/internal/web/ui"
	"github.com/connectbook/connectbook/session"
)

// page is what every template gets: what the layout needs, and the page's
// own data. (The page's data is a field, not an embedded struct: templates
// look fields of structs with embedded fields up far more slowly.)
type page struct {
	Viewer  *data.User
	CSRF    string
	Path    string // the request's path, for forms that come back to it
	Notices []account.Notice
	Flash   string // a one-time message after a redirect
	// Unread counts the viewer's unseen notifications (shown as "99+"
	// past notify.MaxUnread).
	Unread int
	// SettingsNav is the settings pages' tabs, this page's marked current.
	SettingsNav template.HTML
	Data        any
}

// settingsTabs are the settings pages, in the order of their tabs.
var settingsTabs = []struct{ path, label string }{
	{"/profile", "Profile"},
	{"/settings/sessions", "Sessions"},
	{"/settings/privacy", "Privacy"},
	{"/settings/password", "Password"},
	{"/settings/activity", "Security activity"},
	{"/settings/delete", "Delete account"},
}

// settingsNavs holds the tabs as rendered for each settings page, made
// once: building them in the template would cost a comparison call per tab
// on every page view.
var settingsNavs = func() map[string]template.HTML {
	m := map[string]template.HTML{}
	for _, current := range settingsTabs {
		var b bytes.Buffer
		b.WriteString(`<nav class="tabs" aria-label="Settings">` + "\n")
		for _, t := range settingsTabs {
			b.WriteString(`<a href="` + t.path + `"`)
			if t.path == current.path {
				b.WriteString(` aria-current="page"`)
			}
			b.WriteString(">" + template.HTMLEscapeString(t.label) + "</a>\n")
		}
		b.WriteString("</nav>")
		m[current.path] = template.HTML(b.String())
	}
	return m
}()

type pages struct{ t map[string]*template.Template }

// page returns the templates of the named page; with no name, those of a
// page written in Go (see goPage), for its notices and flash.
func (p *pages) page(name string) *template.Template {
	if name == "" {
		return p.t[goPageTemplates]
	}
	return p.t[name]
}

// goPageTemplates names the templates of pages written in Go.
const goPageTemplates = "base.html"

var pageNames = []string{"home.html", "signup.html", "login.html", "user.html", "error.html",
	"sessions.html", "password.html", "reauth.html", "delete.html", "activity.html",
	"feed.html", "post.html", "post_delete.html", "people.html", "search.html", "notifications.html",
	"requests.html", "privacy.html", "security.html", "logout.html"}

func mustParsePages(funcs template.FuncMap) *pages {
	p := &pages{t: map[string]*template.Template{}}
	p.t[goPageTemplates] = template.Must(template.New(goPageTemplates).Funcs(funcs).ParseFS(ui.Files, "templates/base.html"))
	for _, name := range pageNames {
		p.t[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(ui.Files,
			"templates/base.html", "templates/settings_nav.html", "templates/parts.html", "templates/"+name))
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
	p := &page{Viewer: viewer(r), CSRF: session.CSRFToken(r.Context()), Path: r.URL.Path, Data: data}
	if nav, ok := settingsNavs[r.URL.Path]; ok {
		p.SettingsNav = nav
	}
	if p.Viewer != nil {
		if sess, ok := session.FromContext(r.Context()); ok {
			notices, err := a.Account.Notices(r.Context(), *p.Viewer, sess)
			if err != nil {
				a.Logger.ErrorContext(r.Context(), "loading notices", "err", err)
			}
			p.Notices = notices
		}
		unread, err := a.Notify.Unread(r.Context(), *p.Viewer)
		if err != nil {
			a.Logger.ErrorContext(r.Context(), "counting notifications", "err", err)
		}
		p.Unread = unread
	}
	p.Flash = a.takeFlash(w, r)
	if err := writePage(buf, a.pages.page(name), p); err != nil {
		a.Logger.ErrorContext(r.Context(), "rendering page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = htmlType
	// A length rather than chunks: one write, and the client knows where
	// the page ends.
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// htmlType is the Content-Type of pages, shared by every response (net/http
// never writes into a header's values).
var htmlType = []string{"text/html; charset=utf-8"}

// initial is the letter an avatar shows: the name's first, upper case.
func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	if r == utf8.RuneError {
		return "?"
	}
	if r < utf8.RuneSelf {
		return asciiUpper[r]
	}
	return strings.ToUpper(string(r))
}

// asciiUpper holds each ASCII character upper-cased, as a string: most
// names start with one.
var asciiUpper = func() (t [utf8.RuneSelf]string) {
	for i := range t {
		t[i] = strings.ToUpper(string(rune(i)))
	}
	return t
}()

// avatarHue gives each username a stable colour: one of avatarHues
// classes in the style sheet (hue-0 …), each dark enough for white
// initials. (The content security policy allows no inline styles.)
func avatarHue(username string) int {
	h := fnv.New32a()
	h.Write([]byte(username))
	return int(h.Sum32() % avatarHues)
}

const avatarHues = 12

// postList writes a list of posts as HTML. Feeds and profiles show twenty
// at a time, and written here each costs a few string writes, where the
// same markup as template actions cost dozens of calls a post. Every
// value is escaped here (post.Render escapes the text itself), as the
// template would.
func (a *app) postList(posts []data.Post) template.HTML {
	var b strings.Builder
	b.Grow(len(posts) * 700)
	b.WriteString("<ol class=\"posts\">\n")
	for _, p := range posts {
		id := strconv.FormatInt(p.ID, 10)
		user := template.HTMLEscapeString(p.Username)
		b.WriteString(`<li class="post" id="post-` + id + "\">\n<div class=\"post-head\">\n")
		b.WriteString(`<span class="avatar-sm hue-` + strconv.Itoa(avatarHue(p.Username)) + `" aria-hidden="true">` +
			template.HTMLEscapeString(initial(p.DisplayName)) + "</span>\n")
		b.WriteString(`<a class="post-author" href="/u/` + user + `"><bdi>` + template.HTMLEscapeString(p.DisplayName) + "</bdi></a>\n")
		b.WriteString(`<span class="muted">@` + user + "</span>\n")
		b.WriteString(`<a class="post-time muted" href="/posts/` + id + `"><time datetime="` + p.CreatedAt.Format(time.RFC3339) + `">` +
			template.HTMLEscapeString(a.ago(p.CreatedAt)) + "</time></a>\n</div>\n")
		b.WriteString(`<div class="post-body" dir="auto">` + string(post.Render(p.Body)) + "</div>\n</li>\n")
	}
	b.WriteString("</ol>\n")
	return template.HTML(b.String())
}
